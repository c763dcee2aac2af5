#!/usr/bin/env bash
# Chevet developer entry point.
#   ./run.sh demo   create .venv on first use, seed a demo installation, serve on http://127.0.0.1:8000
#   ./run.sh test   run the whole test suite (CHEVET_TEST_WORKERS=N processes, 3 by default)
#   ./run.sh bench  run the benchmarks (see bench/README.md)
#   ./run.sh lint   ruff, mypy --strict and the import-layer contracts
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PY=$candidate; break
    fi
  done
fi
[ -n "$PY" ] || { echo "Chevet needs Python 3.11 or newer." >&2; exit 1; }

venv() {
  if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $PY…" >&2
    if ! "$PY" -m venv .venv; then
      rm -rf .venv
      echo "Could not create a virtual environment. On Debian or Ubuntu: sudo apt install python3-venv" >&2
      exit 1
    fi
  fi
  local stamp=.venv/.installed
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "Installing Chevet and its dependencies into .venv…" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip >&2
    .venv/bin/python -m pip install --quiet -e ".[test]" >&2
    touch "$stamp"
  fi
}

cmd=${1:-help}; shift || true
case "$cmd" in
  demo)
    venv
    exec .venv/bin/chevet demo --data-dir "${CHEVET_DEMO_DIR:-chevet-demo}" "$@" ;;
  test)
    # Three test processes by default: most tests wait on servers, browsers and mail, so three
    # share two cores well. CHEVET_TEST_WORKERS=0 runs in one process (needed for -s output).
    venv
    exec .venv/bin/python -m pytest -q -n "${CHEVET_TEST_WORKERS:-3}" --dist loadfile "$@" ;;
  bench)
    venv
    exec .venv/bin/python -m bench "$@" ;;
  lint)
    venv
    .venv/bin/ruff check src tests
    .venv/bin/mypy
    .venv/bin/lint-imports ;;
  *)
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

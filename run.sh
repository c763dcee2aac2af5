#!/usr/bin/env bash
# Chevet developer entry point.
#   ./run.sh demo   create .venv on first use (the product only), seed a demo installation in
#                   chevet-demo/ and serve on http://localhost:8000 (./run.sh demo --port 8080)
#   ./run.sh test   run the whole test suite (CHEVET_TEST_WORKERS=N processes, 3 by default)
#   ./run.sh bench  run the benchmarks (see bench/README.md)
#   ./run.sh lint   ruff, mypy --strict and the import-layer contracts
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PY=$candidate; break
    fi
  done
fi
[ -n "$PY" ] || { echo "Chevet needs Python 3.11 or newer." >&2; exit 1; }

# One stamp per level: "demo" installs only what the product needs; "test", "bench" and "lint"
# add the test toolchain (pytest, browsers' driver, linters) on top, so demo then test works.
venv() {
  local level=${1:-base}
  if [ ! -x .venv/bin/python ]; then
    echo "Création de .venv avec $PY…" >&2
    if ! "$PY" -m venv .venv; then
      rm -rf .venv
      echo "Impossible de créer l'environnement virtuel. Sous Debian ou Ubuntu : sudo apt install python3-venv" >&2
      exit 1
    fi
  fi
  local stamp=.venv/.installed-$level target=.
  [ "$level" = test ] && target=".[test]"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "Installation de Chevet ($level) dans .venv…" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip >&2
    .venv/bin/python -m pip install --quiet -e "$target" >&2
    touch "$stamp"
    [ "$level" = test ] && touch .venv/.installed-base
  fi
  return 0
}

cmd=${1:-help}; shift || true
case "$cmd" in
  demo)
    venv base
    exec .venv/bin/chevet demo --data-dir "${CHEVET_DEMO_DIR:-chevet-demo}" "$@" ;;
  test)
    # Three test processes by default: most tests wait on servers, browsers and mail, so three
    # share two cores well. CHEVET_TEST_WORKERS=0 runs in one process (needed for -s output).
    venv test
    exec .venv/bin/python -m pytest -q -n "${CHEVET_TEST_WORKERS:-3}" --dist loadfile "$@" ;;
  bench)
    venv test
    exec .venv/bin/python -m bench "$@" ;;
  lint)
    venv test
    .venv/bin/ruff check src tests
    .venv/bin/mypy
    .venv/bin/lint-imports ;;
  *)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

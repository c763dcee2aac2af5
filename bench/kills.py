"""Crash safety at scale: the SIGKILL trials of ``tests/security/test_crash_safety.py`` (20 kills
per database in CI) run here with many more kills (``--kills``, 100 by default). Senders keep
posting while the server is killed at random moments and restarted; afterwards every
acknowledged message must be present exactly once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/security/test_crash_safety.py::test_no_acknowledged_message_lost_or_duplicated"
LINE = re.compile(r"crash safety: (\d+) kills, (\d+) acknowledged, (\d+) lost, (\d+) duplicated")


def run_kills(db: str, kills: int, seed: int = 8) -> dict[str, Any]:
    """One run of ``kills`` SIGKILLs against a server on ``db``; the figures the test printed."""
    env = {**os.environ, "CHEVET_KILL_TRIALS": str(kills), "CHEVET_KILL_SEED": str(seed), "CI": "true"}
    started = time.monotonic()
    print(f"kill trials on {db}: {kills} SIGKILLs…", file=sys.stderr, flush=True)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", f"{TEST}[{db}]"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    found = LINE.search(done.stdout)
    if found is None:
        tail = (done.stdout + done.stderr)[-2000:]
        raise RuntimeError(f"the kill trials on {db} did not report their figures:\n{tail}")
    n, acked, lost, twice = (int(x) for x in found.groups())
    return {"database": db, "kills": n, "acknowledged": acked, "lost": lost, "duplicated": twice, "seed": seed,
            "passed": done.returncode == 0, "minutes": round((time.monotonic() - started) / 60, 1)}


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| database | SIGKILLs | acknowledged | lost | duplicated | passed | minutes |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['database']} | {r['kills']} | {r['acknowledged']} | {r['lost']} | {r['duplicated']} | "
              f"{'yes' if r['passed'] else 'NO'} | {r['minutes']} |" for r in rows]
    return "\n".join(lines)

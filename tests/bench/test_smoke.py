"""A small run of the load generator (a few hundred messages on SQLite), so that the benchmark
keeps working. Nothing here looks at speed: only that the figures exist and add up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_load_generator_smoke_run(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--scenario", "rest,team,idle,steady", "--db", "sqlite", "--members", "5",
         "--senders", "2", "--duration", "2", "--warmup", "0.5", "--connections", "40", "--size", "150",
         "--json", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "| db | proc | senders |" in run.stdout  # the table is printed
    data = json.loads(out.read_text())
    assert data["machine"]["cores"] and data["command"].startswith("./run.sh bench")

    [point] = data["conversation"]
    assert point["messages"] > 0 and point["receivers"] == 5
    # Every acknowledged message reached every live receiver, without errors.
    assert point["errors"] == {"http": 0, "connection": 0, "undelivered": 0, "stream_closed": 0}
    assert point["ack_ms"]["p50"] <= point["ack_ms"]["p99"]
    assert point["delivery_ms"]["p99"] is not None
    assert point["server_cpu_s_per_1k"] > 0 and point["wire_bytes_per_msg"] > 130

    [idle] = data["idle"]
    assert idle["connections"] == idle["live_on_server"] == 40 and idle["errors"] == 0

    [steady] = data["steady"]
    assert steady["messages"] == 150 and steady["errors"] == 0
    assert steady["db_bytes_per_msg"] > 130  # at least the sealed text itself
    assert steady["history_page_ms"]["p50"] is not None and steady["search_ms"]["p50"] is not None

    [rest] = data["rest"]
    assert rest["rss_at_rest_mib"] > 0


def test_chart_is_an_svg_of_the_measured_points(tmp_path: Path) -> None:
    from bench import report

    results = {"conversation": [
        {"database": "sqlite", "processes": 1, "senders": s, "receivers": 20, "throughput_msg_s": t,
         "delivery_ms": {"p50": 1, "p95": 2, "p99": p}} for s, t, p in [(1, 100, 20), (16, 150, 300)]]}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(results))
    svg = report.chart_from([path], "test")
    assert svg.startswith("<svg") and svg.count("<circle") == 4  # 2 points in each of the 2 panels
    assert "budget 100 ms" in svg and "http" not in svg.split("xmlns=")[1][60:]  # no external reference

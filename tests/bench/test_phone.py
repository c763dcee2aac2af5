"""The phone benchmark keeps working: its counting relay passes every byte unchanged and counts
them, its tables say "impossible" and "to be measured" where they must, the recorded "before"
run covers every task, and a short real run (Chromium) produces figures that add up. Nothing
here looks at speed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from bench import phone
from tests.browser.conftest import require_browser

ROOT = Path(__file__).resolve().parents[2]
BEFORE = ROOT / "docs" / "measurements" / "phone-before.json"


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1000):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _through_relay(shaped: bool) -> tuple[bytes, phone.Relay]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    relay = phone.Relay(server.sockets[0].getsockname()[1])
    relay.shaped = shaped
    if shaped:  # a fast link, so that the test stays short; the shaping code path still runs
        relay.links = {True: phone.Shaper(10_000_000, 0.001), False: phone.Shaper(10_000_000, 0.001)}
    await relay.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
    payload = bytes(range(256)) * 40  # 10,240 bytes, several relay chunks
    got = b""
    for i in range(0, len(payload), 1000):
        writer.write(payload[i:i + 1000])
        await writer.drain()
        got += await reader.readexactly(min(1000, len(payload) - i))
    writer.close()
    await writer.wait_closed()
    for _ in range(100):  # the relay closes its side once the echo server has
        if relay.up == relay.down == len(payload):
            break
        await asyncio.sleep(0.01)
    await relay.close()
    server.close()
    return got, relay


async def test_relay_passes_every_byte_and_counts_both_ways() -> None:
    for shaped in (False, True):
        got, relay = await _through_relay(shaped)
        expected = bytes(range(256)) * 40
        assert got == expected  # in order, unchanged
        assert relay.up == relay.down == len(expected)


def _result(tasks: list[dict[str, object]]) -> dict[str, object]:
    return {"tasks": tasks}


def test_tables_say_impossible_and_to_be_measured() -> None:
    done = {"task": "send_text", "possible": True, "path": "before", "note": "", "taps": 2, "taps_outside": 0,
            "typed": 40, "bytes": 2048, "bytes_up": 800, "bytes_down": 1248, "requests": 1, "seconds": 1.04,
            "seconds_all": [1.0, 1.04, 1.1]}
    voice = {"task": "voice", "possible": False, "note": "no voice recording in the composer"}
    signup = {**done, "task": "sign_up", "taps": 10, "taps_outside": 5}
    alone = phone.table(_result([done, voice]))
    assert "| Send a text (→ on the recipient's screen) | 2 | 40 | 2.0 kB | 1 | 1.0 |" in alone
    assert "| Voice message (→ player at the recipient) | impossible |" in alone
    waiting = phone.compare(_result([done, voice]), None)
    assert "| Send a text (→ on the recipient's screen) | 2 | to be measured | 2.0 kB | to be measured |" in waiting
    side = phone.compare(_result([done, voice]), _result([signup, {**done, "taps": 1}, {**voice, "possible": True,
                                                                                        **done, "task": "voice"}]))
    assert side.index("Sign up") < side.index("Send a text") < side.index("Voice")  # in the tasks' order
    assert "| Sign up (invitation link → list) | – | 10 + 5 outside |" in side
    assert "| Send a text (→ on the recipient's screen) | 2 | 1 |" in side
    assert "| Voice message (→ player at the recipient) | impossible | 2 | – | 2.0 kB |" in side
    assert "to be measured" not in side


def test_recorded_before_run_covers_every_task() -> None:
    data = json.loads(BEFORE.read_text())
    rows = {r["task"]: r for r in data["phone"]["tasks"]}
    assert set(rows) == set(phone.TASKS)
    assert data["phone"]["runs"] == 3 and data["phone"]["link"]["latency_ms"] == 400
    for name in ("voice", "notification_reply"):
        assert rows[name]["possible"] is False and rows[name]["note"]
    for r in rows.values():
        if r["possible"]:
            assert r["bytes"] == r["bytes_up"] + r["bytes_down"] > 0 and len(r["seconds_all"]) == 3
    assert rows["send_photo"]["bytes_up"] > data["phone"]["photo_bytes"]  # the whole photo went up
    assert len(rows["send_text"]["in_view"]) == 3  # whether the recipient saw it without scrolling


def test_short_phone_run_in_chromium(tmp_path: Path) -> None:
    require_browser()
    out = tmp_path / "phone.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    run = subprocess.run([sys.executable, "-m", "bench", "--scenario", "phone", "--runs", "1", "--tasks",
                          "sign_in,send_text,voice", "--json", str(out), "--before", str(BEFORE)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "## Daily tasks on a phone at 512 kbit/s / 400 ms" in run.stdout
    assert "| task | taps before | taps after |" in run.stdout
    rows = {r["task"]: r for r in json.loads(out.read_text())["phone"]["tasks"]}
    assert rows["sign_in"]["taps"] == 4 and rows["sign_in"]["typed"] > 6
    assert rows["send_text"]["taps"] == 2 and rows["send_text"]["bytes_up"] > rows["send_text"]["typed"]
    assert rows["voice"]["possible"] is False or rows["voice"]["taps"] >= 1

"""``--scenario attack``: unauthenticated hostile clients against one real ``chevet serve`` on
loopback, and the server's resident memory meanwhile (docs/hardening.md, "Limits of the
built-in server").

Phase 1, with the per-address cap raised so that every attacker is admitted (the worst case for
memory): ``--slowloris`` connections send their headers one byte per second, ``--huge``
connections push 1 MiB of headers each. RSS at rest, at its peak during the attack and after
it; how the server ended each connection (431 refused, 408 timed out, closed, still open).
Phase 2, with the default cap: ``--slowloris`` connections opened at once from one address;
how many were refused with 429. Bounded in count and in time (about 30 s), loopback only.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from bench import procstat
from bench.cluster import Cluster

HUGE_CHUNK = b"X-Big: " + b"a" * 8183 + b"\r\n"  # 8 KiB per header line
HUGE_TOTAL = 1 << 20
HEAD = b"GET /healthz HTTP/1.1\r\nHost: chevet\r\n"


async def _ending(reader: asyncio.StreamReader, wait: float) -> str:
    """How the server ended a connection: its status code, 'closed' without an answer, or
    'open' if it was still waiting after ``wait`` seconds."""
    try:
        data = await asyncio.wait_for(reader.read(64), wait)
    except TimeoutError:
        return "open"
    except ConnectionError:
        return "closed"
    return data[9:12].decode() if data.startswith(b"HTTP/1.1 ") else "closed"


async def _slowloris(port: int, seconds: float, results: Counter[str], peaks: list[int], pid: int) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        results["connect_failed"] += 1
        return
    ending = asyncio.ensure_future(_ending(reader, seconds + 5))
    writer.write(HEAD + b"X-Lent: ")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not ending.done():
        try:
            writer.write(b"a")
            await writer.drain()
        except ConnectionError:
            break
        await asyncio.sleep(1)
        peaks.append(procstat.sample([pid]).rss_bytes)
    results[await ending] += 1
    writer.close()


async def _huge(port: int, results: Counter[str]) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        results["connect_failed"] += 1
        return
    ending = asyncio.ensure_future(_ending(reader, 30))
    writer.write(HEAD)
    sent = 0
    try:
        while sent < HUGE_TOTAL and not ending.done():
            writer.write(HUGE_CHUNK)
            sent += len(HUGE_CHUNK)
            await writer.drain()
    except ConnectionError:
        pass
    results[await ending] += 1
    writer.close()


async def _phase_worst_case(port: int, pid: int, slowloris: int, huge: int, seconds: float) -> dict[str, Any]:
    slow_results: Counter[str] = Counter()
    huge_results: Counter[str] = Counter()
    peaks: list[int] = []
    tasks = [asyncio.ensure_future(_slowloris(port, seconds, slow_results, peaks, pid)) for _ in range(slowloris)]
    tasks += [asyncio.ensure_future(_huge(port, huge_results)) for _ in range(huge)]
    await asyncio.gather(*tasks)
    return {"slowloris": dict(slow_results), "huge_headers": dict(huge_results),
            "peak_rss_bytes": max(peaks, default=0)}


async def _phase_cap(port: int, count: int) -> dict[str, int]:
    results: Counter[str] = Counter()
    opened = []
    for _ in range(count):
        try:
            opened.append(await asyncio.open_connection("127.0.0.1", port))
        except OSError:
            results["connect_failed"] += 1
    endings = await asyncio.gather(*(_ending(reader, 2) for reader, _ in opened))
    results.update(endings)
    for _, writer in opened:
        writer.close()
    return dict(results)


def run_attack(slowloris: int, huge: int, seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {"slowloris_connections": slowloris, "huge_header_connections": huge,
                           "huge_header_bytes_each": HUGE_TOTAL, "attack_seconds": seconds}
    cluster = Cluster(env={"CHEVET_HTTP_MAX_CONNECTIONS_PER_ADDRESS": str(10 * (slowloris + huge))})
    try:
        cluster.create()
        cluster.start()
        [pid] = cluster.server_pids
        time.sleep(2)
        at_rest = procstat.sample([pid]).rss_bytes
        worst = asyncio.run(_phase_worst_case(cluster.ports[0], pid, slowloris, huge, seconds))
        time.sleep(2)
        after = procstat.sample([pid]).rss_bytes
        out.update({"rss_at_rest_mib": round(at_rest / 2**20, 1),
                    "rss_peak_under_attack_mib": round(max(worst.pop("peak_rss_bytes"), at_rest) / 2**20, 1),
                    "rss_after_mib": round(after / 2**20, 1), **worst})
    finally:
        cluster.destroy()
    capped = Cluster(env={"CHEVET_HTTP_MAX_CONNECTIONS_PER_ADDRESS": "64"})
    try:
        capped.create()
        capped.start()
        out["per_address_cap"] = 64
        out["cap_phase"] = asyncio.run(_phase_cap(capped.ports[0], slowloris))
    finally:
        capped.destroy()
    return out


def table(results: list[dict[str, Any]]) -> str:
    rows = ["| slowloris | huge headers | RSS at rest MiB | peak under attack MiB | after MiB | slowloris ended "
            "| huge headers ended | opened at once under the cap |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        def fmt(d: dict[str, int]) -> str:
            return ", ".join(f"{k}: {v}" for k, v in sorted(d.items()))
        rows.append(f"| {r['slowloris_connections']} | {r['huge_header_connections']} × 1 MiB | "
                    f"{r['rss_at_rest_mib']} | {r['rss_peak_under_attack_mib']} | {r['rss_after_mib']} | "
                    f"{fmt(r['slowloris'])} | {fmt(r['huge_headers'])} | "
                    f"{r['slowloris_connections']}, cap {r['per_address_cap']}: {fmt(r['cap_phase'])} |")
    return "\n".join(rows)

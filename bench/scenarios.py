"""The load scenarios: a care team or a team channel with live receivers and concurrent
senders, thousands of idle realtime connections, and a steady state with many stored messages.

Every scenario talks to real ``chevet serve`` processes over loopback, from this process (the
client), and reads the servers' and the database's costs from /proc and from the database.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from bench import dbstats, procstat, texts
from bench.cluster import Cluster, Login
from bench.wire import HttpConnection, Receiver, since_param
from chevet.core.ids import message_id


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50/p95/p99 in milliseconds (nearest rank)."""
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99)}


@dataclass
class Costs:
    """Server, database and client counters at one instant."""

    server: procstat.Sample
    database: procstat.Sample
    client: procstat.Sample
    wal: dict[str, int] = field(default_factory=dict)


async def costs(cluster: Cluster) -> Costs:
    db_pids = procstat.pids_named("postgres") if cluster.database == "postgres" else []
    wal = await dbstats.pg_wal(cluster.database_url) if cluster.database_url else {}
    return Costs(procstat.sample(cluster.server_pids), procstat.sample(db_pids), procstat.sample([os.getpid()]), wal)


def cost_figures(cluster: Cluster, before: Costs, after: Costs, messages: int, seconds: float) -> dict[str, Any]:
    per_k = 1000 / messages if messages else 0.0
    server, db, client = after.server - before.server, after.database - before.database, after.client - before.client
    out: dict[str, Any] = {
        "server_cpu_s_per_1k": round(server.cpu_s * per_k, 3),
        "server_cpu_util": round(server.cpu_s / seconds, 2),
        "db_cpu_s_per_1k": round(db.cpu_s * per_k, 3) if cluster.database == "postgres" else None,
        "client_cpu_util": round(client.cpu_s / seconds, 2),
        "server_rss_mib": round(after.server.rss_bytes / 2**20, 1),
        "db_rss_mib": round(after.database.rss_bytes / 2**20, 1) if cluster.database == "postgres" else None,
        # What the client process wrote to and read from its sockets (TCP payload, both ways).
        "wire_bytes_per_msg": round((client.rchar + client.wchar) / messages) if messages else None,
        # The machine is shared: how busy it was at the end of the window (1-minute load average).
        "load_average": round(os.getloadavg()[0], 1),
    }
    if after.wal:
        out["wal_bytes_per_msg"] = round((after.wal["lsn"] - before.wal["lsn"]) / messages) if messages else None
        out["wal_syncs_per_msg"] = round((after.wal["syncs"] - before.wal["syncs"]) / messages, 2) if messages else None
    else:
        # SQLite: what the server process wrote to storage (WAL appends and checkpoints).
        out["wal_bytes_per_msg"] = round(server.write_bytes / messages) if messages else None
        out["wal_syncs_per_msg"] = None
    return out


def ws_base(cluster: Cluster, i: int) -> str:
    return cluster.url(i).replace("http://", "ws://")


async def open_receivers(cluster: Cluster, logins: list[Login], cursors: dict[uuid.UUID, int],
                         on_message: Any, compression: str | None, batch: int = 100) -> list[Receiver]:
    since = since_param(cursors)
    receivers = [Receiver(ws_base(cluster, i), login.token, since, on_message, compression=compression)
                 for i, login in enumerate(logins)]
    for start in range(0, len(receivers), batch):
        await asyncio.gather(*(r.start() for r in receivers[start:start + batch]))
    return receivers


async def conversation_load(cluster: Cluster, logins: list[Login], conv: dict[str, Any], *, senders: int,
                            duration: float, warmup: float, compression: str | None = "deflate",
                            receivers: int | None = None) -> dict[str, Any]:
    """Closed-loop senders (each sends, waits for the acknowledgement, sends again) into one
    conversation whose members all listen on the stream."""
    conv_id = uuid.UUID(conv["id"])
    sent_at: dict[str, float] = {}
    deliveries: list[float] = []
    listening = logins[:receivers] if receivers else logins

    def on_message(mid: str, arrival: float) -> None:
        t0 = sent_at.get(mid)
        if t0 is not None:
            deliveries.append(arrival - t0)

    async with httpx.AsyncClient(base_url=cluster.url(), timeout=30,
                                 headers={"Authorization": f"Bearer {logins[0].token}"}) as api:
        last_seq = (await api.get(f"/api/v1/conversations/{conv_id}")).json()["last_seq"]
    recv = await open_receivers(cluster, listening, {conv_id: last_seq}, on_message, compression)
    measuring = False
    stop = False
    acks: list[float] = []
    errors = {"http": 0, "connection": 0}
    rng = random.Random(7)
    bodies = [texts.message(rng) for _ in range(512)]

    async def sender(i: int) -> None:
        login = logins[i % len(logins)]
        port = cluster.ports[i % len(cluster.ports)]
        conn = HttpConnection("127.0.0.1", port, login.token)
        path = f"/api/v1/conversations/{conv_id}/messages"
        n = 0
        while not stop:
            n += 1
            client_id = f"s{i}-{n}-{uuid.uuid4().hex[:8]}"
            mid = str(message_id(conv_id, login.person_id, client_id))
            body = orjson.dumps({"body": bodies[n % len(bodies)], "client_id": client_id})
            counted = measuring
            start = time.perf_counter()
            if counted:
                sent_at[mid] = start
            try:
                status, _ = await conn.request("POST", path, body)
            except (OSError, asyncio.IncompleteReadError):
                errors["connection"] += 1 if counted else 0
                sent_at.pop(mid, None)
                await asyncio.sleep(0.05)
                continue
            if counted:
                if status == 201:
                    acks.append(time.perf_counter() - start)
                else:
                    errors["http"] += 1
                    sent_at.pop(mid, None)
        await conn.close()

    tasks = [asyncio.create_task(sender(i)) for i in range(senders)]
    await asyncio.sleep(warmup)
    before = await costs(cluster)
    t_start = time.perf_counter()
    measuring = True
    await asyncio.sleep(duration)
    measuring = False
    elapsed = time.perf_counter() - t_start
    after = await costs(cluster)
    count = len(acks)
    stop = True
    await asyncio.gather(*tasks)
    expected = count * len(recv)
    deadline = time.monotonic() + 15
    while len(deliveries) < expected and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a count
        await asyncio.sleep(0.1)
    ws_errors = sum(r.errors for r in recv)
    for r in recv:
        await r.stop()
    result: dict[str, Any] = {
        "senders": senders, "receivers": len(recv), "processes": len(cluster.ports), "seconds": round(elapsed, 1),
        "messages": count, "throughput_msg_s": round(count / elapsed, 1),
        "ack_ms": percentiles(acks), "delivery_ms": percentiles(deliveries),
        "errors": {**errors, "undelivered": max(0, expected - len(deliveries)), "stream_closed": ws_errors},
    }
    result.update(cost_figures(cluster, before, after, count, elapsed))
    return result


async def idle_connections(cluster: Cluster, logins: list[Login], compression: str | None,
                           warm: int = 100) -> dict[str, Any]:
    """Memory per idle realtime connection: the server's RSS growth from ``warm`` to all."""
    def ignore(_mid: str, _t: float) -> None:
        return None

    first = await open_receivers(cluster, logins[:warm], {}, ignore, compression)
    await asyncio.sleep(2)
    rss_warm = procstat.sample(cluster.server_pids).rss_bytes
    anon_warm = sum(procstat.rss_anon(p) for p in cluster.server_pids)
    t0 = time.perf_counter()
    rest = await open_receivers(cluster, logins[warm:], {}, ignore, compression)
    opened = time.perf_counter() - t0
    await asyncio.sleep(3)
    rss_all = procstat.sample(cluster.server_pids).rss_bytes
    anon_all = sum(procstat.rss_anon(p) for p in cluster.server_pids)
    async with httpx.AsyncClient(timeout=30) as c:
        live = sum([(await c.get(f"{cluster.url(i)}/healthz")).json()["realtime_connections"]
                    for i in range(len(cluster.ports))])
    receivers = first + rest
    errors = sum(r.errors for r in receivers)
    added = len(rest)
    for start in range(0, len(receivers), 500):
        await asyncio.gather(*(r.stop() for r in receivers[start:start + 500]))
    return {"connections": len(receivers), "live_on_server": live, "errors": errors,
            "compression": compression or "none", "open_seconds": round(opened, 1),
            "server_rss_mib": round(rss_all / 2**20, 1),
            "bytes_per_connection": round((rss_all - rss_warm) / added) if added else None,
            "anon_bytes_per_connection": round((anon_all - anon_warm) / added) if added else None}


async def steady_state(cluster: Cluster, logins: list[Login], conv: dict[str, Any], *, size: int,
                       senders: int = 16, samples: int = 200, fill_via: str = "api") -> dict[str, Any]:
    """Fill a conversation to ``size`` messages, then measure the database bytes per message
    after vacuum/checkpoint and the latency of history pages and searches over the API.

    ``fill_via="app"`` sends through the application layer in this process (the same action,
    transaction, audit entry and search terms, without HTTP and the stream): several times
    faster on a small machine, for filling 100,000 messages in minutes."""
    conv_id = uuid.UUID(conv["id"])
    size_before = await _db_size(cluster)
    rng = random.Random(11)
    bodies = [texts.message(rng) for _ in range(997)]
    remaining = size
    errors = 0

    async def fill(i: int) -> None:
        nonlocal remaining, errors
        login = logins[i % len(logins)]
        conn = HttpConnection("127.0.0.1", cluster.ports[i % len(cluster.ports)], login.token)
        path = f"/api/v1/conversations/{conv_id}/messages"
        while remaining > 0:
            remaining -= 1
            body = orjson.dumps({"body": bodies[remaining % len(bodies)], "client_id": uuid.uuid4().hex})
            try:
                status, _ = await conn.request("POST", path, body)
            except (OSError, asyncio.IncompleteReadError):
                status = 0
            if status != 201:
                errors += 1
        await conn.close()

    async def fill_app() -> None:
        nonlocal remaining
        from chevet.app.messaging import messages
        from chevet.app.services import Actor
        from chevet.bootstrap import open_installation
        from chevet.settings import load_settings

        inst = open_installation(load_settings(cluster.data_dir, environ=cluster.server_env()), with_bus=False)
        svc = inst.services
        try:
            actors = []
            async with svc.db.transaction() as tx:
                org = await tx.organisations.by_slug(cluster.org_slug)
                assert org is not None
                for login in logins:
                    person = await tx.people.get(org.id, login.person_id)
                    assert person is not None
                    actors.append(Actor(person, org, None, "127.0.0.1"))

            async def one(i: int) -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    await messages.send_message(svc, actors[i % len(actors)], conv_id,
                                                body=bodies[remaining % len(bodies)], client_id=uuid.uuid4().hex)

            await asyncio.gather(*(one(i) for i in range(senders)))
        finally:
            await inst.close()

    before = await costs(cluster)
    t0 = time.perf_counter()
    if fill_via == "app":
        await fill_app()
    else:
        await asyncio.gather(*(fill(i) for i in range(senders)))
    fill_s = time.perf_counter() - t0
    after = await costs(cluster)
    fill_costs = cost_figures(cluster, before, after, size, fill_s)
    size_after = await _db_size(cluster)
    per_table = {k: round((size_after["tables"].get(k, 0) - size_before["tables"].get(k, 0)) / size, 1)
                 for k in size_after["tables"]}
    stored = size + 1
    history: list[float] = []
    searches: list[float] = []
    conn = HttpConnection("127.0.0.1", cluster.ports[0], logins[0].token)
    for _ in range(samples):
        before_seq = rng.randint(60, stored)
        t = time.perf_counter()
        status, _ = await conn.request("GET", f"/api/v1/conversations/{conv_id}/messages?before_seq={before_seq}"
                                              f"&limit=50")
        history.append(time.perf_counter() - t)
        errors += status != 200
    for _ in range(max(20, samples // 4)):
        word = rng.choice(texts.SEARCH_WORDS)
        t = time.perf_counter()
        status, _ = await conn.request("GET", f"/api/v1/search?q={quote(word)}&limit=20")
        searches.append(time.perf_counter() - t)
        errors += status != 200
    await conn.close()
    return {"messages": size, "fill_via": fill_via, "fill_seconds": round(fill_s, 1),
            "fill_msg_s": round(size / fill_s, 1),
            "errors": errors, "db_bytes_before": size_before["bytes"], "db_bytes_after": size_after["bytes"],
            "db_bytes_per_msg": round((size_after["bytes"] - size_before["bytes"]) / size, 1),
            "db_bytes_per_msg_by_table": per_table,
            "history_page_ms": percentiles(history), "search_ms": percentiles(searches),
            "fill_costs": fill_costs}


async def _db_size(cluster: Cluster) -> dict[str, Any]:
    if cluster.database == "postgres":
        assert cluster.database_url is not None
        return await dbstats.pg_size(cluster.database_url)
    return dbstats.sqlite_size(cluster.sqlite_path)

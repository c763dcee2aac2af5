"""The bus (Redis) goes away and comes back: what was committed meanwhile, lost by pub/sub,
reaches every open stream from the database, exactly once and in order, with nothing else
sent. A private ``redis-server`` on its own loopback port is killed and restarted (the shared
one is not touched)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.support import (
    IN_CI,
    PrivateRedis,
    Server,
    create_pg_database,
    drop_pg_database,
    login,
    new_installation,
    new_member,
    new_org,
    pg_available,
)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    r = PrivateRedis(tmp_path)
    try:
        yield r
    finally:
        r.kill()


async def _recv(ws: websockets.ClientConnection, what: str, timeout: float = 30) -> dict[str, Any]:
    try:
        msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    except TimeoutError:
        raise AssertionError(f"no frame within {timeout:.0f} s: waiting for {what}") from None
    return msg


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_streams_catch_up_from_the_database_when_the_bus_returns(tmp_path: Path, backend: str,
                                                                       private_redis: PrivateRedis) -> None:
    if backend == "postgres" and not pg_available():
        if IN_CI:
            pytest.fail("PostgreSQL is required in CI")
        pytest.skip("PostgreSQL not reachable")
    db_url = await create_pg_database() if backend == "postgres" else None
    inst = await new_installation(tmp_path / "data", db_url, bus__redis_url=private_redis.url)
    try:
        svc = inst.services
        org = await new_org(svc)
        nurse, doc = await new_member(svc, org, "nurse"), await new_member(svc, org, "physician")
        server = Server(inst.settings, {"CHEVET_REDIS_URL": private_redis.url})
        try:
            h = {"Authorization": f"Bearer {login(server.url, nurse)}"}
            dt = login(server.url, doc)
            conv = httpx.post(f"{server.url}/api/v1/conversations", headers=h,
                              json={"kind": "group", "title": "Panne", "member_ids": [str(doc.id)]}).json()["id"]
            async with websockets.connect(f"{server.ws_url}/api/v1/stream?token={dt}") as ws:
                await _recv(ws, "hello")
                await ws.send(json.dumps({"type": "resume", "cursors": {conv: 1}}))
                assert (await _recv(ws, "ready"))["type"] == "ready"
                private_redis.kill()
                for i in range(4):  # committed while the bus is down (the acknowledgement may fail)
                    try:
                        httpx.post(f"{server.url}/api/v1/conversations/{conv}/messages", headers=h, timeout=30,
                                   json={"body": f"pendant la panne {i}", "client_id": f"p{i}"})
                    except httpx.HTTPError:
                        pass
                history = httpx.get(f"{server.url}/api/v1/conversations/{conv}/messages", headers=h).json()
                committed = sorted(m["seq"] for m in history if str(m.get("body")).startswith("pendant"))
                assert len(committed) == 4
                private_redis.start()
                # With no other send: the catch-up.
                got = [await _recv(ws, "the catch-up after the outage") for _ in committed]
                assert [e["seq"] for e in got] == committed
                assert [e["message"]["body"] for e in got] == [f"pendant la panne {i}" for i in range(4)]
                # Live again. The first publications on the bus's stale connections may still
                # fail (their acknowledgement is another matter); a later one reveals the gap,
                # which the stream fills from the database.
                for attempt in range(5):
                    r = httpx.post(f"{server.url}/api/v1/conversations/{conv}/messages", headers=h,
                                   json={"body": f"après la panne {attempt}", "client_id": f"q{attempt}"})
                    if r.status_code == 201:
                        break
                assert r.status_code == 201
                after = [await _recv(ws, f"the sends after the outage ({attempt + 1})") for _ in range(attempt + 1)]
                assert [e["seq"] for e in after] == list(range(committed[-1] + 1, r.json()["seq"] + 1))
                assert [e["message"]["body"] for e in after] == [f"après la panne {i}" for i in range(attempt + 1)]
                await ws.send(json.dumps({"type": "ping"}))
                assert (await _recv(ws, "pong"))["type"] == "pong"
        finally:
            server.stop()
    finally:
        await inst.close()
        if db_url is not None:
            await drop_pg_database(db_url)


async def test_a_publication_lost_while_the_bus_stays_up_still_reaches_the_streams(tmp_path: Path,
                                                                                  private_redis: PrivateRedis) -> None:
    """Redis stalls for longer than a publish may wait: the message is committed and answered,
    its publication lost, and the listener never disconnected. No other send follows: the
    stream must still get it, from the database, once Redis accepts publications again."""
    inst = await new_installation(tmp_path / "data", None, bus__redis_url=private_redis.url)
    try:
        svc = inst.services
        org = await new_org(svc)
        nurse, doc = await new_member(svc, org, "nurse"), await new_member(svc, org, "physician")
        server = Server(inst.settings, {"CHEVET_REDIS_URL": private_redis.url})
        try:
            h = {"Authorization": f"Bearer {login(server.url, nurse)}"}
            dt = login(server.url, doc)
            conv = httpx.post(f"{server.url}/api/v1/conversations", headers=h,
                              json={"kind": "group", "title": "Lenteur", "member_ids": [str(doc.id)]}).json()["id"]
            async with websockets.connect(f"{server.ws_url}/api/v1/stream?token={dt}") as ws:
                await _recv(ws, "hello")
                await ws.send(json.dumps({"type": "resume", "cursors": {conv: 1}}))
                assert (await _recv(ws, "ready"))["type"] == "ready"
                private_redis.pause_writes(5000)
                r = httpx.post(f"{server.url}/api/v1/conversations/{conv}/messages", headers=h, timeout=30,
                               json={"body": "publication perdue", "client_id": "lost"})
                assert r.status_code == 201
                ev = await _recv(ws, "the message whose publication was lost", timeout=40)
                assert (ev["seq"], ev["message"]["body"]) == (r.json()["seq"], "publication perdue")
        finally:
            server.stop()
    finally:
        await inst.close()


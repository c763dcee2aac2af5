"""The bus (Redis) goes away and comes back: what was committed meanwhile, lost by pub/sub,
reaches every open stream from the database, exactly once and in order, with nothing else
sent. A private ``redis-server`` on its own loopback port is killed and restarted (the shared
one is not touched)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
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


@dataclass
class Watched:
    """A running server on the private Redis, a nurse's headers, her conversation with a
    physician, and the physician's stream, open and resumed."""

    server: Server
    nurse: dict[str, str]
    conv: str
    ws: websockets.ClientConnection

    def send(self, body: str, client_id: str) -> httpx.Response:
        return httpx.post(f"{self.server.url}/api/v1/conversations/{self.conv}/messages", headers=self.nurse,
                          timeout=30, json={"body": body, "client_id": client_id})


@asynccontextmanager
async def _watched(tmp_path: Path, db_url: str | None, redis: PrivateRedis) -> AsyncIterator[Watched]:
    inst = await new_installation(tmp_path / "data", db_url, bus__redis_url=redis.url)
    try:
        svc = inst.services
        org = await new_org(svc)
        nurse, doc = await new_member(svc, org, "nurse"), await new_member(svc, org, "physician")
        server = Server(inst.settings, {"CHEVET_REDIS_URL": redis.url})
        try:
            h = {"Authorization": f"Bearer {login(server.url, nurse)}"}
            dt = login(server.url, doc)
            conv = httpx.post(f"{server.url}/api/v1/conversations", headers=h,
                              json={"kind": "group", "title": "Panne", "member_ids": [str(doc.id)]}).json()["id"]
            async with websockets.connect(f"{server.ws_url}/api/v1/stream?token={dt}") as ws:
                await _recv(ws, "hello")
                await ws.send(json.dumps({"type": "resume", "cursors": {conv: 1}}))
                assert (await _recv(ws, "ready"))["type"] == "ready"
                yield Watched(server, h, conv, ws)
        finally:
            server.stop()
    finally:
        await inst.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_streams_catch_up_from_the_database_when_the_bus_returns(tmp_path: Path, backend: str,
                                                                       private_redis: PrivateRedis) -> None:
    if backend == "postgres" and not pg_available():
        if IN_CI:
            pytest.fail("PostgreSQL is required in CI")
        pytest.skip("PostgreSQL not reachable")
    db_url = await create_pg_database() if backend == "postgres" else None
    try:
        async with _watched(tmp_path, db_url, private_redis) as w:
            private_redis.kill()
            for i in range(4):  # committed while the bus is down (the acknowledgement may fail)
                try:
                    w.send(f"pendant la panne {i}", f"p{i}")
                except httpx.HTTPError:
                    pass
            history = httpx.get(f"{w.server.url}/api/v1/conversations/{w.conv}/messages", headers=w.nurse).json()
            committed = sorted(m["seq"] for m in history if str(m.get("body")).startswith("pendant"))
            assert len(committed) == 4
            private_redis.start()
            # With no other send: the catch-up.
            got = [await _recv(w.ws, "the catch-up after the outage") for _ in committed]
            assert [e["seq"] for e in got] == committed
            assert [e["message"]["body"] for e in got] == [f"pendant la panne {i}" for i in range(4)]
            # Live again. A first publication may still be lost on the bus's stale connection
            # (answered all the same): the gap frame that follows, or the next send, brings it
            # from the database.
            for attempt in range(5):
                r = w.send(f"après la panne {attempt}", f"q{attempt}")
                if r.status_code == 201:
                    break
            assert r.status_code == 201
            after = [await _recv(w.ws, f"the sends after the outage ({attempt + 1})") for _ in range(attempt + 1)]
            assert [e["seq"] for e in after] == list(range(committed[-1] + 1, r.json()["seq"] + 1))
            assert [e["message"]["body"] for e in after] == [f"après la panne {i}" for i in range(attempt + 1)]
            await w.ws.send(json.dumps({"type": "ping"}))
            assert (await _recv(w.ws, "pong"))["type"] == "pong"
    finally:
        if db_url is not None:
            await drop_pg_database(db_url)


async def test_a_publication_lost_while_the_bus_stays_up_still_reaches_the_streams(tmp_path: Path,
                                                                                  private_redis: PrivateRedis) -> None:
    """Redis stalls for longer than a publish may wait: the message is committed and answered,
    its publication lost, and the listener never disconnected. No other send follows: the
    stream must still get it, from the database, once Redis accepts publications again."""
    async with _watched(tmp_path, None, private_redis) as w:
        private_redis.pause_writes(5000)
        r = w.send("publication perdue", "lost")
        assert r.status_code == 201
        ev = await _recv(w.ws, "the message whose publication was lost", timeout=40)
        assert (ev["seq"], ev["message"]["body"]) == (r.json()["seq"], "publication perdue")

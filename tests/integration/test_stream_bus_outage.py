"""The bus (Redis) goes away and comes back: what was committed meanwhile, lost by pub/sub,
reaches every open stream from the database, exactly once and in order, with nothing else
sent. A private ``redis-server`` on its own loopback port is killed and restarted (the shared
one is not touched)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.support import (
    IN_CI,
    Server,
    create_pg_database,
    drop_pg_database,
    free_port,
    login,
    new_installation,
    new_member,
    new_org,
    pg_available,
)


class PrivateRedis:
    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir = port, workdir
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                import socket

                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        if IN_CI:
            pytest.fail("redis-server is required in CI")
        pytest.skip("redis-server not installed")
    r = PrivateRedis(free_port(), tmp_path)
    r.start()
    try:
        yield r
    finally:
        r.kill()


async def _recv(ws: websockets.ClientConnection, timeout: float = 20) -> dict[str, Any]:
    msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return msg


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_streams_catch_up_from_the_database_when_the_bus_returns(tmp_path: Path, backend: str,
                                                                       private_redis: PrivateRedis) -> None:
    if backend == "postgres" and not pg_available():
        if IN_CI:
            pytest.fail("PostgreSQL is required in CI")
        pytest.skip("PostgreSQL not reachable")
    db_url = await create_pg_database() if backend == "postgres" else None
    inst = await new_installation(tmp_path / "data", db_url, redis_url=private_redis.url)
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
                await _recv(ws)
                await ws.send(json.dumps({"type": "resume", "cursors": {conv: 1}}))
                assert (await _recv(ws))["type"] == "ready"
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
                got = [await _recv(ws) for _ in committed]  # with no other send: the catch-up
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
                after = [await _recv(ws) for _ in range(attempt + 1)]
                assert [e["seq"] for e in after] == list(range(committed[-1] + 1, r.json()["seq"] + 1))
                assert [e["message"]["body"] for e in after] == [f"après la panne {i}" for i in range(attempt + 1)]
                await ws.send(json.dumps({"type": "ping"}))
                assert (await _recv(ws))["type"] == "pong"
        finally:
            server.stop()
    finally:
        await inst.close()
        if db_url is not None:
            await drop_pg_database(db_url)

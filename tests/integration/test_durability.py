"""An acknowledged message survives ``kill -9`` of the server in the middle of a burst of
sends, once and only once, with the transaction queueing and statement caching in place."""

from __future__ import annotations

import asyncio

import httpx

from chevet.bootstrap import Installation
from tests.support import Server, login, new_member, new_org


async def test_acknowledged_messages_survive_kill_9(installation: Installation, server: Server) -> None:
    svc = installation.services
    org = await new_org(svc)
    people = [await new_member(svc, org, "nurse") for _ in range(3)]
    tokens = [login(server.url, p) for p in people]
    auth = [{"Authorization": f"Bearer {t}"} for t in tokens]
    conv = httpx.post(f"{server.url}/api/v1/conversations", headers=auth[0], json={
        "kind": "group", "title": "Nuit", "member_ids": [str(p.id) for p in people[1:]]}).json()
    path = f"/api/v1/conversations/{conv['id']}/messages"
    acked: dict[str, tuple[int, str]] = {}
    killed = asyncio.Event()

    async def sender(i: int, client: httpx.AsyncClient) -> None:
        n = 0
        while not killed.is_set():
            n += 1
            client_id = f"k{i}-{n}"
            try:
                r = await client.post(path, headers=auth[i % 3], json={"body": f"relève {i}-{n}",
                                                                         "client_id": client_id})
            except httpx.HTTPError:
                return
            if r.status_code == 201:
                acked[r.json()["id"]] = (i % 3, client_id)
            if len(acked) >= 60 and not killed.is_set():
                server.proc.kill()  # SIGKILL: no shutdown, no flush
                killed.set()

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        await asyncio.gather(*(sender(i, client) for i in range(12)))
    server.proc.wait()
    server.stop()

    again = Server(installation.settings)
    try:
        got = httpx.get(f"{again.url}{path}", headers={"Authorization": f"Bearer {login(again.url, people[0], 1)}"},
                        params={"limit": 200}).json()
        ids = [m["id"] for m in got if "body" in m]
        assert set(acked) <= set(ids), "an acknowledged message was lost"
        assert len(ids) == len(set(ids))
        seqs = [m["seq"] for m in got]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
        # Re-sending an acknowledged message after the restart creates nothing.
        mid, (who, client_id) = next(iter(acked.items()))
        r = httpx.post(f"{again.url}{path}", headers=auth[who], json={"body": "relève", "client_id": client_id})
        assert r.status_code == 201 and r.headers.get("Idempotent-Replayed") == "true"
        assert r.json()["id"] == mid
    finally:
        again.stop()

"""The core issue's acceptance scenario, end to end over HTTP and WebSocket on a real server:
a nurse signs in with password + TOTP, opens a care case with the physician, sends a message
that the physician's open stream receives at once, finds it with search, and no byte of the
text is readable under the data directory (SQLite) or in a dump of the database (PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid

import httpx
import websockets

from chevet.bootstrap import Installation
from tests.support import Server, login, new_member, new_org

SECRET_TEXT = "Mme Zéphyrine Quatrefages chute nocturne hématome frontal"


async def _next_of_type(ws: websockets.ClientConnection, kind: str, timeout: float = 10) -> dict:
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if msg.get("type") == kind:
            return msg


async def test_nurse_to_physician_care_case(installation: Installation, server: Server) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-test")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    physician = await new_member(svc, org, "physician", "Paul Lefèvre")
    nurse_token = login(server.url, nurse)
    doc_token = login(server.url, physician)
    auth = {"Authorization": f"Bearer {nurse_token}"}

    me = httpx.get(f"{server.url}/api/v1/me", headers=auth).json()
    assert me["role"] == "nurse" and me["organisation"]["slug"] == "ehpad-test"

    r = httpx.post(f"{server.url}/api/v1/conversations", headers=auth, json={
        "kind": "care_case", "title": "Suivi chambre 12", "member_ids": [str(physician.id)],
        "care_case_ref": "CH12-R"})
    assert r.status_code == 201, r.text
    conv = r.json()

    async with websockets.connect(f"{server.ws_url}/api/v1/stream",
                                  additional_headers={"Authorization": f"Bearer {doc_token}"}) as ws:
        await _next_of_type(ws, "ready")
        r = httpx.post(f"{server.url}/api/v1/conversations/{conv['id']}/messages", headers=auth,
                       json={"body": SECRET_TEXT, "client_id": "c-1", "urgent": True})
        assert r.status_code == 201, r.text
        sent = r.json()
        event = await _next_of_type(ws, "message")
        assert event["message"]["body"] == SECRET_TEXT
        assert event["message"]["urgent"] is True
        assert event["seq"] == sent["seq"] and event["conversation_id"] == conv["id"]

    found = httpx.get(f"{server.url}/api/v1/search", params={"q": "quatrefages hématomes"},
                      headers={"Authorization": f"Bearer {doc_token}"}).json()
    assert [m["id"] for m in found] == [sent["id"]]

    async with installation.services.db.transaction() as tx:
        traces = [(e.action, e.detail.get("via")) for e in
                  await tx.audit.query(org.id, object_id=uuid.UUID(conv["id"]), actor_id=physician.id)]
    assert ("care_case.read", "stream_live") in traces  # the physician's live read is traced

    needles = [w.encode() for w in ("Zéphyrine", "Quatrefages", "hématome", "Suivi chambre", "CH12-R")]
    if installation.settings.database.url is None:  # while running: database, WAL and logs
        for path in installation.settings.data_dir.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert not any(n in data for n in needles), path.name

    server.stop()
    needles = [w.encode() for w in ("Zéphyrine", "Quatrefages", "hématome", "Suivi chambre", "CH12-R")]
    if installation.settings.database.url is None:
        for path in installation.settings.data_dir.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for needle in needles:
                    assert needle not in data, f"{needle!r} readable in {path.name}"
    else:
        dump = subprocess.run(["pg_dump", "--data-only", installation.settings.database.url],
                              capture_output=True, check=True).stdout
        assert b"COPY public.entry" in dump
        for needle in needles:
            assert needle not in dump

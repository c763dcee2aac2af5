"""The realtime stream over a real WebSocket: live delivery, resume after a disconnect with
every missed event exactly once and in order per conversation, and two server processes on
one PostgreSQL and one Redis (an event, and a sign-out, made on one reach the other's streams)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import httpx
import orjson
import pytest
import websockets

from chevet.bootstrap import Installation
from tests.support import (
    REDIS_URL,
    Server,
    create_pg_database,
    drop_pg_database,
    login,
    new_installation,
    new_member,
    new_org,
)


async def _recv(ws: websockets.ClientConnection, timeout: float = 10) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def _until(ws: websockets.ClientConnection, kind: str, timeout: float = 10) -> tuple[list[dict], dict]:
    seen = []
    while True:
        msg = await _recv(ws, timeout)
        if msg.get("type") == kind:
            return seen, msg
        seen.append(msg)


def _send(url: str, token: str, conv: str, body: str, client_id: str) -> dict:
    r = httpx.post(f"{url}/api/v1/conversations/{conv}/messages", headers={"Authorization": f"Bearer {token}"},
                   json={"body": body, "client_id": client_id})
    assert r.status_code == 201, r.text
    return r.json()


def _since(cursors: dict[str, int]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(cursors)).decode().rstrip("=")


async def test_resume_delivers_every_missed_event_exactly_once_in_order(installation: Installation,
                                                                        server: Server) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse, doc = await new_member(svc, org, "nurse"), await new_member(svc, org, "physician")
    nt, dt = login(server.url, nurse), login(server.url, doc)
    h = {"Authorization": f"Bearer {nt}"}
    conv = httpx.post(f"{server.url}/api/v1/conversations", headers=h,
                      json={"kind": "group", "title": "Nuit", "member_ids": [str(doc.id)]}).json()["id"]

    cursors: dict[str, int] = {}
    async with websockets.connect(f"{server.ws_url}/api/v1/stream?token={dt}") as ws:
        await _recv(ws)  # hello
        await ws.send(json.dumps({"type": "resume", "cursors": {}}))
        replay, ready = await _until(ws, "ready")
        assert [e["type"] for e in replay] == ["conversation.created"]
        cursors.update(ready["cursors"])
        first = _send(server.url, nt, conv, "avant coupure", "m0")
        live = await _recv(ws)
        assert live["seq"] == first["seq"]
        cursors[conv] = live["seq"]

    # while the physician is offline: messages, an edit, a deletion, and a new conversation
    missed = [_send(server.url, nt, conv, f"pendant coupure {i}", f"m{i + 1}") for i in range(5)]
    httpx.patch(f"{server.url}/api/v1/conversations/{conv}/messages/{missed[0]['id']}", headers=h,
                json={"body": "pendant coupure 0 (corrigé)"}).raise_for_status()
    httpx.delete(f"{server.url}/api/v1/conversations/{conv}/messages/{missed[1]['id']}",
                 headers=h).raise_for_status()
    other = httpx.post(f"{server.url}/api/v1/conversations", headers=h,
                       json={"kind": "care_case", "member_ids": [str(doc.id)], "care_case_ref": "CH4"}).json()["id"]
    _send(server.url, nt, other, "nouveau dossier", "o1")

    async with websockets.connect(f"{server.ws_url}/api/v1/stream?since={_since(cursors)}",
                                  additional_headers={"Authorization": f"Bearer {dt}"}) as ws:
        replay, ready = await _until(ws, "ready")
        per_conv: dict[str, list[int]] = {}
        for e in replay:
            per_conv.setdefault(e["conversation_id"], []).append(e["seq"])
        assert per_conv[conv] == list(range(cursors[conv] + 1, cursors[conv] + 8))  # 5 sends, 1 edit, 1 delete
        assert [e["type"] for e in replay if e["conversation_id"] == conv][-2:] == ["message.edited",
                                                                                    "message.deleted"]
        assert per_conv[other] == [1, 2]  # a conversation new to the client comes from its start
        assert ready["cursors"][conv] == cursors[conv] + 7
        # and live again, with nothing repeated
        extra = _send(server.url, nt, conv, "après reprise", "m9")
        assert (await _recv(ws))["seq"] == extra["seq"] == cursors[conv] + 8


async def test_stream_refuses_bad_credentials_and_cursors(installation: Installation, server: Server) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    async with websockets.connect(f"{server.ws_url}/api/v1/stream?token=forged") as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await _recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    token = login(server.url, nurse)
    async with websockets.connect(f"{server.ws_url}/api/v1/stream?token={token}&since=%%%") as ws:
        assert (await _recv(ws))["code"] == "cursors_invalid"
    # the session cookie is only accepted from the same origin (no cross-site WebSocket hijacking)
    async with websockets.connect(f"{server.ws_url}/api/v1/stream", origin="http://evil.example",
                                  additional_headers={"Cookie": f"chevet_session={token}"}) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await _recv(ws)


async def test_a_removed_member_stops_receiving(installation: Installation, server: Server) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse, aide = await new_member(svc, org, "nurse"), await new_member(svc, org, "care_assistant")
    nt, at = login(server.url, nurse), login(server.url, aide)
    h = {"Authorization": f"Bearer {nt}"}
    conv = httpx.post(f"{server.url}/api/v1/conversations", headers=h,
                      json={"kind": "group", "title": "Jour", "member_ids": [str(aide.id)]}).json()["id"]
    async with websockets.connect(f"{server.ws_url}/api/v1/stream?token={at}") as ws:
        await _recv(ws)
        await ws.send(json.dumps({"type": "live"}))
        await _until(ws, "ready")
        httpx.delete(f"{server.url}/api/v1/conversations/{conv}/members/{aide.id}", headers=h).raise_for_status()
        assert (await _recv(ws))["type"] == "member.removed"
        _send(server.url, nt, conv, "après départ", "x1")
        await ws.send(json.dumps({"type": "ping"}))
        assert (await _recv(ws))["type"] == "pong"  # and not the message


@pytest.mark.usefixtures("pg_required", "redis_required")
async def test_two_processes_share_events_through_redis(tmp_path: Path) -> None:
    url = await create_pg_database()
    inst = await new_installation(tmp_path / "data", url, bus__redis_url=REDIS_URL)
    try:
        svc = inst.services
        org = await new_org(svc)
        nurse, doc = await new_member(svc, org, "nurse"), await new_member(svc, org, "physician")
        env = {"CHEVET_REDIS_URL": REDIS_URL, "CHEVET_SESSION_CACHE_SECONDS": "0"}
        a, b = Server(inst.settings, env), Server(inst.settings, env)
        try:
            nt, dt = login(a.url, nurse), login(b.url, doc)
            conv = httpx.post(f"{a.url}/api/v1/conversations", headers={"Authorization": f"Bearer {nt}"},
                              json={"kind": "group", "title": "Deux serveurs",
                                    "member_ids": [str(doc.id)]}).json()["id"]
            async with websockets.connect(f"{b.ws_url}/api/v1/stream?token={dt}&since={_since({conv: 1})}") as ws:
                await _until(ws, "ready")
                sent = _send(a.url, nt, conv, "envoyé via A, reçu via B", "r1")
                event = await _recv(ws)
                assert event["type"] == "message" and event["seq"] == sent["seq"]
                assert event["message"]["body"] == "envoyé via A, reçu via B"
                # signed out through A: B closes the stream (4401) and sends nothing more
                httpx.post(f"{a.url}/api/v1/auth/logout",
                           headers={"Authorization": f"Bearer {dt}"}).raise_for_status()
                assert httpx.get(f"{b.url}/api/v1/me", headers={"Authorization": f"Bearer {dt}"}).status_code == 401
                _send(a.url, nt, conv, "après la déconnexion sur A", "r2")
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    while True:
                        assert (await _recv(ws)).get("message", {}).get("body") != "après la déconnexion sur A"
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        finally:
            a.stop()
            b.stop()
    finally:
        await inst.close()
        await drop_pg_database(url)


async def test_a_stream_that_does_not_resume_misses_nothing_committed_after_it_opened(
        installation: Installation, server: Server) -> None:
    """A new client that stays silent, or says something other than a resume, during the
    resume window still receives what was committed in that window, and ``ready`` says so."""
    svc = installation.services
    org = await new_org(svc)
    nurse, doc = await new_member(svc, org, "nurse"), await new_member(svc, org, "physician")
    nt, dt = login(server.url, nurse), login(server.url, doc)
    conv = httpx.post(f"{server.url}/api/v1/conversations", headers={"Authorization": f"Bearer {nt}"},
                      json={"kind": "group", "title": "Relève", "member_ids": [str(doc.id)]}).json()["id"]
    for i, first_frame in enumerate((None, {"type": "live"}, {"type": "ping"})):
        async with websockets.connect(f"{server.ws_url}/api/v1/stream?token={dt}") as ws:
            assert (await _recv(ws))["type"] == "hello"
            during = _send(server.url, nt, conv, "pendant la fenêtre de reprise", f"w{i}")
            if first_frame is not None:
                await ws.send(json.dumps(first_frame))
            seen, ready = await _until(ws, "ready")
            messages = [e for e in seen if e.get("type") == "message"]
            assert [e["seq"] for e in messages] == [during["seq"]], first_frame
            assert messages[0]["message"]["body"] == "pendant la fenêtre de reprise"
            assert ready["cursors"][conv] == during["seq"]
            after = _send(server.url, nt, conv, "après ready", f"a{i}")
            assert (await _recv(ws))["seq"] == after["seq"] == during["seq"] + 1


async def test_binary_and_malformed_frames_get_a_documented_answer(installation: Installation,
                                                                  server: Server) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    token = login(server.url, nurse)
    url = f"{server.url.replace('http', 'ws', 1)}/api/v1/stream?token={token}"
    async with websockets.connect(url, additional_headers={"Accept-Language": "fr"}) as ws:
        await _recv(ws)  # hello
        await ws.send("{pas du json")  # as the first frame: an error, and the stream goes on live
        error = await _recv(ws)
        assert error["type"] == "error" and error["code"] == "frame_invalid"
        assert "JSON" in error["detail"] and error["detail"] != "frame_invalid"
        await _until(ws, "ready")
        await ws.send("[1, 2]")
        assert (await _recv(ws))["code"] == "frame_invalid"
        await ws.send("x" * 5000)
        assert (await _recv(ws))["code"] == "frame_invalid"
        await ws.send(json.dumps({"type": "ping"}))
        assert (await _recv(ws))["type"] == "pong"
        await ws.send(b"\x00\x01binaire")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await _recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    async with websockets.connect(url) as ws:  # a binary first frame too
        await _recv(ws)
        await ws.send(b"\xff")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await _recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    assert b"Traceback" not in (installation.settings.data_dir / f"server-{server.port}.log").read_bytes()

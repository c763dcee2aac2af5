"""A stream ends the moment its session ends: sign-out, revocation of one session, "sign out
everywhere", deactivation of the person, expiry (another process: test_stream.py). After
the end the REST API refuses the token; the stream is closed with 4401 and delivers nothing
committed after the end, while the person's other sessions keep theirs."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from chevet.bootstrap import Installation
from tests.support import (
    Member,
    Server,
    login,
    new_installation,
    new_member,
    new_org,
)


def _session(url: str, member: Member, offset_steps: int = 0) -> tuple[str, str]:
    """A new session (token, id); each one with its own TOTP step (a code is accepted once)."""
    r = httpx.post(f"{url}/api/v1/auth/login", json={"email": member.email, "password": member.password,
                                                     "otp": member.otp(offset_steps)})
    assert r.status_code == 200, r.text
    return r.json()["token"], r.json()["session_id"]


def _send(url: str, token: str, conv: str, body: str, client_id: str) -> int:
    r = httpx.post(f"{url}/api/v1/conversations/{conv}/messages", headers={"Authorization": f"Bearer {token}"},
                   json={"body": body, "client_id": client_id})
    assert r.status_code == 201, r.text
    seq: int = r.json()["seq"]
    return seq


async def _open(ws_url: str, token: str) -> websockets.ClientConnection:
    ws = await websockets.connect(f"{ws_url}/api/v1/stream?token={token}")
    assert json.loads(await ws.recv())["type"] == "hello"
    await ws.send(json.dumps({"type": "resume", "cursors": {}}))
    while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "ready":
        pass
    return ws


async def _closed_for_session_end(ws: websockets.ClientConnection, body_after_end: str) -> list[dict[str, Any]]:
    """Read until the server closes: it must be 4401, with nothing sent after the end."""
    seen: list[dict[str, Any]] = []
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            seen.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401, closed.value
    assert all(e.get("message", {}).get("body") != body_after_end for e in seen), seen
    return seen


async def _still_live(ws: websockets.ClientConnection, seq: int) -> None:
    event = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert event["type"] == "message" and event["seq"] == seq


def _refused(url: str, token: str) -> bool:
    return httpx.get(f"{url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


async def test_every_way_a_session_ends_closes_its_streams_at_once(installation: Installation,
                                                                   server: Server) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse, admin = await new_member(svc, org, "nurse"), await new_member(svc, org, "admin")
    docs = [await new_member(svc, org, "physician") for _ in range(4)]
    url = server.url
    nt, at = login(url, nurse), login(url, admin)
    conv = httpx.post(f"{url}/api/v1/conversations", headers={"Authorization": f"Bearer {nt}"},
                      json={"kind": "group", "title": "Équipe de nuit",
                            "member_ids": [str(d.id) for d in docs]}).json()["id"]

    # sign-out
    token, _ = _session(url, docs[0])
    ws = await _open(server.ws_url, token)
    httpx.post(f"{url}/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    assert _refused(url, token)
    _send(url, nt, conv, "après la déconnexion", "e1")
    await _closed_for_session_end(ws, "après la déconnexion")

    # one session revoked from another: only that one's stream ends
    ended, ended_id = _session(url, docs[1])
    kept, _ = _session(url, docs[1], 1)
    ws_ended, ws_kept = await _open(server.ws_url, ended), await _open(server.ws_url, kept)
    httpx.delete(f"{url}/api/v1/auth/sessions/{ended_id}",
                 headers={"Authorization": f"Bearer {kept}"}).raise_for_status()
    assert _refused(url, ended) and not _refused(url, kept)
    seq = _send(url, nt, conv, "après la révocation", "e2")
    await _closed_for_session_end(ws_ended, "après la révocation")
    await _still_live(ws_kept, seq)
    await ws_kept.close()

    # "sign out everywhere" except here
    elsewhere, _ = _session(url, docs[2])
    here, _ = _session(url, docs[2], 1)
    ws_elsewhere, ws_here = await _open(server.ws_url, elsewhere), await _open(server.ws_url, here)
    r = httpx.post(f"{url}/api/v1/auth/sessions/revoke-all", headers={"Authorization": f"Bearer {here}"},
                   json={"keep_current": True})
    assert r.status_code == 200 and r.json()["revoked"] == 1
    seq = _send(url, nt, conv, "après la déconnexion partout", "e3")
    await _closed_for_session_end(ws_elsewhere, "après la déconnexion partout")
    await _still_live(ws_here, seq)
    await ws_here.close()

    # the person deactivated by an administrator
    token, _ = _session(url, docs[3])
    ws = await _open(server.ws_url, token)
    httpx.post(f"{url}/api/v1/users/{docs[3].id}/deactivate",
               headers={"Authorization": f"Bearer {at}"}).raise_for_status()
    assert _refused(url, token)
    _send(url, nt, conv, "après la désactivation", "e4")
    await _closed_for_session_end(ws, "après la désactivation")


async def test_an_expired_session_stream_is_closed_and_receives_nothing_more(tmp_path: Path,
                                                                             database_url: str | None) -> None:
    """Expiry has no action behind it: the stream watches its session's deadline itself."""
    inst = await new_installation(tmp_path / "data", database_url)
    try:
        svc = inst.services
        org = await new_org(svc)
        nurse, doc = await new_member(svc, org, "nurse"), await new_member(svc, org, "physician")
        # sessions of six seconds (the installation's lifetime bounds the organisation's policy)
        server = Server(inst.settings, {"CHEVET_SESSION_HOURS": str(6 / 3600)})
        try:
            dt = login(server.url, doc)
            conv = httpx.post(f"{server.url}/api/v1/conversations", headers={"Authorization": f"Bearer {dt}"},
                              json={"kind": "group", "title": "Courte", "member_ids": [str(nurse.id)]}).json()["id"]
            ws = await _open(server.ws_url, dt)
            while not _refused(server.url, dt):
                await asyncio.sleep(0.2)
            nt = login(server.url, nurse)  # signed in after the physician's session expired
            _send(server.url, nt, conv, "après l'expiration", "x1")
            await _closed_for_session_end(ws, "après l'expiration")
        finally:
            server.stop()
    finally:
        await inst.close()


async def test_a_pro_sante_connect_back_channel_logout_closes_the_stream(installation: Installation) -> None:
    """The provider ends the PSC session: the Chevet session it opened ends, and its stream."""
    from joserfc import jwt
    from sqlalchemy import update

    from chevet.adapters.db.schema import person
    from tests.integration.test_psc import psc_login
    from tests.oidc_provider import CLIENT_ID, Provider

    svc = installation.services
    org = await new_org(svc)
    physician, nurse = await new_member(svc, org, "physician"), await new_member(svc, org, "nurse")
    async with svc.db.transaction() as tx:  # linked by RPPS, as an administrator does
        await tx.conn.execute(update(person).where(person.c.id == physician.id)  # type: ignore[attr-defined]
                              .values(rpps="10001234567"))
    provider = Provider()
    server = Server(installation.settings, env=provider.settings_env())
    try:
        token = psc_login(server, provider).cookies["chevet_session"]
        nt = login(server.url, nurse)
        conv = httpx.post(f"{server.url}/api/v1/conversations", headers={"Authorization": f"Bearer {nt}"},
                          json={"kind": "group", "title": "PSC", "member_ids": [str(physician.id)]}).json()["id"]
        ws = await _open(server.ws_url, token)
        now = int(time.time())
        logout_token = jwt.encode({"alg": "RS256", "kid": "psc-1"}, {
            "iss": f"{provider.url}/realms/esante-wallet", "aud": CLIENT_ID, "iat": now, "exp": now + 120,
            "jti": "logout-1", "sub": provider.claims()["sub"], "sid": "psc-session-1",
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}}}, provider.key)
        r = httpx.post(f"{server.url}/api/v1/auth/psc/backchannel-logout", data={"logout_token": logout_token})
        assert r.status_code == 200, r.text
        assert _refused(server.url, token)
        _send(server.url, nt, conv, "après la déconnexion PSC", "p1")
        await _closed_for_session_end(ws, "après la déconnexion PSC")
    finally:
        server.stop()
        provider.stop()

"""The stream negotiates permessage-deflate unless the operator turns it off. It is negotiated
without context takeover in both directions, so that an idle connection holds no zlib state
and each event is compressed once for all its receivers (``web/realtime/deflate.py``)."""

from __future__ import annotations

import asyncio
import json

import httpx
import websockets

from chevet.bootstrap import Installation, initialise
from chevet.settings import Settings
from tests.support import Server, login, new_member, new_org


async def _extensions(server: Server) -> list[str]:
    async with websockets.connect(f"{server.ws_url}/api/v1/stream", compression="deflate") as ws:
        names = [ext.name for ext in ws.protocol.extensions]
    return names


async def test_deflate_is_negotiated_by_default_and_can_be_turned_off(sqlite_settings: Settings) -> None:
    await initialise(sqlite_settings)
    on = Server(sqlite_settings)
    try:
        assert await _extensions(on) == ["permessage-deflate"]
    finally:
        on.stop()
    off = Server(sqlite_settings, env={"CHEVET_STREAM_DEFLATE": "false"})
    try:
        assert await _extensions(off) == []
    finally:
        off.stop()


async def _until(ws: websockets.ClientConnection, kind: str) -> dict:
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if msg.get("type") == kind:
            return dict(msg)


async def test_compressed_events_reach_every_receiver_without_context_takeover(installation: Installation,
                                                                               server: Server) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse, doc, aide = (await new_member(svc, org, "nurse"), await new_member(svc, org, "physician"),
                        await new_member(svc, org, "nurse"))
    nt, dt, at = login(server.url, nurse), login(server.url, doc), login(server.url, aide)
    h = {"Authorization": f"Bearer {nt}"}
    conv = httpx.post(f"{server.url}/api/v1/conversations", headers=h,
                      json={"kind": "group", "title": "Jour", "member_ids": [str(doc.id), str(aide.id)]}).json()["id"]
    receivers = [await websockets.connect(f"{server.ws_url}/api/v1/stream?token={t}", compression="deflate")
                 for t in (dt, at)]
    try:
        for ws in receivers:
            (ext,) = ws.protocol.extensions
            assert ext.local_no_context_takeover and ext.remote_no_context_takeover
            await ws.send(json.dumps({"type": "resume", "cursors": {}}))
            await _until(ws, "ready")
        bodies = ["Transmissions : Mme Durand a bien dormi, tension 12/8, à revoir à 14 h."] * 2 + ["Merci, vu."]
        for i, body in enumerate(bodies):
            r = httpx.post(f"{server.url}/api/v1/conversations/{conv}/messages", headers=h,
                           json={"body": body, "client_id": f"d{i}"})
            assert r.status_code == 201, r.text
            received = [await _until(ws, "message") for ws in receivers]
            assert received[0] == received[1]
            assert received[0]["message"]["body"] == body and received[0]["seq"] == r.json()["seq"]
        # client frames are compressed without context takeover too: pings still get answers
        for _ in range(2):
            await receivers[0].send(json.dumps({"type": "ping"}))
            assert await _until(receivers[0], "pong") == {"type": "pong"}
    finally:
        for ws in receivers:
            await ws.close()

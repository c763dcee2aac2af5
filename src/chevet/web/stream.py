"""The realtime stream: one WebSocket per signed-in device.

Protocol (JSON text frames):
- connect to ``/api/v1/stream`` with the token in ``Authorization: Bearer`` or ``?token=``;
- to resume, pass ``?since=<cursors>`` where cursors is base64url JSON ``{"<conversation id>": seq}``,
  or send ``{"type": "resume", "cursors": {...}}`` as the first frame (within 2 seconds);
- the server answers ``{"type": "ready", "cursors": {...}}`` once caught up, then streams events.
  Every log event carries ``conversation_id`` and ``seq``; per conversation, each seq arrives
  exactly once and in order. A conversation the client does not list is sent from its start.
  ``{"type": "resync", "conversation_id"}`` means "too far behind: reload it with the history API".
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import WebSocket, WebSocketDisconnect

from chevet.app import auth, conversations, messages
from chevet.app.services import Actor, Services
from chevet.core.entities import RealtimeEvent
from chevet.core.errors import ChevetError
from chevet.web.deps import SESSION_COOKIE, bearer_token

log = logging.getLogger("chevet.stream")

STREAM_PATH = "/api/v1/stream"
QUEUE_LIMIT = 2000
RESUME_WAIT = 2.0


class Connection:
    """One signed-in device's stream. While idle it holds no task of its own: the connection's
    coroutine waits for client frames, and a delivery task exists only while events wait."""

    __slots__ = ("actor", "conversations", "drain", "live", "pending", "sender", "sent", "too_slow", "traced")

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.conversations: set[uuid.UUID] = set()
        self.sent: dict[uuid.UUID, int] = {}
        self.traced: set[uuid.UUID] = set()  # conversations whose live reads are already audited
        self.pending: deque[RealtimeEvent] = deque()
        self.live = False  # events are only queued until the catch-up has been sent
        self.sender: asyncio.Task[None] | None = None
        self.too_slow = False
        self.drain: Callable[[], Coroutine[Any, Any, None]] | None = None

    def offer(self, ev: RealtimeEvent) -> None:
        if self.too_slow:
            return
        if len(self.pending) >= QUEUE_LIMIT:
            # Too slow a reader: close it; on reconnect it resumes from its cursors.
            self.too_slow = True
            self.pending.clear()
        else:
            self.pending.append(ev)
        self.wake()

    def wake(self) -> None:
        if self.live and self.sender is None and self.drain is not None and (self.pending or self.too_slow):
            self.sender = asyncio.get_running_loop().create_task(self.drain())


class Hub:
    """Routes events from the bus to this process's connections (one lookup per event)."""

    def __init__(self) -> None:
        self.by_conversation: dict[uuid.UUID, set[Connection]] = {}
        self.by_person: dict[uuid.UUID, set[Connection]] = {}

    def register(self, conn: Connection) -> None:
        self.by_person.setdefault(conn.actor.id, set()).add(conn)

    def subscribe(self, conn: Connection, conversation_id: uuid.UUID) -> None:
        conn.conversations.add(conversation_id)
        self.by_conversation.setdefault(conversation_id, set()).add(conn)

    def unsubscribe(self, conn: Connection, conversation_id: uuid.UUID) -> None:
        conn.conversations.discard(conversation_id)
        conns = self.by_conversation.get(conversation_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.by_conversation[conversation_id]

    def unregister(self, conn: Connection) -> None:
        for cid in list(conn.conversations):
            self.unsubscribe(conn, cid)
        conns = self.by_person.get(conn.actor.id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.by_person[conn.actor.id]

    def deliver(self, ev: RealtimeEvent) -> None:
        targets: set[Connection] = set()
        if not ev.private:
            targets |= self.by_conversation.get(ev.conversation_id, set())
        joins = ev.seq is not None and ev.payload.get("type") in ("member.added", "conversation.created")
        for pid in ev.user_ids:
            for conn in self.by_person.get(pid, set()):
                targets.add(conn)
                if joins and conn.actor.org_id == ev.org_id:
                    # Now, not when the event is sent: the conversation's next events may be
                    # published right after (a correspondent's mail opens an exchange with its
                    # first message in one transaction) and must find the connection.
                    self.subscribe(conn, ev.conversation_id)
        for conn in targets:
            if conn.actor.org_id == ev.org_id:
                conn.offer(ev)

    @property
    def connections(self) -> int:
        return sum(len(v) for v in self.by_person.values())


def parse_cursors(raw: Any) -> dict[uuid.UUID, int]:
    if isinstance(raw, str):
        try:
            raw = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except (binascii.Error, ValueError, orjson.JSONDecodeError):
            raise ValueError("cursors") from None
    if not isinstance(raw, dict) or len(raw) > 10_000:
        raise ValueError("cursors")
    out = {}
    for k, v in raw.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError("cursors")
        try:
            out[uuid.UUID(str(k))] = v
        except ValueError:
            continue
    return out


async def _send_event(ws: WebSocket, conn: Connection, svc: Services, ev: RealtimeEvent) -> None:
    """Send one event, keeping each conversation's stream gap-free and duplicate-free: events
    may be published in a different order than their transactions committed."""
    if ev.seq is None:
        await ws.send_text(ev.text)
        return
    cid = ev.conversation_id
    last = conn.sent.get(cid, ev.seq - 1)
    if ev.seq <= last:
        return
    if ev.seq > last + 1:
        # Usually the missing events are already queued behind this one (two transactions
        # committed one after the other, published in the other order): send those first. Only
        # otherwise ask the database. Either way they are sent once: what is sent is skipped
        # when it comes up again.
        for missing in _queued_between(conn, cid, last, ev.seq) or await messages.entries_between(
                svc, conn.actor, cid, last, ev.seq - 1):
            await ws.send_text(missing.text)
    await ws.send_text(ev.text)
    conn.sent[cid] = ev.seq


def _queued_between(conn: Connection, cid: uuid.UUID, after: int, before: int) -> list[RealtimeEvent]:
    """The queued events of ``cid`` numbered strictly between ``after`` and ``before``, in
    order, if every one of them is queued; otherwise an empty list."""
    found = {e.seq: e for e in conn.pending
             if e.conversation_id == cid and e.seq is not None and after < e.seq < before}
    if len(found) != before - after - 1:
        return []
    return [found[seq] for seq in range(after + 1, before)]


async def stream(ws: WebSocket) -> None:
    svc: Services = ws.app.state.services
    hub: Hub = ws.app.state.hub
    token = bearer_token(ws.headers.get("authorization")) or ws.query_params.get("token")
    if not token and (cookie := ws.cookies.get(SESSION_COOKIE)):
        origin = ws.headers.get("origin", "")
        host = ws.headers.get("host", "")
        if origin.split("://", 1)[-1] == host:
            token = cookie
    await ws.accept()
    try:
        actor = await auth.authenticate(svc, token or "", ws.client.host if ws.client else None)
    except ChevetError:
        await ws.close(code=4401, reason="authentication required")
        return
    conn = Connection(actor)
    hub.register(conn)
    try:
        await _run(ws, conn, svc, hub)
    except WebSocketDisconnect:
        pass
    finally:
        hub.unregister(conn)


async def _first_cursors(ws: WebSocket) -> dict[uuid.UUID, int] | None:
    since = ws.query_params.get("since")
    if since is not None:
        return parse_cursors(since)
    await ws.send_text('{"type":"hello"}')
    try:
        first = await asyncio.wait_for(ws.receive_text(), RESUME_WAIT)
    except TimeoutError:
        return None
    msg = orjson.loads(first)
    if isinstance(msg, dict) and msg.get("type") == "resume":
        return parse_cursors(msg.get("cursors", {}))
    return None


async def _run(ws: WebSocket, conn: Connection, svc: Services, hub: Hub) -> None:
    try:
        cursors = await _first_cursors(ws)
    except (ValueError, orjson.JSONDecodeError):
        await ws.send_text('{"type":"error","code":"cursors_invalid"}')
        await ws.close(code=4400)
        return
    positions = await _positions(svc, conn.actor)
    for cid in positions:
        hub.subscribe(conn, cid)
    if cursors is None:
        cursors = positions  # live only: start from where each conversation is now
    events, too_far = await messages.catch_up(svc, conn.actor, cursors)
    conn.sent = {cid: min(cursors.get(cid, 0), positions[cid]) for cid in positions}
    for cid in too_far:
        conn.sent[cid] = positions[cid]
        await ws.send_text(orjson.dumps({"type": "resync", "conversation_id": str(cid)}).decode())
    for replayed in events:
        await _deliver(ws, conn, svc, hub, replayed)
    await ws.send_text(orjson.dumps({"type": "ready", "cursors": {str(k): v for k, v in conn.sent.items()}})
                       .decode())

    async def drain() -> None:
        # Under load several events wait: all are sent before the task ends. Nothing here awaits
        # between the last check of ``pending`` and the end, so an event offered meanwhile
        # starts a new task.
        try:
            while conn.pending and not conn.too_slow:
                await _deliver(ws, conn, svc, hub, conn.pending.popleft())
            if conn.too_slow:
                await ws.close(code=4408, reason="too slow: reconnect and resume")
        except (WebSocketDisconnect, RuntimeError, OSError):
            conn.too_slow = True  # the client went away; the reading side ends the connection
        except Exception:
            log.exception("stream delivery failed")
            conn.too_slow = True
            with contextlib.suppress(Exception):
                await ws.close(code=1011)
        finally:
            conn.sender = None

    conn.drain = drain
    conn.live = True
    conn.wake()  # what arrived during the catch-up
    try:
        await _read(ws)
    finally:
        conn.live = False
        if conn.sender is not None:
            conn.sender.cancel()


async def _deliver(ws: WebSocket, conn: Connection, svc: Services, hub: Hub, ev: RealtimeEvent) -> None:
    cid = ev.conversation_id
    ptype = ev.payload.get("type")
    if ev.seq is not None and cid not in conn.conversations:
        if ptype in ("member.added", "conversation.created") and conn.actor.id in ev.user_ids:
            hub.subscribe(conn, cid)
            conn.sent.setdefault(cid, ev.seq - 1)
        else:
            return
    if ptype == "message" and cid not in conn.traced and ev.seq is not None:
        conn.traced.add(cid)
        await messages.note_live_read(svc, conn.actor, cid, ev.seq)
    await _send_event(ws, conn, svc, ev)
    if ptype == "member.removed" and conn.actor.id in ev.user_ids:
        hub.unsubscribe(conn, cid)
        conn.sent.pop(cid, None)


async def _read(ws: WebSocket) -> None:
    """Client frames after the start: pings; anything else is ignored. Returns on disconnect
    (or when the server closed the stream)."""
    while True:
        try:
            text = await ws.receive_text()
        except (WebSocketDisconnect, RuntimeError):
            return
        with contextlib.suppress(orjson.JSONDecodeError):
            msg = orjson.loads(text[:4096])
            if isinstance(msg, dict) and msg.get("type") == "ping":
                await ws.send_text('{"type":"pong"}')


async def _positions(svc: Services, actor: Actor) -> dict[uuid.UUID, int]:
    return await conversations.positions(svc, actor)

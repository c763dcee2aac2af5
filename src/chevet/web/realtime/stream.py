"""The realtime stream: one WebSocket per signed-in device (protocol in docs/api.md).

This module only does I/O: it reads frames, reads the database and writes events. What goes to
the client, in which order, and what fills a gap is decided by ``protocol.StreamState``.

- The connection's conversations and their positions are taken as soon as it is authenticated,
  and it is subscribed to them before anything else: whatever is committed from then on reaches
  it, whether the client resumes, stays silent or sends something else.
- The stream ends the moment its session ends: a ``session.ended`` bus event (sign-out,
  revocation, deactivation, provider logout, from any process) or the session's own deadline
  (idle or absolute expiry), watched by a timer and checked again before each delivery.
- When the bus comes back after an outage, every stream reads from the database what was
  committed after what it last delivered (pub/sub loses what was published meanwhile).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import WebSocket, WebSocketDisconnect

from chevet.app.identity import auth
from chevet.app.messaging import conversations, messages
from chevet.app.services import Actor, Services
from chevet.core.entities import SESSION_ENDED, RealtimeEvent
from chevet.core.errors import ChevetError
from chevet.ports.metrics import Metrics, NoMetrics
from chevet.web.deps import SESSION_COOKIE, bearer_token
from chevet.web.i18n import gettext, negotiate
from chevet.web.realtime.protocol import QUEUE_LIMIT, StreamState, Verdict

log = logging.getLogger("chevet.stream")

STREAM_PATH = "/api/v1/stream"
RESUME_WAIT = 2.0
MAX_FRAME_CHARS = 4096

# Close codes (docs/api.md).
CLOSE_UNSUPPORTED_DATA = 1003  # a binary frame: the stream speaks JSON text only
CLOSE_SERVER_ERROR = 1011
CLOSE_INVALID_CURSORS = 4400
CLOSE_SESSION_ENDED = 4401  # also: not authenticated
CLOSE_TOO_SLOW = 4408


class StoredLog:
    """The conversations' logs as the database holds them, read for one actor (the catch-up,
    the gaps) — the only reads a stream makes besides its session."""

    __slots__ = ("actor", "services")

    def __init__(self, services: Services, actor: Actor) -> None:
        self.services = services
        self.actor = actor

    async def positions(self) -> dict[uuid.UUID, int]:
        return await conversations.positions(self.services, self.actor)

    async def session_left(self) -> float | None:
        """Seconds until the session ends if unused; None once it has ended."""
        ends = await auth.session_ends_at(self.services, self.actor)
        return None if ends is None else max(0.0, (ends - self.services.clock.now()).total_seconds())

    async def catch_up(self, after: Mapping[uuid.UUID, int]) -> tuple[list[RealtimeEvent], dict[uuid.UUID, int]]:
        return await messages.catch_up(self.services, self.actor, after)

    async def between(self, cid: uuid.UUID, after: int, up_to: int) -> list[RealtimeEvent] | None:
        """The entries of ``cid`` numbered after ``after`` up to ``up_to`` the actor may see;
        None when the actor is no longer a member."""
        try:
            return await messages.entries_between(self.services, self.actor, cid, after, up_to)
        except ChevetError:
            return None

    async def note_live_read(self, cid: uuid.UUID, seq: int) -> None:
        await messages.note_live_read(self.services, self.actor, cid, seq)


class Connection:
    """One signed-in device's stream. While idle it holds no task of its own: the connection's
    coroutine waits for client frames, and a delivery task exists only while there is work."""

    __slots__ = ("actor", "catch_up_wanted", "deadline", "hub", "lang", "live", "log", "sender", "state", "timer",
                 "ws")

    def __init__(self, ws: WebSocket, actor: Actor, hub: Hub, log: StoredLog, lang: str = "fr") -> None:
        self.ws = ws
        self.actor = actor
        self.hub = hub
        self.log = log
        self.lang = lang
        self.state = StreamState(actor.id, self)
        self.live = False  # events are only queued until the catch-up has been sent
        self.sender: asyncio.Task[None] | None = None
        self.catch_up_wanted = False
        self.deadline: float | None = None  # loop time at which the session may have expired
        self.timer: asyncio.TimerHandle | None = None

    # --- routing (the protocol's subscriptions) ----------------------------------------------
    def subscribe(self, conversation_id: uuid.UUID) -> None:
        self.hub.by_conversation.setdefault(conversation_id, set()).add(self)

    def unsubscribe(self, conversation_id: uuid.UUID) -> None:
        conns = self.hub.by_conversation.get(conversation_id)
        if conns is not None:
            conns.discard(self)
            if not conns:
                del self.hub.by_conversation[conversation_id]

    # --- what the hub calls ------------------------------------------------------------------
    def offer(self, ev: RealtimeEvent) -> None:
        if self.state.offer(ev) or self.state.too_slow:
            self.wake()

    def bus_returned(self) -> None:
        """The bus was down: what was published meanwhile is read from the database, and the
        session is checked again (its end may have been published then)."""
        if not self.state.ended:
            self._deadline_reached()
            self.catch_up_wanted = True
            self.wake()

    def end(self) -> None:
        """The session ended: nothing more goes out, and the stream is closed now."""
        if self.state.ended:
            return
        self.state.end()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.sender is not None:
            self.sender.cancel()
        self.sender = asyncio.get_running_loop().create_task(self._close(CLOSE_SESSION_ENDED, "session ended"))

    def wake(self) -> None:
        state = self.state
        if (self.live and self.sender is None and not state.ended
                and (state.pending or state.too_slow or self.catch_up_wanted)):
            self.sender = asyncio.get_running_loop().create_task(self._drain())

    # --- the session's deadline --------------------------------------------------------------
    async def watch_session(self) -> None:
        """Read when the session ends if unused (idle or absolute expiry); end the stream now
        if it already has, else arm a timer for that moment."""
        left = await self.log.session_left()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if left is None:
            self.end()
            return
        loop = asyncio.get_running_loop()
        self.deadline = loop.time() + left
        self.timer = loop.call_at(self.deadline, self._deadline_reached)

    def _deadline_reached(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.state.ended:
            loop = asyncio.get_running_loop()
            task = loop.create_task(self.watch_session())
            task.add_done_callback(_ignore_result)

    async def _session_still_open(self) -> bool:
        if self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline:
            await self.watch_session()  # used meanwhile (idle deadline moved), or over
        return not self.state.ended

    # --- delivery ----------------------------------------------------------------------------
    async def _drain(self) -> None:
        # Under load several events wait: all are sent before the task ends. Nothing here awaits
        # between the last check of ``pending`` and the end, so an event offered meanwhile
        # starts a new task.
        state = self.state
        try:
            while not state.ended:
                if state.too_slow:
                    await self.ws.close(code=CLOSE_TOO_SLOW, reason="too slow: reconnect and resume")
                    return
                if self.catch_up_wanted:
                    self.catch_up_wanted = False
                    await self.catch_up(state.sent)
                elif state.pending:
                    await self.deliver(state.pending.popleft())
                else:
                    return
        except (WebSocketDisconnect, RuntimeError, OSError):
            state.too_slow = True  # the client went away; the reading side ends the connection
        except Exception:
            log.exception("stream delivery failed")
            state.too_slow = True
            with contextlib.suppress(Exception):
                await self.ws.close(code=CLOSE_SERVER_ERROR)
        finally:
            if self.sender is asyncio.current_task():
                self.sender = None

    async def catch_up(self, after: Mapping[uuid.UUID, int]) -> None:
        """Everything committed after ``after`` (per conversation; the actor's other
        conversations from their start), from the database."""
        events, too_far = await self.log.catch_up(after)
        for cid, seq in too_far.items():
            if cid not in self.state.conversations:
                self.state.open({cid: seq})
            self.state.skip_to(cid, seq)
            await self.ws.send_text(orjson.dumps({"type": "resync", "conversation_id": str(cid)}).decode())
        for ev in events:
            await self.deliver(ev, authoritative=True)

    async def deliver(self, ev: RealtimeEvent, *, authoritative: bool = False) -> None:
        state = self.state
        verdict = state.admit(ev, authoritative=authoritative)
        if verdict is Verdict.DROP or not await self._session_still_open():
            return
        batch = [ev]
        if verdict is Verdict.GAP:
            # Usually the missing events are already queued behind this one (two transactions
            # committed one after the other, published in the other order): send those first.
            # Only otherwise ask the database. What is sent is skipped when it comes up again.
            assert ev.seq is not None
            cid, last = ev.conversation_id, state.last_sent(ev.conversation_id)
            queued = state.queued_between(cid, last, ev.seq)
            if queued:
                batch = state.resolve(ev, queued)
            else:
                # The database says what the person may see, this event included (they may have
                # left, or left and come back, in between).
                stored = await self.log.between(cid, last, ev.seq)
                if stored is None:
                    batch = [ev] if state.leaves(ev) else []  # only their removal is still theirs
                else:
                    batch = [m for m in stored if state.admit(m, authoritative=True) is Verdict.SEND]
        for m in batch:
            await self._write(m)
            if not authoritative and "at" in m.payload:  # live, not a catch-up of older entries
                self.hub.metrics.delivered(m.payload["at"])

    async def _write(self, ev: RealtimeEvent) -> None:
        if self.state.first_live_message(ev):
            assert ev.seq is not None
            await self.log.note_live_read(ev.conversation_id, ev.seq)
        if self.state.ended:
            return
        await self.ws.send_text(ev.text)
        if self.state.delivered(ev):
            assert ev.seq is not None
            for later in await self.log.between(ev.conversation_id, ev.seq, ev.seq + QUEUE_LIMIT) or []:
                await self.deliver(later, authoritative=True)

    async def error(self, code: str) -> None:
        await self.ws.send_text(orjson.dumps({"type": "error", "code": code,
                                              "detail": gettext(code, self.lang)}).decode())

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, reason=reason)


def _ignore_result(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("session check failed", exc_info=exc)


class Hub:
    """Routes events from the bus to this process's connections (one lookup per event)."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.by_conversation: dict[uuid.UUID, set[Connection]] = {}
        self.by_person: dict[uuid.UUID, set[Connection]] = {}
        self.metrics: Metrics = metrics if metrics is not None else NoMetrics()  # told each live entry's delivery lag

    def register(self, conn: Connection) -> None:
        self.by_person.setdefault(conn.actor.id, set()).add(conn)

    def unregister(self, conn: Connection) -> None:
        for cid in list(conn.state.conversations):
            conn.unsubscribe(cid)
        conns = self.by_person.get(conn.actor.id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.by_person[conn.actor.id]

    def deliver(self, ev: RealtimeEvent) -> None:
        if ev.private and ev.payload.get("type") == SESSION_ENDED:
            for pid in ev.user_ids:
                for conn in list(self.by_person.get(pid, ())):
                    if conn.state.ends_with(ev, conn.actor.session_id):
                        conn.end()
            return
        targets: set[Connection] = set()
        if not ev.private:
            targets |= self.by_conversation.get(ev.conversation_id, set())
        for pid in ev.user_ids:
            targets |= self.by_person.get(pid, set())
        for conn in targets:
            if conn.actor.org_id == ev.org_id:
                conn.offer(ev)

    def bus_returned(self) -> None:
        """The bus reconnected: every stream catches up from the database."""
        for conns in list(self.by_person.values()):
            for conn in list(conns):
                conn.bus_returned()

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


class _Binary(Exception):
    """The client sent a binary frame."""


async def _frame(ws: WebSocket) -> dict[str, Any] | None:
    """The client's next frame as a JSON object; None for a malformed one. Raises
    ``WebSocketDisconnect`` when the client left and ``_Binary`` for a binary frame."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is None:
        raise _Binary
    if len(text) > MAX_FRAME_CHARS:
        return None
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return msg if isinstance(msg, dict) else None


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
        await ws.close(code=CLOSE_SESSION_ENDED, reason="authentication required")
        return
    await serve(Connection(ws, actor, hub, StoredLog(svc, actor), negotiate(ws.headers.get("accept-language"))))


async def serve(conn: Connection) -> None:
    """One authenticated connection, from its opening to its end."""
    hub = conn.hub
    hub.register(conn)
    try:
        await _run(conn)
    except WebSocketDisconnect:
        pass
    except RuntimeError:
        if not conn.state.ended:  # after the close for a session end, nothing more is sent
            raise
    except _Binary:
        await conn._close(CLOSE_UNSUPPORTED_DATA, "binary frames are not supported")
    finally:
        hub.unregister(conn)
        if conn.timer is not None:
            conn.timer.cancel()
        if conn.sender is not None and not conn.state.ended:
            conn.sender.cancel()


async def _first_cursors(conn: Connection) -> dict[uuid.UUID, int] | None:
    """The client's resume cursors, or None: no resume (silence, or another frame)."""
    ws = conn.ws
    since = ws.query_params.get("since")
    if since is not None:
        return parse_cursors(since)
    await ws.send_text('{"type":"hello"}')
    try:
        msg = await asyncio.wait_for(_frame(ws), RESUME_WAIT)
    except TimeoutError:
        return None
    if msg is None:
        await conn.error("frame_invalid")
    elif msg.get("type") == "resume":
        return parse_cursors(msg.get("cursors", {}))
    elif msg.get("type") == "ping":
        await ws.send_text('{"type":"pong"}')
    return None


async def _run(conn: Connection) -> None:
    ws, state = conn.ws, conn.state
    # Subscribed and positioned before the client says anything: nothing committed from now on
    # can be missed, however long the client takes to resume.
    state.open(await conn.log.positions())
    await conn.watch_session()  # also catches a session that ended before the subscription
    if state.ended:
        return
    try:
        cursors = await _first_cursors(conn)
    except ValueError:
        await conn.error("cursors_invalid")
        await ws.close(code=CLOSE_INVALID_CURSORS)
        return
    if state.ended:
        return
    await conn.catch_up(state.resume(cursors))
    if state.ended:
        return
    await ws.send_text(orjson.dumps({"type": "ready", "cursors": state.cursors()}).decode())
    conn.live = True
    conn.wake()  # what arrived during the catch-up
    await _read(conn)


async def _read(conn: Connection) -> None:
    """Client frames after the start: pings; a malformed frame is answered with an error.
    Returns on disconnect (or when the server closed the stream)."""
    while True:
        try:
            msg = await _frame(conn.ws)
        except (WebSocketDisconnect, RuntimeError):
            return
        if conn.state.ended:
            return
        if msg is None:
            await conn.error("frame_invalid")
        elif msg.get("type") == "ping":
            await conn.ws.send_text('{"type":"pong"}')

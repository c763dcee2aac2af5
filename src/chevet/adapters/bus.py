"""Event buses: in-process for one server, Redis pub/sub for several processes.

Events are published after commit. Over Redis they travel sealed with a key derived from the
installation master key, so care content never sits in clear in another process's memory
buffers or in a Redis dump.

Redis may stop or become unreachable at any moment: a publish gives up after
``PUBLISH_TIMEOUT`` with ``DependencyUnavailable`` (the events are in the database already;
streams catch up from there), and the listener reconnects by itself when Redis returns.

Streams catch up whenever events may have been missed: when a listener's subscription comes
back after a loss, and when a publication failed while the listeners stayed connected (Redis
stalled, or only the publishing connection broke). For the latter the publishing process
sends a ``GAP`` frame as soon as Redis accepts publications again; every process receiving it
catches up, as after a reconnection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from chevet.core import envelope
from chevet.core.entities import RealtimeEvent
from chevet.ports import DependencyUnavailable

log = logging.getLogger("chevet.bus")

PUBLISH_TIMEOUT = 2.0  # seconds a publish (or a readiness ping) may wait for Redis
START_TIMEOUT = 10.0  # seconds start-up waits for the first subscription before going on without it
RECONNECT_DELAY = 1.0
GAP = b"gap"  # a control frame: publications were lost, catch up from the database (never JSON)

Deliver = Callable[[RealtimeEvent], None]


class MemoryBus:
    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver, reconnected: Callable[[], None] | None = None) -> None:
        self._deliver = deliver  # never disconnected: ``reconnected`` is never called

    async def publish(self, events: Sequence[RealtimeEvent]) -> None:
        if self._deliver is None:
            return
        for ev in events:
            self._deliver(ev)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._deliver = None


def _encode(ev: RealtimeEvent) -> bytes:
    return orjson.dumps({"o": ev.org_id.hex, "c": ev.conversation_id.hex, "s": ev.seq,
                         "u": [u.hex for u in ev.user_ids], "x": ev.private, "p": orjson.Fragment(ev.encoded)})


def _decode(raw: bytes) -> RealtimeEvent:
    d: dict[str, Any] = orjson.loads(raw)
    payload = d["p"]
    return RealtimeEvent(org_id=uuid.UUID(d["o"]), conversation_id=uuid.UUID(d["c"]), seq=d["s"],
                         payload=payload, user_ids=tuple(uuid.UUID(u) for u in d["u"]), private=bool(d.get("x")),
                         _encoded=orjson.dumps(payload))


class RedisBus:
    CHANNEL = "chevet:events"

    def __init__(self, url: str, key: bytes, channel: str | None = None) -> None:
        import redis.asyncio as redis

        # Publishing waits a bounded time for every step; the listener's connection waits for
        # messages as long as there are none, and checks itself with a PING meanwhile.
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=PUBLISH_TIMEOUT,
                                           socket_timeout=PUBLISH_TIMEOUT)
        self._listener = redis.Redis.from_url(url, socket_connect_timeout=PUBLISH_TIMEOUT,
                                              socket_keepalive=True, health_check_interval=15)
        self._key = key
        # One channel per installation, so that two installations sharing a Redis never mix.
        self._channel = channel or f"{self.CHANNEL}:{hashlib.sha256(key).hexdigest()[:12]}"
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._listening = False
        self._failing_until = 0.0
        self._gap_task: asyncio.Task[None] | None = None

    async def start(self, deliver: Deliver, reconnected: Callable[[], None] | None = None) -> None:
        """Subscribes; if Redis does not answer within ``START_TIMEOUT`` the server starts all
        the same (readiness says so) and the listener keeps trying. ``reconnected`` is called
        each time events may have been missed: the subscription came back after a loss, or a
        process could not publish (its ``GAP`` frame)."""
        self._task = asyncio.create_task(self._listen(deliver, reconnected))
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=START_TIMEOUT)
        except TimeoutError:
            log.warning("redis bus not reachable at start; listening as soon as it is")

    async def _listen(self, deliver: Deliver, reconnected: Callable[[], None] | None) -> None:
        lost = False
        while True:
            pubsub = self._listener.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                self._listening = True
                if lost:
                    log.info("redis bus connection back")
                    lost = False
                async for message in pubsub.listen():
                    kind = message.get("type")
                    if kind == "subscribe":
                        # The first confirmation, or one after a lost connection: here, or in
                        # redis-py, which reconnects and subscribes again by itself.
                        if self._ready.is_set():
                            log.warning("redis bus reconnected")
                            if reconnected is not None:
                                reconnected()
                        self._ready.set()
                        continue
                    if kind != "message":
                        continue
                    try:
                        raw = envelope.open_sealed(self._key, message["data"], self._channel.encode())
                        if raw == GAP:
                            if reconnected is not None:
                                reconnected()
                        else:
                            deliver(_decode(raw))
                    except Exception:  # a bad frame must not stop the listener
                        log.warning("dropped an undecodable bus frame")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not lost:
                    log.warning("redis bus connection lost; reconnecting", extra={"error": type(exc).__name__})
                lost = True
            finally:
                self._listening = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]  # typed from redis 8
            await asyncio.sleep(RECONNECT_DELAY)

    async def publish(self, events: Sequence[RealtimeEvent]) -> None:
        """After a failure, publishes fail at once for ``RECONNECT_DELAY``: a Redis that does not
        answer costs one timeout, not one per batch of sends."""
        if not events:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._failing_until:
            self._publication_lost()
            raise DependencyUnavailable("bus")
        try:
            await self._publish_frames([_encode(ev) for ev in events])
        except (OSError, TimeoutError, _redis_errors()) as exc:
            self._failing_until = loop.time() + RECONNECT_DELAY
            self._publication_lost()
            raise DependencyUnavailable("bus") from exc

    async def _publish_frames(self, frames: Sequence[bytes]) -> None:
        async with asyncio.timeout(PUBLISH_TIMEOUT), self._redis.pipeline(transaction=False) as pipe:
            for frame in frames:
                pipe.publish(self._channel, envelope.seal(self._key, frame, self._channel.encode()))
            await pipe.execute()

    def _publication_lost(self) -> None:
        """Events were committed but not published: tell every process once Redis takes
        publications again (one task, however many publications fail meanwhile)."""
        if self._gap_task is None or self._gap_task.done():
            self._gap_task = asyncio.get_running_loop().create_task(self._announce_gap())

    async def _announce_gap(self) -> None:
        while True:
            await asyncio.sleep(RECONNECT_DELAY)
            try:
                await self._publish_frames([GAP])
            except (OSError, TimeoutError, _redis_errors()):
                continue
            log.info("redis bus takes publications again; streams catch up")
            return

    async def ping(self) -> None:
        """Ready when Redis answers a PING in time and the listener is subscribed."""
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                await self._redis.ping()
        except (OSError, TimeoutError, _redis_errors()) as exc:
            raise DependencyUnavailable("bus") from exc
        if not self._listening:
            raise DependencyUnavailable("bus")

    async def close(self) -> None:
        for task in (self._task, self._gap_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._redis.aclose()
        await self._listener.aclose()


def _redis_errors() -> type[Exception]:
    from redis.exceptions import RedisError

    return RedisError

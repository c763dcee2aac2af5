"""Event buses: in-process for one server, Redis pub/sub for several processes.

Events are published after commit. Over Redis they travel sealed with a key derived from the
installation master key, so care content never sits in clear in another process's memory
buffers or in a Redis dump.
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

log = logging.getLogger("chevet.bus")

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

        self._redis = redis.Redis.from_url(url)
        self._key = key
        # One channel per installation, so that two installations sharing a Redis never mix.
        self._channel = channel or f"{self.CHANNEL}:{hashlib.sha256(key).hexdigest()[:12]}"
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self, deliver: Deliver, reconnected: Callable[[], None] | None = None) -> None:
        self._task = asyncio.create_task(self._listen(deliver, reconnected))
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def _listen(self, deliver: Deliver, reconnected: Callable[[], None] | None) -> None:
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self._channel)
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
                        deliver(_decode(raw))
                    except Exception:  # a bad frame must not stop the listener
                        log.warning("dropped an undecodable bus frame")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("redis bus connection lost; reconnecting")
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                await asyncio.sleep(1)

    async def publish(self, events: Sequence[RealtimeEvent]) -> None:
        if not events:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for ev in events:
                pipe.publish(self._channel, envelope.seal(self._key, _encode(ev), self._channel.encode()))
            await pipe.execute()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._redis.aclose()

"""Group commit: requests for one key that arrive while that key's batch is being written wait,
then go together in the next batch, in the order they arrived.

Under load, every send to a busy conversation queues behind the conversation's write lock
anyway; writing the queued sends in one transaction pays the transaction's fixed costs (begin,
lock, audit chain head, commit and its disk sync) once per batch instead of once per message.
Each request is still answered only after the commit of the batch that carries it. With one
request at a time, a batch is that one request: nothing waits for company.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Queue(Generic[T, R]):
    items: list[T] = field(default_factory=list)
    futures: list[asyncio.Future[R]] = field(default_factory=list)


class GroupCommit(Generic[K, T, R]):
    """One writer task per key while that key has work; at most ``max_batch`` items a batch."""

    def __init__(self, write: Callable[[K, Sequence[T]], Awaitable[Sequence[R | Exception]]],
                 max_batch: int = 64, on_batch: Callable[[int], None] | None = None) -> None:
        """``write`` writes one batch and returns, for each item in order, its result or the
        error that item's request gets; ``on_batch`` is told the size of each batch written."""
        self._write = write
        self._on_batch = on_batch
        self._max = max_batch
        self._queues: dict[K, _Queue[T, R]] = {}
        self._writers: dict[K, asyncio.Task[None]] = {}

    async def submit(self, key: K, item: T) -> R:
        queue = self._queues.setdefault(key, _Queue())
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        queue.items.append(item)
        queue.futures.append(future)
        if key not in self._writers:
            self._writers[key] = asyncio.create_task(self._drain(key))
        # The batch is written even if this request goes away: its item may be committed, and a
        # retry with the same idempotency key then finds it.
        return await asyncio.shield(future)

    async def _drain(self, key: K) -> None:
        futures: list[asyncio.Future[R]] = []
        try:
            while (queue := self._queues.get(key)) is not None and queue.items:
                items, futures = queue.items[:self._max], queue.futures[:self._max]
                del queue.items[:self._max], queue.futures[:self._max]
                try:
                    outcomes: Sequence[R | Exception] = await self._write(key, items)
                except Exception as exc:
                    outcomes = [exc] * len(items)
                else:
                    if self._on_batch is not None:
                        self._on_batch(len(items))
                for fut, outcome in zip(futures, outcomes, strict=True):
                    if fut.done():
                        continue
                    if isinstance(outcome, Exception):
                        fut.set_exception(outcome)
                    else:
                        fut.set_result(outcome)
        finally:
            # Stopped (the server shuts down): no request waits for ever.
            left = self._queues.pop(key, _Queue())
            for fut in [*futures, *left.futures]:
                if not fut.done():
                    fut.cancel()
            self._writers.pop(key, None)

"""Group commit: what arrives while a key's batch is written goes together in the next batch,
each request gets its own outcome, and no request is left waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from chevet.app.messaging.group_commit import GroupCommit


class Recorder:
    def __init__(self) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def write(self, key: str, items: Sequence[int]) -> list[int | Exception]:
        self.batches.append((key, list(items)))
        await self.gate.wait()
        return [ValueError(f"refused {i}") if i < 0 else i * 10 for i in items]


async def test_requests_waiting_for_a_key_go_together_in_arrival_order() -> None:
    rec = Recorder()
    rec.gate.clear()
    gc: GroupCommit[str, int, int] = GroupCommit(rec.write)
    first = asyncio.create_task(gc.submit("a", 1))
    await asyncio.sleep(0)  # the first batch (one request) is being written
    rest = [asyncio.create_task(gc.submit("a", i)) for i in (2, 3, 4)]
    other = asyncio.create_task(gc.submit("b", 9))  # another key is not held back
    await asyncio.sleep(0)
    rec.gate.set()
    assert await first == 10 and [await t for t in rest] == [20, 30, 40] and await other == 90
    assert rec.batches == [("a", [1]), ("b", [9]), ("a", [2, 3, 4])]


async def test_each_request_gets_its_own_error() -> None:
    rec = Recorder()
    gc: GroupCommit[str, int, int] = GroupCommit(rec.write)
    results = await asyncio.gather(*(gc.submit("a", i) for i in (1, -2, 3)), return_exceptions=True)
    assert results[0] == 10 and results[2] == 30
    assert isinstance(results[1], ValueError) and str(results[1]) == "refused -2"
    assert rec.batches == [("a", [1, -2, 3])]


async def test_a_failed_write_fails_its_batch_only() -> None:
    calls = 0

    async def write(key: str, items: Sequence[int]) -> list[int | Exception]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database gone")
        return list(items)

    gc: GroupCommit[str, int, int] = GroupCommit(write)
    with pytest.raises(RuntimeError):
        await gc.submit("a", 1)
    assert await gc.submit("a", 2) == 2


async def test_batches_are_bounded() -> None:
    rec = Recorder()
    gc: GroupCommit[str, int, int] = GroupCommit(rec.write, max_batch=2)
    assert await asyncio.gather(*(gc.submit("k", i) for i in range(5))) == [0, 10, 20, 30, 40]
    assert [items for _, items in rec.batches] == [[0, 1], [2, 3], [4]]


async def test_a_request_that_goes_away_does_not_stop_its_batch() -> None:
    rec = Recorder()
    rec.gate.clear()
    gc: GroupCommit[str, int, int] = GroupCommit(rec.write)
    leaving = asyncio.create_task(gc.submit("a", 1))
    staying = asyncio.create_task(gc.submit("a", 2))
    await asyncio.sleep(0)
    leaving.cancel()
    await asyncio.sleep(0)
    rec.gate.set()
    assert await staying == 20
    assert rec.batches == [("a", [1, 2])]  # the batch was written, with the request that left


async def test_a_stopped_writer_leaves_no_request_waiting() -> None:
    rec = Recorder()
    rec.gate.clear()
    gc: GroupCommit[str, int, int] = GroupCommit(rec.write)
    waiting = [asyncio.create_task(gc.submit("a", i)) for i in (1, 2)]
    await asyncio.sleep(0)
    later = asyncio.create_task(gc.submit("a", 3))
    await asyncio.sleep(0)
    gc._writers["a"].cancel()  # as at shutdown
    for t in [*waiting, later]:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(t, 5)
    rec.gate.set()
    assert await asyncio.wait_for(gc.submit("a", 4), 5) == 40  # and the key works again

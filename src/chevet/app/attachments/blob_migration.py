"""Moving sealed files from one store to another (the folder to an S3 object store).

Only sealed bytes travel: the files are copied as stored, never opened. Each file is verified by
reading it back from the target and comparing its SHA-256 with the source's. The migration is
resumable without any state of its own: run again, it skips the files already in the target with
the same size and the same hash, and copies the rest (a file half-copied by an interrupted run is
never visible in the target — puts are atomic — so it is simply copied again). The source is
never modified: the operator switches ``[blobs] backend`` once a run reports nothing left to do.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from chevet.ports import BlobStore


class Outcome(StrEnum):
    COPIED = "copied"
    ALREADY_THERE = "already_there"
    MISMATCH = "mismatch"  # read back different from the source: left for the next run
    VANISHED = "vanished"  # deleted from the source meanwhile (retention, shredding)


@dataclass
class MigrationReport:
    total: int = 0
    copied: int = 0
    already_there: int = 0
    vanished: int = 0
    bytes_copied: int = 0
    mismatched: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.mismatched and self.copied + self.already_there + self.vanished == self.total


Progress = Callable[[int, int, Outcome], None]  # (done, total, outcome of the last file)


async def _next(pieces: AsyncIterator[bytes]) -> bytes:
    return await anext(pieces)


def _pull(pieces: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop, digest: hashlib._Hash) -> Iterator[bytes]:
    """The source's async pieces as the plain iterable ``put`` consumes in its writer thread."""
    while True:
        try:
            piece = asyncio.run_coroutine_threadsafe(_next(pieces), loop).result()
        except StopAsyncIteration:
            return
        digest.update(piece)
        yield piece


async def _digest(store: BlobStore, key: str) -> bytes:
    digest = hashlib.sha256()
    async for piece in store.read(key):
        digest.update(piece)
    return digest.digest()


async def migrate_one(source: BlobStore, target: BlobStore, key: str) -> tuple[Outcome, int]:
    size = await source.size(key)
    if size is None:
        return Outcome.VANISHED, 0
    if await target.size(key) == size and await _digest(target, key) == await _digest(source, key):
        return Outcome.ALREADY_THERE, 0
    digest = hashlib.sha256()
    loop = asyncio.get_running_loop()
    written = await target.put(key, _pull(aiter(source.read(key)), loop, digest))
    if written != size or await _digest(target, key) != digest.digest():
        return Outcome.MISMATCH, written
    return Outcome.COPIED, written


async def migrate(source: BlobStore, target: BlobStore, progress: Progress | None = None) -> MigrationReport:
    """Copy every file of ``source`` into ``target``, verified; see the module's docstring."""
    keys = await source.keys()
    report = MigrationReport(total=len(keys))
    for done, key in enumerate(keys, start=1):
        outcome, written = await migrate_one(source, target, key)
        if outcome is Outcome.COPIED:
            report.copied += 1
            report.bytes_copied += written
        elif outcome is Outcome.ALREADY_THERE:
            report.already_there += 1
        elif outcome is Outcome.VANISHED:
            report.vanished += 1
        else:
            report.mismatched.append(key)
        if progress is not None:
            progress(done, report.total, outcome)
    return report

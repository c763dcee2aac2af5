"""The store of sealed files."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Protocol


class BlobStore(Protocol):
    """Sealed files by key (``<conversation>/<keyed hash>``): a folder or an S3 object store.
    Callers hand over ciphertext only."""

    async def put(self, key: str, pieces: Iterable[bytes]) -> int:
        """Store durably (atomic: a reader never sees half a file); returns bytes written."""
        ...

    def read(self, key: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]: ...
    async def size(self, key: str) -> int | None: ...
    async def delete(self, key: str) -> None: ...
    async def keys(self, older_than_seconds: float = 0) -> list[str]: ...

    async def ping(self) -> None:
        """Readiness: returns when a file can be written now, else ``DependencyUnavailable``."""
        ...

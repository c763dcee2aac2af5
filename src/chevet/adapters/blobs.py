"""The filesystem blob store: sealed attachment files under ``<data_dir>/blobs``.

Keys are ``<conversation>/<keyed hash>``, checked against a strict pattern before any path is
built, so no key can walk out of the store. Writes go to a temporary file in the target
folder, are flushed and fsync'd, renamed into place, and the folder is fsync'd: after ``put``
returns, the file survives a power cut, and a reader never sees half a file. Everything
stored is already sealed by the caller; this adapter never sees plaintext. The S3-compatible
store (``blobs_s3.py``) implements the same methods with the same keys.

A store that cannot be written or read (disk full, read-only, I/O error, a network mount gone)
raises ``DependencyUnavailable``; only a missing file is the file's own problem.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from chevet.adapters.disk import has_room
from chevet.core.attachment import is_blob_key
from chevet.core.errors import IntegrityError
from chevet.ports import DependencyUnavailable

READ_SIZE = 256 * 1024


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not is_blob_key(key):
            raise ValueError("invalid blob key")
        conversation, address = key.split("/")
        return self.root / conversation / address[:2] / address

    def _ensure_dirs(self, target: Path) -> None:
        created: list[Path] = []
        for folder in (self.root, target.parent.parent, target.parent):
            if not folder.exists():
                folder.mkdir(mode=0o700, exist_ok=True)
                created.append(folder)
        for folder in created:  # make the new folder entries themselves durable
            _fsync_dir(folder.parent)

    def _put(self, key: str, pieces: Iterable[bytes]) -> int:
        target = self._path(key)
        self._ensure_dirs(target)
        tmp = target.parent / f".tmp-{secrets.token_hex(8)}"
        written = 0
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                for piece in pieces:
                    fh.write(piece)
                    written += len(piece)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        return written

    async def put(self, key: str, pieces: Iterable[bytes]) -> int:
        """Store ``pieces`` (sealing can be lazy: it runs in the writer thread) under ``key``."""
        try:
            return await asyncio.to_thread(self._put, key, pieces)
        except OSError as exc:
            raise DependencyUnavailable("blob_store") from exc

    async def read(self, key: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """The stored bytes from ``offset``, ``length`` of them (all when None), in pieces."""
        path = self._path(key)
        try:
            fh = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError as exc:
            raise IntegrityError("attachment_missing") from exc
        except OSError as exc:
            raise DependencyUnavailable("blob_store") from exc
        try:
            if offset:
                await asyncio.to_thread(fh.seek, offset)
            left = length
            while left is None or left > 0:
                piece = await asyncio.to_thread(fh.read, READ_SIZE if left is None else min(READ_SIZE, left))
                if not piece:
                    return
                if left is not None:
                    left -= len(piece)
                yield piece
        finally:
            fh.close()

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self._path(key).stat)).st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise DependencyUnavailable("blob_store") from exc

    def _delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        _fsync_dir(path.parent)
        for folder in (path.parent, path.parent.parent):
            try:
                folder.rmdir()
            except OSError:
                break

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    def _keys(self, older_than_seconds: float) -> list[str]:
        out: list[str] = []
        if not self.root.exists():
            return out
        horizon = time.time() - older_than_seconds
        for path in self.root.glob("*/*/*"):
            key = f"{path.parent.parent.name}/{path.name}"
            if is_blob_key(key) and (older_than_seconds <= 0 or path.stat().st_mtime < horizon):
                out.append(key)
        return sorted(out)

    def _ping(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = self.root / f".ready-{secrets.token_hex(8)}"
        try:
            with probe.open("xb") as fh:
                fh.write(b"ready")
                fh.flush()
        finally:
            probe.unlink(missing_ok=True)

    async def ping(self) -> None:
        """Ready when a small file can be written in the store and its disk has room left."""
        try:
            await asyncio.to_thread(self._ping)
        except OSError as exc:
            raise DependencyUnavailable("blob_store") from exc
        if not await asyncio.to_thread(has_room, self.root):
            raise DependencyUnavailable("blob_store")

    async def keys(self, older_than_seconds: float = 0) -> list[str]:
        """Stored keys (for the consistency check that finds orphaned files); with
        ``older_than_seconds``, only files written before then (not an upload in progress)."""
        return await asyncio.to_thread(self._keys, older_than_seconds)

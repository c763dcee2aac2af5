"""The master key, and the blobs sealed with it (key rotation re-seals them)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol


class KeyStore(Protocol):
    """Holds the installation master key; data keys only ever leave it wrapped."""

    def wrap(self, data_key: bytes, associated: bytes) -> bytes: ...
    def unwrap(self, wrapped: bytes, associated: bytes) -> bytes: ...
    def derive(self, purpose: str) -> bytes: ...
    def derive_all(self, purpose: str) -> list[bytes]:
        """The purpose key under every master key still held, current first (rotation)."""
        ...
    def current_key_id(self) -> int: ...
    def key_ids(self) -> list[int]: ...
    def key_id_of(self, wrapped: bytes) -> int: ...
    def reload(self, *, force: bool = False) -> None: ...


@dataclass(frozen=True, slots=True)
class SealedItem:
    """One blob sealed with the master key (``by="master"``) or a key derived from it, or an
    organisation's data key (``org_id`` set: wrapped by that organisation's key, or a legacy
    blob of the master key)."""

    column: str
    by: str
    key: tuple[Any, ...]
    aad: bytes
    blob: bytes
    org_id: uuid.UUID | None = None


class SealedBlobRepository(Protocol):
    def columns(self) -> list[tuple[str, str]]: ...
    def unregistered(self) -> list[str]: ...
    def data_key_columns(self) -> list[str]:
        """The registered columns that hold organisations' data keys."""
        ...
    async def batch(self, name: str, after: tuple[Any, ...] | None, limit: int,
                    org_id: uuid.UUID | None = None) -> list[SealedItem]: ...
    async def replace(self, item: SealedItem, new_blob: bytes) -> bool: ...
    async def discard(self, item: SealedItem) -> bool:
        """Delete a data key for good (an organisation's shredding) if it is still the blob read."""
        ...

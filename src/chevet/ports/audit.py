"""The audit chains: appending, checkpoints and their signing key, searches, pruning."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Protocol

from chevet.core.audit import AuditEntry, AuditEvent
from chevet.core.checkpoint import Checkpoint
from chevet.core.witness import Kind, WitnessRecord


class AuditLog(Protocol):
    async def append(self, chain: uuid.UUID, event: AuditEvent, at: datetime, ip: str | None) -> AuditEntry: ...
    async def append_many(self, chain: uuid.UUID,
                          items: Sequence[tuple[AuditEvent, datetime, str | None]]) -> list[AuditEntry]:
        """Several entries at the end of one chain, in order, with one update of its head."""
        ...
    async def reserve(self, chain: uuid.UUID,
                      items: Sequence[tuple[AuditEvent, datetime, str | None]]) -> list[AuditEntry]:
        """Places and hashes at the end of one chain for entries that other rows hold (a
        message's row holds its own ``message.sent`` entry); the head moves, no row is written."""
        ...
    async def chains(self) -> list[uuid.UUID]: ...
    def entries(self, chain: uuid.UUID) -> AsyncIterator[AuditEntry]: ...
    async def head(self, chain: uuid.UUID) -> tuple[int, bytes] | None: ...
    async def query(self, chain: uuid.UUID, *, object_id: uuid.UUID | None = None,
                    actor_id: uuid.UUID | None = None, limit: int = 100) -> list[AuditEntry]: ...


class AuditSigner(Protocol):
    """The installation audit key (Ed25519): signs checkpoints; only the public half leaves it."""

    public_key: bytes
    key_id: str

    def sign(self, message: bytes) -> bytes: ...


class AuditTrail(Protocol):
    """Checkpoints, anchors, searches and pruning of the audit trail."""

    async def add_checkpoint(self, cp: Checkpoint) -> None: ...
    async def checkpoints(self, chain: uuid.UUID) -> list[Checkpoint]: ...
    async def checkpoint_chains(self) -> list[uuid.UUID]: ...
    async def latest_checkpoint(self, chain: uuid.UUID) -> Checkpoint | None: ...
    async def anchor(self, chain: uuid.UUID) -> int | None: ...
    async def set_anchor(self, chain: uuid.UUID, seq: int, at: datetime) -> None: ...
    async def last_seq_before(self, chain: uuid.UUID, before: datetime) -> int: ...
    async def last_seq(self, chain: uuid.UUID) -> int: ...
    async def entry_chains(self) -> list[uuid.UUID]: ...
    async def prune(self, chain: uuid.UUID, up_to_seq: int) -> int: ...
    async def entry_at(self, chain: uuid.UUID, seq: int) -> AuditEntry | None: ...
    async def search(self, chain: uuid.UUID, *, object_id: uuid.UUID | None = None,
                     conversation_id: uuid.UUID | None = None, actor_id: uuid.UUID | None = None,
                     about_id: uuid.UUID | None = None, actions: list[str] | None = None,
                     since: datetime | None = None, until: datetime | None = None,
                     after_seq: int = 0, before_seq: int | None = None, limit: int = 100,
                     ascending: bool = False) -> list[AuditEntry]: ...


class AuditWitness(Protocol):
    """The append-only witness of the signed checkpoints, outside the database (core.witness)."""

    async def start(self, at: datetime, sign: Callable[[bytes], bytes]) -> bool:
        """Begin a witness where there is none (its ``opened`` record); False if one exists."""
        ...

    async def witness(self, checkpoints: Sequence[Checkpoint], at: datetime,
                      sign: Callable[[bytes], bytes], kind: Kind = "checkpoints") -> WitnessRecord:
        """Append one record holding these checkpoints, and forward it where configured."""
        ...

    async def lines(self) -> list[bytes] | None:
        """The witness's lines, or None when it does not exist."""
        ...

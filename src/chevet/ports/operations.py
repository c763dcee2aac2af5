"""The durable record of the console's background operations (export, import, backup)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from chevet.core.operation import Operation, OperationState


class OperationStore(Protocol):
    async def add(self, op: Operation) -> None: ...
    async def of_organisation(self, org_id: uuid.UUID, limit: int = 50) -> list[Operation]: ...
    async def get(self, org_id: uuid.UUID, op_id: uuid.UUID) -> Operation | None: ...

    async def claim(self, now: datetime, lease_until: datetime) -> Operation | None:
        """Lease the oldest due operation (queued, or running with an expired lease); its
        ``attempts`` is the lease token the runner passes back."""
        ...

    async def renew(self, op_id: uuid.UUID, attempt: int, lease_until: datetime, done: int, total: int) -> bool:
        """Extend the lease and record progress; False once another runner took it over."""
        ...

    async def finish(self, op_id: uuid.UUID, attempt: int | None, state: OperationState, at: datetime, *,
                     error: str | None = None, result_name: str | None = None, result_bytes: int | None = None,
                     expires_at: datetime | None = None, done: int | None = None) -> bool: ...
    async def expired(self, now: datetime, limit: int = 50) -> list[Operation]: ...
    async def mark_expired(self, op_id: uuid.UUID) -> None: ...

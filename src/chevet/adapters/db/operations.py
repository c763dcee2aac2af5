"""Console operations in SQL. A runner claims one due operation with a lease (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL; SQLite serialises writers); each claim raises ``attempts``, and every later
write of that runner is conditioned on it, so a runner whose lease was taken over changes nothing."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema_operations import operation
from chevet.core.operation import Operation, OperationKind, OperationState


def _op(r: Row[Any]) -> Operation:
    return Operation(id=r.id, org_id=r.org_id, kind=OperationKind(r.kind), requested_by=r.requested_by,
                     state=OperationState(r.state), done=r.done, total=r.total, attempts=r.attempts,
                     created_at=r.created_at, started_at=r.started_at, finished_at=r.finished_at,
                     expires_at=r.expires_at, result_name=r.result_name, result_bytes=r.result_bytes,
                     input_bytes=r.input_bytes, error=r.error, secret_sealed=r.secret_sealed)


class SqlOperations:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, op: Operation) -> None:
        await self.conn.execute(insert(operation).values(
            id=op.id, org_id=op.org_id, kind=op.kind.value, requested_by=op.requested_by, state=op.state.value,
            done=op.done, total=op.total, attempts=op.attempts, lease_until=None, created_at=op.created_at,
            started_at=None, finished_at=None, expires_at=None, result_name=op.result_name, result_bytes=None,
            input_bytes=op.input_bytes, error=None, secret_sealed=op.secret_sealed))

    async def of_organisation(self, org_id: uuid.UUID, limit: int = 50) -> list[Operation]:
        rows = await self.conn.execute(select(operation).where(operation.c.org_id == org_id)
                                       .order_by(operation.c.created_at.desc()).limit(limit))
        return [_op(r) for r in rows]

    async def get(self, org_id: uuid.UUID, op_id: uuid.UUID) -> Operation | None:
        r = (await self.conn.execute(select(operation).where(operation.c.org_id == org_id,
                                                             operation.c.id == op_id))).first()
        return _op(r) if r else None

    async def claim(self, now: datetime, lease_until: datetime) -> Operation | None:
        """The oldest queued operation, or a running one whose runner stopped renewing its lease."""
        due = or_(operation.c.state == OperationState.QUEUED.value,
                  and_(operation.c.state == OperationState.RUNNING.value, operation.c.lease_until <= now))
        q = select(operation).where(due).order_by(operation.c.created_at).limit(1)
        if self.conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        r = (await self.conn.execute(q)).first()
        if r is None:
            return None
        await self.conn.execute(update(operation).where(operation.c.id == r.id).values(
            state=OperationState.RUNNING.value, lease_until=lease_until, attempts=r.attempts + 1,
            started_at=r.started_at or now, done=0))
        return replace(_op(r), state=OperationState.RUNNING, attempts=r.attempts + 1, done=0,
                       started_at=r.started_at or now)

    async def renew(self, op_id: uuid.UUID, attempt: int, lease_until: datetime, done: int, total: int) -> bool:
        result = await self.conn.execute(update(operation).where(
            operation.c.id == op_id, operation.c.attempts == attempt,
            operation.c.state == OperationState.RUNNING.value).values(lease_until=lease_until, done=done, total=total))
        return bool(result.rowcount)

    async def finish(self, op_id: uuid.UUID, attempt: int | None, state: OperationState, at: datetime, *,
                     error: str | None = None, result_name: str | None = None, result_bytes: int | None = None,
                     expires_at: datetime | None = None, done: int | None = None) -> bool:
        values: dict[str, Any] = {"state": state.value, "finished_at": at, "lease_until": None, "secret_sealed": None,
                                  "error": error[:60] if error else None, "result_name": result_name,
                                  "result_bytes": result_bytes, "expires_at": expires_at}
        if done is not None:
            values |= {"done": done, "total": done}
        q = update(operation).where(operation.c.id == op_id)
        if attempt is not None:
            q = q.where(operation.c.attempts == attempt, operation.c.state == OperationState.RUNNING.value)
        result = await self.conn.execute(q.values(**values))
        return bool(result.rowcount)

    async def expired(self, now: datetime, limit: int = 50) -> list[Operation]:
        rows = await self.conn.execute(select(operation).where(
            operation.c.state == OperationState.DONE.value, operation.c.expires_at <= now).limit(limit))
        return [_op(r) for r in rows]

    async def mark_expired(self, op_id: uuid.UUID) -> None:
        await self.conn.execute(update(operation).where(operation.c.id == op_id).values(
            state=OperationState.EXPIRED.value, result_name=None))

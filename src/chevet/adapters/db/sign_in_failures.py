"""Failed sign-ins per account and source in SQL (``schema_sign_in.py``). The caller holds the
account's credentials row locked (``people.credentials(for_update=True)``), so two processes
never count the same account's failures at once."""

from __future__ import annotations

import uuid
from hashlib import sha256

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema_sign_in import sign_in_failure
from chevet.core.lockout import SourceCount


def _hash(source: str) -> bytes:
    return sha256(source.encode()).digest()


class SqlSignInFailures:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, person_id: uuid.UUID, source: str) -> SourceCount | None:
        row = (await self.conn.execute(select(sign_in_failure).where(
            sign_in_failure.c.person_id == person_id, sign_in_failure.c.source_hash == _hash(source)))).first()
        return SourceCount(row.failures, row.since, row.locked_until) if row else None

    async def put(self, person_id: uuid.UUID, source: str, count: SourceCount, expires_at: float, now: float) -> None:
        """Keep this count until ``expires_at``; the counts of any account over at ``now`` go."""
        await self.conn.execute(delete(sign_in_failure).where(sign_in_failure.c.expires_at <= now))
        await self.clear(person_id, source)
        await self.conn.execute(insert(sign_in_failure).values(
            person_id=person_id, source_hash=_hash(source), failures=count.failures, since=count.since,
            locked_until=count.locked_until, expires_at=expires_at))

    async def clear(self, person_id: uuid.UUID, source: str) -> None:
        await self.conn.execute(delete(sign_in_failure).where(
            sign_in_failure.c.person_id == person_id, sign_in_failure.c.source_hash == _hash(source)))

"""Directory synchronisation in SQL (``schema_directory_sync.py``), always scoped by organisation."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema import person
from chevet.adapters.db.schema_directory_sync import directory_account, directory_sync_lease, directory_sync_run
from chevet.ports.directory_sync import SyncRun


class SqlDirectorySync:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def accounts(self, org_id: uuid.UUID) -> dict[uuid.UUID, str]:
        rows = await self.conn.execute(select(directory_account.c.person_id, directory_account.c.dn)
                                       .where(directory_account.c.org_id == org_id))
        return {r.person_id: r.dn for r in rows}

    async def adopt(self, org_id: uuid.UUID, person_id: uuid.UUID, dn: str) -> None:
        await self.conn.execute(delete(directory_account).where(directory_account.c.org_id == org_id,
                                                                directory_account.c.person_id == person_id))
        await self.conn.execute(insert(directory_account).values(org_id=org_id, person_id=person_id, dn=dn))

    async def rename(self, org_id: uuid.UUID, person_id: uuid.UUID, name: str) -> None:
        await self.conn.execute(update(person).where(person.c.org_id == org_id, person.c.id == person_id)
                                .values(name=name))

    async def record(self, run: SyncRun) -> None:
        await self.conn.execute(insert(directory_sync_run).values(
            id=run.id, org_id=run.org_id, at=run.at, applied=run.applied, outcome=run.outcome, created=run.created,
            updated=run.updated, deactivated=run.deactivated, reason=run.reason))

    async def last(self, org_id: uuid.UUID) -> SyncRun | None:
        row = (await self.conn.execute(select(directory_sync_run).where(directory_sync_run.c.org_id == org_id)
                                       .order_by(directory_sync_run.c.at.desc()).limit(1))).first()
        if row is None:
            return None
        return SyncRun(row.id, row.org_id, row.at, row.applied, row.outcome, row.created, row.updated,
                       row.deactivated, row.reason)

    async def claim(self, org_id: uuid.UUID, holder: str, now: datetime, until: datetime) -> bool:
        lease = directory_sync_lease.c
        row = (await self.conn.execute(select(directory_sync_lease).where(lease.org_id == org_id)
                                       .with_for_update())).first()
        if row is None:
            await self.conn.execute(insert(directory_sync_lease).values(org_id=org_id, holder=holder, until=until))
            return True
        done = await self.conn.execute(update(directory_sync_lease).where(
            lease.org_id == org_id, (lease.until <= now) | (lease.holder == holder)).values(holder=holder, until=until))
        return bool(done.rowcount)

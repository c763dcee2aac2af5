"""Storage of each organisation's key versions (``organisation_key``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema_keys import organisation_key
from chevet.ports.organisation_keys import DESTROYED, OrganisationKey


def _key(r: Any) -> OrganisationKey:
    return OrganisationKey(r.org_id, int(r.version), r.provider, r.reference,
                           bytes(r.wrapped) if r.wrapped is not None else None, r.state, r.created_at,
                           r.destroyed_at)


async def keys_of(conn: AsyncConnection, org_id: uuid.UUID) -> list[OrganisationKey]:
    rows = await conn.execute(select(organisation_key).where(organisation_key.c.org_id == org_id)
                              .order_by(organisation_key.c.version))
    return [_key(r) for r in rows]


class SqlOrganisationKeys:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def of(self, org_id: uuid.UUID) -> list[OrganisationKey]:
        return await keys_of(self._conn, org_id)

    async def add(self, key: OrganisationKey) -> None:
        """Inserts the version unless the organisation already has it: two processes creating
        an organisation's first key at once both go on, with whichever row is stored (the
        caller reads it back); no failed statement aborts the caller's transaction."""
        ins = (pg_insert if self._conn.dialect.name == "postgresql" else sqlite_insert)(organisation_key).values(
            org_id=key.org_id, version=key.version, provider=key.provider, reference=key.reference,
            wrapped=key.wrapped, state=key.state, created_at=key.created_at, destroyed_at=key.destroyed_at)
        await self._conn.execute(ins.on_conflict_do_nothing(index_elements=["org_id", "version"]))

    async def set_state(self, org_id: uuid.UUID, version: int, state: str, at: datetime | None = None) -> None:
        """A destroyed version keeps its row (the statement and the blobs still name it) but no
        key material: the file provider's wrapped key is erased with it."""
        values: dict[str, Any] = {"state": state}
        if state == DESTROYED:
            values.update(wrapped=None, destroyed_at=at)
        await self._conn.execute(update(organisation_key).where(
            organisation_key.c.org_id == org_id, organisation_key.c.version == version).values(values))

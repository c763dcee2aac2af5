from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema import organisation
from chevet.core.entities import Organisation


def _org(row: Any) -> Organisation:
    m = row._mapping
    return Organisation(id=m["id"], slug=m["slug"], name=m["name"], created_at=m["created_at"])


class SqlOrganisations:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, org: Organisation) -> None:
        await self._conn.execute(insert(organisation).values(
            id=org.id, slug=org.slug, name=org.name, created_at=org.created_at))

    async def get(self, org_id: uuid.UUID) -> Organisation | None:
        row = (await self._conn.execute(select(organisation).where(organisation.c.id == org_id))).first()
        return _org(row) if row else None

    async def by_slug(self, slug: str) -> Organisation | None:
        row = (await self._conn.execute(select(organisation).where(organisation.c.slug == slug))).first()
        return _org(row) if row else None

    async def all(self) -> list[Organisation]:
        rows = await self._conn.execute(select(organisation).order_by(organisation.c.slug))
        return [_org(r) for r in rows]

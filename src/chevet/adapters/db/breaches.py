"""The personal-data breach log (GDPR Art. 33(5)): every breach is recorded, notified or not."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema_governance import breach
from chevet.core.breach import Breach


def _breach(row: Any) -> Breach:
    m = row._mapping
    return Breach(id=m["id"], org_id=m["org_id"], discovered_at=m["discovered_at"], recorded_at=m["recorded_at"],
                  recorded_by=m["recorded_by"], nature=m["nature"], data_categories=m["data_categories"],
                  people_affected=m["people_affected"], consequences=m["consequences"], measures=m["measures"],
                  authority_notified_at=m["authority_notified_at"], people_notified_at=m["people_notified_at"],
                  closed_at=m["closed_at"], records_affected=m["records_affected"], late_reason=m["late_reason"])


class SqlBreaches:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, b: Breach) -> None:
        await self._conn.execute(insert(breach).values(
            id=b.id, org_id=b.org_id, discovered_at=b.discovered_at, recorded_at=b.recorded_at,
            recorded_by=b.recorded_by, nature=b.nature, data_categories=b.data_categories,
            people_affected=b.people_affected, consequences=b.consequences, measures=b.measures,
            authority_notified_at=b.authority_notified_at, people_notified_at=b.people_notified_at,
            closed_at=b.closed_at, records_affected=b.records_affected, late_reason=b.late_reason))

    async def save(self, b: Breach) -> None:
        await self._conn.execute(update(breach).where(breach.c.org_id == b.org_id, breach.c.id == b.id).values(
            nature=b.nature, data_categories=b.data_categories, people_affected=b.people_affected,
            consequences=b.consequences, measures=b.measures, authority_notified_at=b.authority_notified_at,
            people_notified_at=b.people_notified_at, closed_at=b.closed_at, records_affected=b.records_affected,
            late_reason=b.late_reason))

    async def get(self, org_id: uuid.UUID, breach_id: uuid.UUID) -> Breach | None:
        row = (await self._conn.execute(select(breach).where(breach.c.org_id == org_id,
                                                             breach.c.id == breach_id))).first()
        return _breach(row) if row else None

    async def all(self, org_id: uuid.UUID) -> list[Breach]:
        rows = await self._conn.execute(select(breach).where(breach.c.org_id == org_id)
                                        .order_by(breach.c.discovered_at.desc()))
        return [_breach(r) for r in rows]

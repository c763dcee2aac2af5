from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema import team, team_member
from chevet.core.entities import Team


def _team(row: Any) -> Team:
    m = row._mapping
    return Team(id=m["id"], org_id=m["org_id"], name=m["name"], created_at=m["created_at"])


class SqlTeams:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, t: Team) -> None:
        await self._conn.execute(insert(team).values(id=t.id, org_id=t.org_id, name=t.name,
                                                     created_at=t.created_at))

    async def get(self, org_id: uuid.UUID, team_id: uuid.UUID) -> Team | None:
        row = (await self._conn.execute(select(team).where(team.c.org_id == org_id,
                                                           team.c.id == team_id))).first()
        return _team(row) if row else None

    async def all(self, org_id: uuid.UUID) -> list[Team]:
        rows = await self._conn.execute(select(team).where(team.c.org_id == org_id).order_by(team.c.name))
        return [_team(r) for r in rows]

    async def add_member(self, team_id: uuid.UUID, person_id: uuid.UUID) -> None:
        await self._conn.execute(insert(team_member).values(team_id=team_id, person_id=person_id))

    async def member_ids(self, team_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self._conn.execute(select(team_member.c.person_id).where(team_member.c.team_id == team_id))
        return [r[0] for r in rows]

    async def remove_member(self, team_id: uuid.UUID, person_id: uuid.UUID) -> None:
        await self._conn.execute(delete(team_member).where(team_member.c.team_id == team_id,
                                                           team_member.c.person_id == person_id))

"""Duty rosters in SQL. An assignment covers ``[starts_at, ends_at)``: the queries for "now" ask
``starts_at <= at < ends_at``, served by the (organisation, team or role, end) indexes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema_roster import roster_assignment, roster_role, roster_shift
from chevet.core.care.roster import Assignment, DutyKind, RoleAddress, ShiftPattern


def _shift(r: Row[Any]) -> ShiftPattern:
    return ShiftPattern(id=r.id, org_id=r.org_id, team_id=r.team_id, name=r.name, starts=r.starts_min,
                        ends=r.ends_min, created_at=r.created_at)


def _assignment(r: Row[Any]) -> Assignment:
    return Assignment(id=r.id, org_id=r.org_id, team_id=r.team_id, person_id=r.person_id, kind=DutyKind(r.kind),
                      starts_at=r.starts_at, ends_at=r.ends_at, shift_id=r.shift_id, role_id=r.role_id,
                      rank=r.rank, created_at=r.created_at, created_by=r.created_by)


def _role(r: Row[Any]) -> RoleAddress:
    return RoleAddress(id=r.id, org_id=r.org_id, slug=r.slug, label=r.label, team_id=r.team_id,
                       created_at=r.created_at)


_ORDER = (roster_assignment.c.starts_at, roster_assignment.c.rank, roster_assignment.c.created_at,
          roster_assignment.c.id)


class SqlRosters:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    # --- shift patterns -------------------------------------------------------------------
    async def shifts(self, org_id: uuid.UUID, team_id: uuid.UUID) -> list[ShiftPattern]:
        rows = await self.conn.execute(select(roster_shift).where(
            roster_shift.c.org_id == org_id, roster_shift.c.team_id == team_id)
            .order_by(roster_shift.c.starts_min, roster_shift.c.name))
        return [_shift(r) for r in rows]

    async def get_shift(self, org_id: uuid.UUID, shift_id: uuid.UUID) -> ShiftPattern | None:
        r = (await self.conn.execute(select(roster_shift).where(
            roster_shift.c.org_id == org_id, roster_shift.c.id == shift_id))).first()
        return _shift(r) if r else None

    async def add_shift(self, shift: ShiftPattern) -> None:
        await self.conn.execute(insert(roster_shift).values(
            id=shift.id, org_id=shift.org_id, team_id=shift.team_id, name=shift.name, starts_min=shift.starts,
            ends_min=shift.ends, created_at=shift.created_at))

    async def update_shift(self, shift: ShiftPattern) -> None:
        await self.conn.execute(update(roster_shift).where(
            roster_shift.c.org_id == shift.org_id, roster_shift.c.id == shift.id)
            .values(name=shift.name, starts_min=shift.starts, ends_min=shift.ends))

    async def remove_shift(self, org_id: uuid.UUID, shift_id: uuid.UUID) -> bool:
        await self.conn.execute(update(roster_assignment).where(
            roster_assignment.c.org_id == org_id, roster_assignment.c.shift_id == shift_id).values(shift_id=None))
        result = await self.conn.execute(delete(roster_shift).where(
            roster_shift.c.org_id == org_id, roster_shift.c.id == shift_id))
        return bool(result.rowcount)

    # --- assignments --------------------------------------------------------------------------
    async def add_assignment(self, assignment: Assignment) -> None:
        a = assignment
        await self.conn.execute(insert(roster_assignment).values(
            id=a.id, org_id=a.org_id, team_id=a.team_id, person_id=a.person_id, kind=a.kind.value,
            starts_at=a.starts_at, ends_at=a.ends_at, shift_id=a.shift_id, role_id=a.role_id, rank=a.rank,
            created_at=a.created_at, created_by=a.created_by))

    async def get_assignment(self, org_id: uuid.UUID, assignment_id: uuid.UUID) -> Assignment | None:
        r = (await self.conn.execute(select(roster_assignment).where(
            roster_assignment.c.org_id == org_id, roster_assignment.c.id == assignment_id))).first()
        return _assignment(r) if r else None

    async def remove_assignment(self, org_id: uuid.UUID, assignment_id: uuid.UUID) -> bool:
        result = await self.conn.execute(delete(roster_assignment).where(
            roster_assignment.c.org_id == org_id, roster_assignment.c.id == assignment_id))
        return bool(result.rowcount)

    async def at(self, org_id: uuid.UUID, team_id: uuid.UUID, at: datetime) -> list[Assignment]:
        c = roster_assignment.c
        rows = await self.conn.execute(select(roster_assignment).where(
            c.org_id == org_id, c.team_id == team_id, c.ends_at > at, c.starts_at <= at).order_by(*_ORDER))
        return [_assignment(r) for r in rows]

    async def between(self, org_id: uuid.UUID, team_id: uuid.UUID, start: datetime, end: datetime,
                      limit: int = 2000) -> list[Assignment]:
        c = roster_assignment.c
        rows = await self.conn.execute(select(roster_assignment).where(
            c.org_id == org_id, c.team_id == team_id, c.ends_at > start, c.starts_at < end)
            .order_by(*_ORDER).limit(limit))
        return [_assignment(r) for r in rows]

    async def role_at(self, org_id: uuid.UUID, role_id: uuid.UUID, at: datetime) -> list[Assignment]:
        c = roster_assignment.c
        rows = await self.conn.execute(select(roster_assignment).where(
            c.org_id == org_id, c.role_id == role_id, c.ends_at > at, c.starts_at <= at).order_by(*_ORDER))
        return [_assignment(r) for r in rows]

    async def has_roster(self, org_id: uuid.UUID, team_id: uuid.UUID) -> bool:
        for table in (roster_assignment, roster_shift):
            found = (await self.conn.execute(select(table.c.id).where(
                table.c.org_id == org_id, table.c.team_id == team_id).limit(1))).first()
            if found is not None:
                return True
        return False

    # --- the whole organisation ---------------------------------------------------------------
    async def all_shifts(self, org_id: uuid.UUID) -> list[ShiftPattern]:
        rows = await self.conn.execute(select(roster_shift).where(roster_shift.c.org_id == org_id)
                                       .order_by(roster_shift.c.team_id, roster_shift.c.starts_min, roster_shift.c.id))
        return [_shift(r) for r in rows]

    async def all_assignments(self, org_id: uuid.UUID) -> list[Assignment]:
        rows = await self.conn.execute(select(roster_assignment).where(roster_assignment.c.org_id == org_id)
                                       .order_by(*_ORDER))
        return [_assignment(r) for r in rows]

    # --- role addresses ---------------------------------------------------------------------
    async def roles(self, org_id: uuid.UUID) -> list[RoleAddress]:
        rows = await self.conn.execute(select(roster_role).where(roster_role.c.org_id == org_id)
                                       .order_by(roster_role.c.slug))
        return [_role(r) for r in rows]

    async def get_role(self, org_id: uuid.UUID, role_id: uuid.UUID) -> RoleAddress | None:
        r = (await self.conn.execute(select(roster_role).where(
            roster_role.c.org_id == org_id, roster_role.c.id == role_id))).first()
        return _role(r) if r else None

    async def role_by_slug(self, org_id: uuid.UUID, slug: str) -> RoleAddress | None:
        r = (await self.conn.execute(select(roster_role).where(
            roster_role.c.org_id == org_id, roster_role.c.slug == slug))).first()
        return _role(r) if r else None

    async def add_role(self, role: RoleAddress) -> None:
        await self.conn.execute(insert(roster_role).values(
            id=role.id, org_id=role.org_id, slug=role.slug, label=role.label, team_id=role.team_id,
            created_at=role.created_at))

    async def update_role(self, role: RoleAddress) -> None:
        await self.conn.execute(update(roster_role).where(
            roster_role.c.org_id == role.org_id, roster_role.c.id == role.id)
            .values(slug=role.slug, label=role.label, team_id=role.team_id))

    async def remove_role(self, org_id: uuid.UUID, role_id: uuid.UUID) -> bool:
        await self.conn.execute(update(roster_assignment).where(
            roster_assignment.c.org_id == org_id, roster_assignment.c.role_id == role_id).values(role_id=None))
        result = await self.conn.execute(delete(roster_role).where(
            roster_role.c.org_id == org_id, roster_role.c.id == role_id))
        return bool(result.rowcount)

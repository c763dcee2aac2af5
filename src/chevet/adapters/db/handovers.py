"""Handover notes and team templates in SQL. Confirming and flagging are conditional updates
(``... WHERE confirmed_at IS NULL``): of two nurses tapping at once, or two server processes
flagging at once, exactly one changes the row."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, and_, cast, delete, func, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Integer

from chevet.adapters.db.schema_handover import handover, handover_template
from chevet.core import blind_index
from chevet.core.care.handover import Handover, HandoverTemplate

_COLS = [c for c in handover.c if c.name != "terms"]


def _h(r: Row[Any]) -> Handover:
    return Handover(id=r.id, org_id=r.org_id, conversation_id=r.conversation_id, team_id=r.team_id,
                    author_id=r.author_id, created_at=r.created_at, shift_name=r.shift_name,
                    shift_starts_at=r.shift_starts_at, shift_ends_at=r.shift_ends_at,
                    content_sealed=bytes(r.content_sealed), confirmed_by=r.confirmed_by,
                    confirmed_at=r.confirmed_at, flagged_at=r.flagged_at)


def _t(r: Row[Any]) -> HandoverTemplate:
    return HandoverTemplate(r.name, r.target, r.prompt_data, r.prompt_actions, r.prompt_results)


class SqlHandovers:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._pg = conn.dialect.name == "postgresql"

    async def add(self, h: Handover, terms: Sequence[int]) -> None:
        await self._conn.execute(insert(handover).values(
            id=h.id, org_id=h.org_id, conversation_id=h.conversation_id, team_id=h.team_id, author_id=h.author_id,
            created_at=h.created_at, shift_name=h.shift_name, shift_starts_at=h.shift_starts_at,
            shift_ends_at=h.shift_ends_at, content_sealed=h.content_sealed, terms=list(terms),
            confirmed_by=h.confirmed_by, confirmed_at=h.confirmed_at, flagged_at=h.flagged_at))

    async def get(self, org_id: uuid.UUID, handover_id: uuid.UUID) -> Handover | None:
        r = (await self._conn.execute(select(*_COLS).where(handover.c.org_id == org_id,
                                                          handover.c.id == handover_id))).first()
        return _h(r) if r else None

    async def open_in(self, org_id: uuid.UUID, conversation_ids: Sequence[uuid.UUID],
                      limit: int = 200) -> list[Handover]:
        if not conversation_ids:
            return []
        rows = await self._conn.execute(select(*_COLS).where(
            handover.c.org_id == org_id, handover.c.conversation_id.in_(list(conversation_ids)),
            handover.c.confirmed_at.is_(None)).order_by(handover.c.shift_starts_at, handover.c.created_at)
            .limit(limit))
        return [_h(r) for r in rows]

    async def of_conversation(self, org_id: uuid.UUID, conversation_id: uuid.UUID,
                              limit: int = 50) -> list[Handover]:
        rows = await self._conn.execute(select(*_COLS).where(
            handover.c.org_id == org_id, handover.c.conversation_id == conversation_id)
            .order_by(handover.c.created_at.desc()).limit(limit))
        return [_h(r) for r in rows]

    async def confirm(self, org_id: uuid.UUID, handover_id: uuid.UUID, person_id: uuid.UUID, at: datetime) -> bool:
        result = await self._conn.execute(update(handover).where(
            handover.c.org_id == org_id, handover.c.id == handover_id, handover.c.confirmed_at.is_(None))
            .values(confirmed_by=person_id, confirmed_at=at))
        return bool(result.rowcount)

    async def due_for_flag(self, shift_started_before: datetime, limit: int = 100) -> list[Handover]:
        rows = await self._conn.execute(select(*_COLS).where(
            handover.c.confirmed_at.is_(None), handover.c.flagged_at.is_(None),
            handover.c.shift_starts_at <= shift_started_before).order_by(handover.c.shift_starts_at).limit(limit))
        return [_h(r) for r in rows]

    async def mark_flagged(self, handover_id: uuid.UUID, at: datetime) -> bool:
        result = await self._conn.execute(update(handover).where(
            handover.c.id == handover_id, handover.c.flagged_at.is_(None), handover.c.confirmed_at.is_(None))
            .values(flagged_at=at))
        return bool(result.rowcount)

    async def late(self, org_id: uuid.UUID, limit: int = 200) -> list[Handover]:
        rows = await self._conn.execute(select(*_COLS).where(
            handover.c.org_id == org_id, handover.c.confirmed_at.is_(None), handover.c.flagged_at.is_not(None))
            .order_by(handover.c.shift_starts_at).limit(limit))
        return [_h(r) for r in rows]

    def _contains_any(self, terms: list[int]) -> ColumnElement[bool]:
        if self._pg:
            return handover.c.terms.op("&&")(cast(postgresql.array(terms), postgresql.ARRAY(Integer)))
        # Packed 4-byte values: a match across a boundary is dropped by the caller after opening.
        return or_(*(func.instr(handover.c.terms, literal(blind_index.pack([t]), LargeBinary)) > 0 for t in terms))

    async def search(self, org_id: uuid.UUID, wanted: dict[uuid.UUID, list[list[int]]],
                     limit: int) -> list[Handover]:
        clauses = [and_(handover.c.conversation_id == conv, *(self._contains_any(o) for o in alternatives))
                   for conv, alternatives in wanted.items() if alternatives]
        if not clauses:
            return []
        rows = await self._conn.execute(select(*_COLS).where(handover.c.org_id == org_id, or_(*clauses))
                                        .order_by(handover.c.created_at.desc()).limit(limit))
        return [_h(r) for r in rows]

    async def of_organisation(self, org_id: uuid.UUID) -> list[Handover]:
        rows = await self._conn.execute(select(*_COLS).where(handover.c.org_id == org_id)
                                        .order_by(handover.c.created_at, handover.c.id))
        return [_h(r) for r in rows]

    async def remove_for_conversation(self, conversation_id: uuid.UUID) -> int:
        result = await self._conn.execute(delete(handover).where(handover.c.conversation_id == conversation_id))
        return int(result.rowcount or 0)

    async def templates(self, org_id: uuid.UUID, team_id: uuid.UUID) -> list[HandoverTemplate] | None:
        rows = (await self._conn.execute(select(handover_template).where(
            handover_template.c.org_id == org_id, handover_template.c.team_id == team_id)
            .order_by(handover_template.c.position))).all()
        return [_t(r) for r in rows] if rows else None

    async def set_templates(self, org_id: uuid.UUID, team_id: uuid.UUID, templates: Sequence[HandoverTemplate],
                            at: datetime) -> None:
        await self._conn.execute(delete(handover_template).where(
            handover_template.c.org_id == org_id, handover_template.c.team_id == team_id))
        if templates:
            await self._conn.execute(insert(handover_template), [
                {"org_id": org_id, "team_id": team_id, "position": n, "name": t.name, "target": t.target,
                 "prompt_data": t.prompt_data, "prompt_actions": t.prompt_actions,
                 "prompt_results": t.prompt_results, "updated_at": at} for n, t in enumerate(templates)])

    async def all_templates(self, org_id: uuid.UUID) -> dict[uuid.UUID, list[HandoverTemplate]]:
        rows = await self._conn.execute(select(handover_template).where(handover_template.c.org_id == org_id)
                                        .order_by(handover_template.c.team_id, handover_template.c.position))
        out: dict[uuid.UUID, list[HandoverTemplate]] = {}
        for r in rows:
            out.setdefault(r.team_id, []).append(_t(r))
        return out

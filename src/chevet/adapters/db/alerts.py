"""Urgent alerts in SQL. Every change of an alert is written conditioned on the version it was
read at (``save``), so that of two processes escalating the same due alert, or an escalation and
an acknowledgement racing, exactly one wins; the loser writes nothing. On PostgreSQL the due
alerts are read ``FOR UPDATE SKIP LOCKED``: a second runner skips what the first is escalating."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema_alert import care_alert, care_alert_event, care_alert_ladder
from chevet.core.care.alert import (
    AckKind,
    Alert,
    AlertEvent,
    AlertState,
    AlertTarget,
    EventKind,
    Ladder,
    LadderStep,
)


def _ids(value: Sequence[uuid.UUID]) -> str:
    return ",".join(v.hex for v in value)


def _parse_ids(value: str) -> tuple[uuid.UUID, ...]:
    return tuple(uuid.UUID(v) for v in value.split(",") if v)


def _alert(r: Row[Any]) -> Alert:
    return Alert(id=r.id, org_id=r.org_id, conversation_id=r.conversation_id, message_id=r.message_id,
                 message_seq=r.message_seq, team_id=r.team_id, raised_by=r.raised_by, raised_at=r.raised_at,
                 target=AlertTarget.parse(r.target), state=AlertState(r.state), step=r.step, due_at=r.due_at,
                 targeted=_parse_ids(r.targeted), current=_parse_ids(r.current), late=bool(r.late),
                 acknowledged_by=r.acknowledged_by, acknowledged_at=r.acknowledged_at,
                 ack=AckKind(r.ack) if r.ack else None, version=r.version)


def _values(a: Alert) -> dict[str, Any]:
    return {"state": a.state.value, "step": a.step, "due_at": a.due_at, "targeted": _ids(a.targeted),
            "current": _ids(a.current), "late": a.late, "acknowledged_by": a.acknowledged_by,
            "acknowledged_at": a.acknowledged_at, "ack": a.ack.value if a.ack else None, "version": a.version}


def _event(r: Row[Any]) -> AlertEvent:
    return AlertEvent(id=r.id, alert_id=r.alert_id, org_id=r.org_id, at=r.at, kind=EventKind(r.kind), step=r.step,
                      people=_parse_ids(r.people), actor_id=r.actor_id, ack=AckKind(r.ack) if r.ack else None)


def _ladder(r: Row[Any]) -> Ladder:
    return Ladder(day_delay=timedelta(seconds=r.day_delay_s), night_delay=timedelta(seconds=r.night_delay_s),
                  night_starts=r.night_starts, night_ends=r.night_ends,
                  steps=tuple(LadderStep.parse(s) for s in r.steps.split(",") if s))


class SqlAlerts:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, alert: Alert) -> None:
        await self.conn.execute(insert(care_alert).values(
            id=alert.id, org_id=alert.org_id, conversation_id=alert.conversation_id, message_id=alert.message_id,
            message_seq=alert.message_seq, team_id=alert.team_id, raised_by=alert.raised_by,
            raised_at=alert.raised_at, target=alert.target.encode(), **_values(alert)))

    async def get(self, org_id: uuid.UUID, alert_id: uuid.UUID) -> Alert | None:
        r = (await self.conn.execute(select(care_alert).where(care_alert.c.org_id == org_id,
                                                              care_alert.c.id == alert_id))).first()
        return _alert(r) if r else None

    async def save(self, alert: Alert, expected_version: int) -> bool:
        result = await self.conn.execute(update(care_alert).where(
            care_alert.c.id == alert.id, care_alert.c.org_id == alert.org_id,
            care_alert.c.version == expected_version).values(**_values(alert)))
        return bool(result.rowcount)

    async def of_conversation(self, org_id: uuid.UUID, conversation_id: uuid.UUID, limit: int = 20) -> list[Alert]:
        rows = await self.conn.execute(select(care_alert).where(
            care_alert.c.org_id == org_id, care_alert.c.conversation_id == conversation_id)
            .order_by(care_alert.c.raised_at.desc()).limit(limit))
        return [_alert(r) for r in rows]

    async def of_organisation(self, org_id: uuid.UUID) -> list[Alert]:
        rows = await self.conn.execute(select(care_alert).where(care_alert.c.org_id == org_id)
                                       .order_by(care_alert.c.raised_at, care_alert.c.id))
        return [_alert(r) for r in rows]

    async def open_in(self, org_id: uuid.UUID, limit: int = 200) -> list[Alert]:
        rows = await self.conn.execute(select(care_alert).where(
            care_alert.c.org_id == org_id, care_alert.c.state == AlertState.OPEN.value)
            .order_by(care_alert.c.raised_at).limit(limit))
        return [_alert(r) for r in rows]

    async def due(self, now: datetime, limit: int = 50) -> list[Alert]:
        q = select(care_alert).where(care_alert.c.state == AlertState.OPEN.value, care_alert.c.due_at.is_not(None),
                                     care_alert.c.due_at <= now).order_by(care_alert.c.due_at).limit(limit)
        if self.conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        return [_alert(r) for r in await self.conn.execute(q)]

    async def remove_for_conversation(self, conversation_id: uuid.UUID, before: datetime | None = None) -> int:
        gone = select(care_alert.c.id).where(care_alert.c.conversation_id == conversation_id)
        if before is not None:
            gone = gone.where(care_alert.c.raised_at < before)
        await self.conn.execute(delete(care_alert_event).where(care_alert_event.c.alert_id.in_(gone)))
        result = await self.conn.execute(delete(care_alert).where(care_alert.c.id.in_(gone)))
        return int(result.rowcount or 0)

    async def add_events(self, events: Sequence[AlertEvent]) -> None:
        if events:
            await self.conn.execute(insert(care_alert_event), [
                {"id": e.id, "alert_id": e.alert_id, "org_id": e.org_id, "at": e.at, "kind": e.kind.value,
                 "step": e.step, "people": _ids(e.people), "actor_id": e.actor_id,
                 "ack": e.ack.value if e.ack else None, "pushed_at": None} for e in events])

    async def events_of(self, alert_ids: Sequence[uuid.UUID]) -> list[AlertEvent]:
        if not alert_ids:
            return []
        rows = await self.conn.execute(select(care_alert_event).where(care_alert_event.c.alert_id.in_(alert_ids))
                                       .order_by(care_alert_event.c.at, care_alert_event.c.step))
        return [_event(r) for r in rows]

    async def claim_push(self, event_id: uuid.UUID, at: datetime) -> bool:
        result = await self.conn.execute(update(care_alert_event).where(
            care_alert_event.c.id == event_id, care_alert_event.c.pushed_at.is_(None)).values(pushed_at=at))
        return bool(result.rowcount)

    async def ladder(self, org_id: uuid.UUID, scope_id: uuid.UUID) -> Ladder | None:
        r = (await self.conn.execute(select(care_alert_ladder).where(
            care_alert_ladder.c.org_id == org_id, care_alert_ladder.c.scope_id == scope_id))).first()
        return _ladder(r) if r else None

    async def set_ladder(self, org_id: uuid.UUID, scope_id: uuid.UUID, ladder: Ladder, at: datetime,
                         by: uuid.UUID | None) -> None:
        values = {"day_delay_s": int(ladder.day_delay.total_seconds()),
                  "night_delay_s": int(ladder.night_delay.total_seconds()), "night_starts": ladder.night_starts,
                  "night_ends": ladder.night_ends, "steps": ",".join(s.encode() for s in ladder.steps),
                  "updated_at": at, "updated_by": by}
        done = await self.conn.execute(update(care_alert_ladder).where(
            care_alert_ladder.c.org_id == org_id, care_alert_ladder.c.scope_id == scope_id).values(**values))
        if not done.rowcount:
            await self.conn.execute(insert(care_alert_ladder).values(scope_id=scope_id, org_id=org_id, **values))

    async def ladders(self, org_id: uuid.UUID) -> dict[uuid.UUID, Ladder]:
        rows = await self.conn.execute(select(care_alert_ladder).where(care_alert_ladder.c.org_id == org_id))
        return {r.scope_id: _ladder(r) for r in rows}

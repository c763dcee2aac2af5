"""Urgent alerts in the organisation's archive: each alert with its state, its timeline and the
teams' ladders, so that an organisation moved to another installation keeps who was called,
who took what and when (the alert's message itself travels with its conversation)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from chevet.app.services import Unit
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
from chevet.ports import Transaction


def _t(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _s(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _time(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("naive time")
    return parsed


def _opt_time(value: Any) -> datetime | None:
    return None if value is None else _time(value)


def _id(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))


def _opt_id(value: Any) -> uuid.UUID | None:
    return None if value is None else _id(value)


async def export_records(tx: Transaction, org_id: uuid.UUID) -> dict[str, list[dict[str, object]]]:
    alerts = await tx.alerts.of_organisation(org_id)
    events = await tx.alerts.events_of([a.id for a in alerts])
    return {
        "alerts": [{"record": "alert", "id": str(a.id), "conversation_id": str(a.conversation_id),
                    "message_id": str(a.message_id), "message_seq": a.message_seq, "team_id": _s(a.team_id),
                    "raised_by": str(a.raised_by), "raised_at": a.raised_at.isoformat(),
                    "target": a.target.encode(), "state": a.state.value, "step": a.step, "due_at": _t(a.due_at),
                    "targeted": [str(p) for p in a.targeted], "current": [str(p) for p in a.current],
                    "late": a.late, "acknowledged_by": _s(a.acknowledged_by),
                    "acknowledged_at": _t(a.acknowledged_at), "ack": a.ack.value if a.ack else None}
                   for a in alerts],
        "alert_events": [{"record": "alert_event", "id": str(e.id), "alert_id": str(e.alert_id),
                          "at": e.at.isoformat(), "kind": e.kind.value, "step": e.step,
                          "people": [str(p) for p in e.people], "actor_id": _s(e.actor_id),
                          "ack": e.ack.value if e.ack else None} for e in events],
        "alert_ladders": [{"record": "alert_ladder", "scope_id": str(scope),
                           "day_minutes": int(ladder.day_delay.total_seconds() // 60),
                           "night_minutes": int(ladder.night_delay.total_seconds() // 60),
                           "night_starts": ladder.night_starts, "night_ends": ladder.night_ends,
                           "steps": [s.encode() for s in ladder.steps]}
                          for scope, ladder in (await tx.alerts.ladders(org_id)).items()],
    }


async def import_records(u: Unit, org_id: uuid.UUID, alerts: Sequence[dict[str, Any]],
                         events: Sequence[dict[str, Any]], ladders: Sequence[dict[str, Any]]) -> int:
    """Inside the archive import's transaction (archives made before alerts were exported have
    none). Every imported timeline line counts as notified already: nobody is called again."""
    for r in alerts:
        await u.tx.alerts.add(Alert(
            _id(r["id"]), org_id, _id(r["conversation_id"]), _id(r["message_id"]), int(r["message_seq"]),
            _opt_id(r["team_id"]), _id(r["raised_by"]), _time(r["raised_at"]), AlertTarget.parse(str(r["target"])),
            AlertState(r["state"]), int(r["step"]), _opt_time(r["due_at"]), tuple(_id(p) for p in r["targeted"]),
            tuple(_id(p) for p in r["current"]), bool(r["late"]), _opt_id(r["acknowledged_by"]),
            _opt_time(r["acknowledged_at"]), AckKind(r["ack"]) if r["ack"] else None))
    imported = [AlertEvent(_id(e["id"]), _id(e["alert_id"]), org_id, _time(e["at"]), EventKind(e["kind"]),
                           int(e["step"]), tuple(_id(p) for p in e["people"]), _opt_id(e["actor_id"]),
                           AckKind(e["ack"]) if e["ack"] else None) for e in events]
    await u.tx.alerts.add_events(imported)
    now = u.services.clock.now()
    for e in imported:
        await u.tx.alerts.claim_push(e.id, now)
    for r in ladders:
        await u.tx.alerts.set_ladder(org_id, _id(r["scope_id"]), Ladder(
            day_delay=timedelta(minutes=int(r["day_minutes"])), night_delay=timedelta(minutes=int(r["night_minutes"])),
            night_starts=int(r["night_starts"]), night_ends=int(r["night_ends"]),
            steps=tuple(LadderStep.parse(str(s)) for s in r["steps"])), now, None)
    return len(alerts)

"""Urgent alerts in the API: read one, acknowledge it (« Je m'en occupe »: ``taken``, « Vu, pas
d'action »: ``seen``). Only a person the alert notified may acknowledge it; a second
acknowledgement is refused (409) and changes nothing. Times are ISO 8601 in UTC; clients show
them in Europe/Paris."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import Field
from typing_extensions import TypedDict

from chevet.app.care import alerts
from chevet.app.care.alerts import AlertView
from chevet.core.care.alert import AckKind
from chevet.core.ids import parse_id
from chevet.web.api.models import Body
from chevet.web.api.openapi import refusals
from chevet.web.deps import ActorDep, ServicesDep

router = APIRouter(tags=["alerts"])


class AckIn(Body):
    ack: Literal["taken", "seen"] = Field(description="taken: « Je m'en occupe »; seen: « Vu, pas d'action »")


class AlertLineOut(TypedDict):
    at: str
    kind: str  # raised, notified, escalated, nobody, acknowledged, exhausted
    step: int
    people: list[str]
    actor: str | None
    ack: str | None


class AlertOut(TypedDict):
    id: str
    conversation_id: str
    message_seq: int
    state: str  # open, acknowledged
    late: bool
    exhausted: bool
    step: int
    due_at: str | None
    current: list[str]
    acknowledged_by: str | None
    acknowledged_at: str | None
    ack: str | None
    may_acknowledge: bool
    timeline: list[AlertLineOut]


def _out(v: AlertView) -> AlertOut:
    return {"id": str(v.id), "conversation_id": str(v.conversation_id), "message_seq": v.message_seq,
            "state": "open" if v.open else "acknowledged", "late": v.late, "exhausted": v.exhausted, "step": v.step,
            "due_at": v.due_at.isoformat() if v.due_at else None, "current": list(v.current),
            "acknowledged_by": v.acknowledged_by,
            "acknowledged_at": v.acknowledged_at.isoformat() if v.acknowledged_at else None,
            "ack": v.ack.value if v.ack else None, "may_acknowledge": v.may_acknowledge,
            "timeline": [{"at": line.at.isoformat(), "kind": line.kind.value, "step": line.step,
                          "people": list(line.people), "actor": line.actor,
                          "ack": line.ack.value if line.ack else None} for line in v.timeline]}


@router.get("/alerts/{alert_id}")
async def get_alert(alert_id: str, actor: ActorDep, svc: ServicesDep) -> AlertOut:
    """An alert and its timeline, for the members of its conversation."""
    return _out(await alerts.alert_view(svc, actor, parse_id(alert_id)))


@router.post("/alerts/{alert_id}/acknowledge", responses=refusals(409))
async def acknowledge(alert_id: str, body: AckIn, actor: ActorDep, svc: ServicesDep) -> AlertOut:
    """Acknowledge an alert that notified the caller; 409 if someone already did (who and when,
    in words), 403 if it never notified the caller."""
    done = await alerts.acknowledge(svc, actor, parse_id(alert_id), AckKind(body.ack))
    return _out(done.view)

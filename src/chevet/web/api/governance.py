"""Governance API: access traces (JSON and CSV), retention (policies, per-conversation view,
override, closing a care case, legal hold, what expires soon), GDPR (own data, register,
breach log, anonymisation)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import Field, StrictInt
from typing_extensions import TypedDict

from chevet.app.governance import audit_trail, gdpr, retention
from chevet.app.signalement import retention as signalement_retention
from chevet.app.signalement.views import RecordRetentionView
from chevet.core.errors import InvalidInput
from chevet.core.ids import parse_id
from chevet.core.spreadsheet import safe_cell
from chevet.web.api.models import Body, Digits, Moment
from chevet.web.api.openapi import answers
from chevet.web.deps import ActorDep, ServicesDep

router = APIRouter(tags=["governance"])


class PublicKeyView(TypedDict):
    algorithm: str
    public_key: str | None
    key_id: str | None


class AnonymisedView(TypedDict):
    name: str


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput("time_invalid", field=name) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def trace_query(conversation_id: str | None, person_id: str | None, action: str | None, from_: str | None,
                to: str | None, before_seq: int | None, limit: int) -> audit_trail.TraceQuery:
    actions = tuple(a.strip() for a in (action or "").split(",") if a.strip())[:20]
    if any(len(a) > 60 for a in actions):
        raise InvalidInput("action_invalid")
    return audit_trail.TraceQuery(conversation_id=parse_id(conversation_id) if conversation_id else None,
                                  person_id=parse_id(person_id) if person_id else None, actions=actions,
                                  since=_time(from_, "from"), until=_time(to, "to"), before_seq=before_seq,
                                  limit=limit)


CSV_COLUMNS = ["seq", "at", "action", "actor_id", "actor_name", "object_type", "object_id", "object_name", "ip",
               "detail"]


def _cell(value: Any) -> str:
    text = orjson.dumps(value).decode() if isinstance(value, dict) else "" if value is None else str(value)
    return safe_cell(text)


def traces_csv(rows: Sequence[Mapping[str, object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([_cell(r[c]) for c in CSV_COLUMNS])
    return buf.getvalue()


@router.get("/audit/traces", response_model=list[audit_trail.TraceView],
            responses=answers("text/csv", text=True, description="The traces (``format``: json, csv)"))
async def traces(actor: ActorDep, svc: ServicesDep, conversation_id: str | None = Query(None, max_length=36),
                 person_id: str | None = Query(None, max_length=36),
                 action: str | None = Query(None, max_length=400, description="Actions, comma separated; "
                                                                               "a trailing * matches a prefix"),
                 from_: str | None = Query(None, alias="from", max_length=40),
                 to: str | None = Query(None, max_length=40),
                 before_seq: Annotated[StrictInt | None, Field(ge=1, le=2**31 - 1), Digits, Query()] = None,
                 limit: Annotated[StrictInt, Field(ge=1, le=1000), Digits, Query()] = 100,
                 format: str = Query("json", pattern="^(json|csv)$")) -> Response:
    """Who read or wrote a care case (``conversation_id``), everything a person did or had done
    to them (``person_id``), filtered by period and action. Needs the view_audit permission."""
    rows = await audit_trail.traces(svc, actor, trace_query(conversation_id, person_id, action, from_, to,
                                                            before_seq, limit))
    if format == "csv":
        return Response(traces_csv(rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="traces.csv"'})
    return Response(orjson.dumps(rows), media_type="application/json")


@router.get("/audit/public-key")
async def public_key(actor: ActorDep, svc: ServicesDep) -> PublicKeyView:
    audit_trail._require_view(actor)
    return {"algorithm": "Ed25519", "public_key": audit_trail.public_key_b64(svc),
            "key_id": svc.signer.key_id if svc.signer else None}


class PolicyIn(Body):
    days: int = Field(ge=1, le=36500)
    min_days: int = Field(ge=1, le=36500)
    max_days: int = Field(ge=1, le=36500)


class OverrideIn(Body):
    days: int | None = Field(None, ge=1, le=36500)


class HoldIn(Body):
    hold: bool


@router.get("/retention/policies")
async def policies(actor: ActorDep, svc: ServicesDep) -> list[retention.RuleView]:
    return await retention.policies(svc, actor, actor.org_id)


@router.put("/retention/policies/{kind}")
async def set_policy(kind: str, body: PolicyIn, actor: ActorDep, svc: ServicesDep) -> retention.RuleView:
    return await retention.set_policy(svc, actor, actor.org_id, kind, days=body.days, min_days=body.min_days,
                                      max_days=body.max_days)


class ReportRetentionIn(Body):
    days: int = Field(ge=1, le=36500)


@router.get("/retention/reports")
async def report_retention(actor: ActorDep, svc: ServicesDep) -> list[RecordRetentionView]:
    """How long each type of closed signalement report is kept, with the reason for the default."""
    return await signalement_retention.retention_policies(svc, actor, actor.org_id)


@router.put("/retention/reports/{record_type}")
async def set_report_retention(record_type: str, body: ReportRetentionIn, actor: ActorDep,
                               svc: ServicesDep) -> RecordRetentionView:
    """The DPO sets a record type's period (days after closure); recent authentication required."""
    return await signalement_retention.set_retention(svc, actor, actor.org_id, record_type, body.days)


@router.get("/retention/expiring")
async def expiring(actor: ActorDep, svc: ServicesDep,
                   within_days: Annotated[StrictInt, Field(ge=1, le=3650), Digits, Query()] = 30
                   ) -> list[retention.ExpiryView]:
    """The caller's conversations where something expires within ``within_days``."""
    return await retention.expiring(svc, actor, within_days)


@router.get("/conversations/{conversation_id}/retention")
async def conversation_retention(conversation_id: str, actor: ActorDep, svc: ServicesDep) -> retention.ExpiryView:
    """``expires_at`` (the whole conversation) and ``next_message_expiry``: shown before it happens."""
    return await retention.conversation_retention(svc, actor, parse_id(conversation_id))


@router.put("/conversations/{conversation_id}/retention")
async def set_override(conversation_id: str, body: OverrideIn, actor: ActorDep,
                       svc: ServicesDep) -> retention.ExpiryView:
    return await retention.set_override(svc, actor, parse_id(conversation_id), body.days)


@router.post("/conversations/{conversation_id}/close")
async def close(conversation_id: str, actor: ActorDep, svc: ServicesDep) -> retention.ExpiryView:
    return await retention.close_care_case(svc, actor, parse_id(conversation_id))


@router.post("/conversations/{conversation_id}/reopen")
async def reopen(conversation_id: str, actor: ActorDep, svc: ServicesDep) -> retention.ExpiryView:
    return await retention.close_care_case(svc, actor, parse_id(conversation_id), reopen=True)


@router.put("/conversations/{conversation_id}/legal-hold", status_code=204)
async def legal_hold(conversation_id: str, body: HoldIn, actor: ActorDep, svc: ServicesDep) -> Response:
    await retention.set_legal_hold(svc, actor, actor.org_id, parse_id(conversation_id), body.hold)
    return Response(status_code=204)


@router.get("/me/data", response_model=gdpr.SubjectAccessView)
async def my_data(actor: ActorDep, svc: ServicesDep) -> Response:
    """Art. 15 self-service: everything Chevet holds about the caller, as JSON."""
    data = await gdpr.subject_access_data(svc, actor.organisation, actor.id, actor=actor)
    return Response(orjson.dumps(data), media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="mes-donnees-chevet.json"'})


@router.get("/gdpr/people/{person_id}/data", response_model=gdpr.SubjectAccessView)
async def person_data(person_id: str, actor: ActorDep, svc: ServicesDep) -> Response:
    """Art. 15 on behalf of a person of the organisation (DPO)."""
    data = await gdpr.subject_access_data(svc, actor.organisation, parse_id(person_id), actor=actor)
    return Response(orjson.dumps(data), media_type="application/json")


@router.post("/gdpr/people/{person_id}/anonymise")
async def anonymise(person_id: str, actor: ActorDep, svc: ServicesDep) -> AnonymisedView:
    return {"name": await gdpr.anonymise(svc, actor, actor.organisation, parse_id(person_id))}


@router.get("/gdpr/register", response_model=gdpr.RegisterView,
            responses=answers("text/html", text=True, description="The register (``format``: json, html)"))
async def register(actor: ActorDep, svc: ServicesDep, format: str = Query("json", pattern="^(json|html)$")
                   ) -> Response:
    """The Art. 30 processing register, generated from the configuration."""
    reg = await gdpr.processing_register(svc, actor, actor.organisation)
    if format == "html":
        return HTMLResponse(gdpr.register_html(reg))
    return Response(orjson.dumps(reg), media_type="application/json")


class BreachIn(Body):
    discovered_at: Moment
    nature: str = Field(max_length=4000)
    data_categories: str = Field(max_length=4000)
    people_affected: int | None = Field(None, ge=0, le=10**9)
    records_affected: int | None = Field(None, ge=0, le=10**9)
    consequences: str = Field("", max_length=4000)
    measures: str = Field("", max_length=4000)


class BreachUpdateIn(Body):
    authority_notified: bool = False
    people_notified: bool = False
    closed: bool = False
    measures: str | None = Field(None, max_length=4000)
    late_reason: str | None = Field(None, max_length=4000)  # required when notifying after 72 hours


@router.get("/gdpr/breaches")
async def breaches(actor: ActorDep, svc: ServicesDep) -> list[gdpr.BreachView]:
    """The breach log, newest first, each with its 72-hour notification deadline."""
    return await gdpr.breaches(svc, actor)


@router.post("/gdpr/breaches", status_code=201)
async def record_breach(body: BreachIn, actor: ActorDep, svc: ServicesDep) -> gdpr.BreachView:
    return await gdpr.record_breach(svc, actor, discovered_at=body.discovered_at, nature=body.nature,
                                    data_categories=body.data_categories, people_affected=body.people_affected,
                                    consequences=body.consequences, measures=body.measures,
                                    records_affected=body.records_affected)


@router.patch("/gdpr/breaches/{breach_id}")
async def update_breach(breach_id: str, body: BreachUpdateIn, actor: ActorDep,
                        svc: ServicesDep) -> gdpr.BreachView:
    return await gdpr.update_breach(svc, actor, parse_id(breach_id), authority_notified=body.authority_notified,
                                    people_notified=body.people_notified, close=body.closed, measures=body.measures,
                                    late_reason=body.late_reason)

"""Governance pages for the DPO and managers: access traces (with filters and a CSV link),
the breach log with its 72-hour deadlines, the processing register.

In the web client's layout, French first, with no script at all; without a session they answer
401 with a short page (no redirect to sign-in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from chevet.app.governance import audit_trail
from chevet.app.identity import people as identity_people
from chevet.core.entities import Person
from chevet.core.errors import ChevetError, Forbidden
from chevet.core.ids import parse_id
from chevet.core.notification import LOCAL_TIME
from chevet.web.pages import trace_text
from chevet.web.pages.page import Page, SignedInPage, page

router = APIRouter(prefix="/gouvernance", include_in_schema=False)
# The signed checkpoint receipt of the audit trail: linked only once the installation serves it.
RECEIPT_PATH = "/gouvernance/recu"


def _message(p: Page, title: str, message_id: str, status: int) -> Response:
    return p.render("governance/message.html", status=status, title=title, message=p.t(message_id))


async def _signed_in(request: Request) -> SignedInPage | Response:
    """The signed-in page context, or the 401 page that asks to sign in."""
    p = await page(request, signed_in=False)
    if not isinstance(p, SignedInPage):
        return _message(p, p.t("gov.traces.title"), "gov.signin", 401)
    return p


@dataclass(frozen=True, slots=True)
class TraceRow:
    """One trace as the page shows it: a sentence and its details in words."""

    sentence: str
    details: list[str]
    at: str


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=LOCAL_TIME)


def _person_named(people: list[Person], name: str) -> Person | None:
    wanted = " ".join(name.split()).casefold()
    exact = [x for x in people if x.name.casefold() == wanted]
    near = exact or [x for x in people if wanted in x.name.casefold()]
    return near[0] if len(near) == 1 or exact else None


@router.get("/traces")
async def traces_page(request: Request, person: str = Query("", max_length=200),
                      case: str = Query("", max_length=60), action: str = Query("", max_length=60),
                      from_: str = Query("", alias="from", max_length=40), to: str = Query("", max_length=40),
                      conversation_id: str | None = Query(None, max_length=36),
                      format: str = Query("", max_length=10)) -> Response:
    p = await _signed_in(request)
    if isinstance(p, Response):
        return p
    svc, who, title = p.services, p.actor, p.t("gov.traces.title")
    try:
        audit_trail._require_view(who)
    except Forbidden:
        return _message(p, title, "gov.forbidden", 403)
    today = p.local(svc.clock.now()).date()
    since_day, until_day = _day(from_), _day(to)
    errors: list[str] = []
    if (from_ and since_day is None) or (to and until_day is None):
        errors.append(p.t("gov.traces.date_invalid"))
    until_day = until_day or today
    since_day = since_day or until_day - timedelta(days=7)
    people = await identity_people.search_people(svc, who, "", 200)  # everyone who may see traces may list people
    chosen = _person_named(people, person) if person.strip() else None
    if person.strip() and chosen is None:
        errors.append(p.t("gov.traces.person_unknown"))
    if action and not trace_text.is_known_action(action):
        action = ""
    rows: list[audit_trail.TraceView] = []
    if not errors:
        try:
            rows = await audit_trail.traces(svc, who, audit_trail.TraceQuery(
                conversation_id=parse_id(conversation_id) if conversation_id else None,
                person_id=chosen.id if chosen else None, actions=(action,) if action else (),
                since=_midnight(since_day), until=_midnight(until_day + timedelta(days=1)),
                case_ref=case.strip() or None, limit=1000 if format == "csv" else 200))
        except ChevetError as exc:
            errors.append(p.error_text(exc))
    if format == "csv" and not errors:
        return p.finish(Response(trace_text.readable_csv(p, rows), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="traces-{since_day}-{until_day}.csv"'}))
    q = {"person": person, "case": case, "action": action, "from": since_day.isoformat(), "to": until_day.isoformat()}
    shown = [TraceRow(trace_text.sentence(p, r), trace_text.details(p, r), p.short_moment(trace_text.when(r)))
             for r in rows]
    return p.render("governance/traces.html", status=200 if not errors else 422, title=title, section="traces",
                    q=q, rows=shown, people=people, errors=errors, actions=trace_text.action_choices(p),
                    csv_query=urlencode({k: v for k, v in q.items() if v} | {"format": "csv"}),
                    period=p.t("gov.traces.period", since=p.day(since_day), until=p.day(until_day)),
                    receipt=any(getattr(r, "path", None) == RECEIPT_PATH for r in request.app.routes))


"""Governance pages for the DPO and managers: access traces (with filters and a CSV link),
the breach log with its 72-hour deadlines, the processing register.

In the web client's layout, French first, with no script at all; without a session they answer
401 with a short page (no redirect to sign-in)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from chevet.app.governance import audit_trail
from chevet.app.identity import people as identity_people
from chevet.core.errors import ChevetError, Forbidden
from chevet.web.api.governance import trace_query
from chevet.web.pages.page import Page, SignedInPage, page

router = APIRouter(prefix="/gouvernance", include_in_schema=False)


def _message(p: Page, title: str, message_id: str, status: int) -> Response:
    return p.render("governance/message.html", status=status, title=title, message=p.t(message_id))


async def _signed_in(request: Request) -> SignedInPage | Response:
    """The signed-in page context, or the 401 page that asks to sign in."""
    p = await page(request, signed_in=False)
    if not isinstance(p, SignedInPage):
        return _message(p, p.t("gov.traces.title"), "gov.signin", 401)
    return p


@router.get("/traces")
async def traces_page(request: Request, conversation_id: str | None = Query(None, max_length=36),
                      person_id: str | None = Query(None, max_length=36),
                      action: str | None = Query(None, max_length=400),
                      from_: str | None = Query(None, alias="from", max_length=40),
                      to: str | None = Query(None, max_length=40)) -> Response:
    p = await _signed_in(request)
    if isinstance(p, Response):
        return p
    svc, who, title = p.services, p.actor, p.t("gov.traces.title")
    try:
        audit_trail._require_view(who)
    except Forbidden:
        return _message(p, title, "gov.forbidden", 403)
    q = {"conversation_id": conversation_id or None, "person_id": person_id or None, "action": action or None,
         "from": from_ or None, "to": to or None}
    rows: list[audit_trail.TraceView] = []
    error = None
    try:
        rows = await audit_trail.traces(svc, who, trace_query(q["conversation_id"], q["person_id"], q["action"],
                                                              q["from"], q["to"], None, 200))
    except ChevetError as exc:
        error = p.error_text(exc)
    people = await identity_people.search_people(svc, who, "", 200)  # everyone who may see traces may list people
    csv_query = urlencode({k: v for k, v in q.items() if v} | {"format": "csv", "limit": 1000})
    return p.render("governance/traces.html", status=200 if error is None else 422, title=title, q=q, rows=rows,
                    people=people, error=error, csv_query=csv_query)

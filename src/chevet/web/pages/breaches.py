"""The console's breach log (GDPR Art. 33): record a breach from a form, see for each open one the
time left before the 72-hour deadline to notify the CNIL, record the notifications. Every time
is read and shown in Europe/Paris."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from chevet.app.governance import breach_log, gdpr
from chevet.core.errors import ChevetError, Forbidden, InvalidInput
from chevet.core.notification import LOCAL_TIME
from chevet.core.roles import Permission
from chevet.web.pages.page import SignedInPage, field_of, read_form, signed_in, ui

router = APIRouter(prefix="/gouvernance/violations", include_in_schema=False)
SECTION = "breaches"
FIELDS = ("discovered_day", "discovered_time", "nature", "data_categories", "people_affected", "records_affected",
          "consequences", "measures")


def local_moment(day: str, time: str) -> datetime:
    """A date and a time as typed in France (Europe/Paris) → an aware datetime."""
    try:
        naive = datetime.fromisoformat(f"{day.strip()}T{time.strip() or '00:00'}")
    except ValueError:
        raise InvalidInput("brl.discovered_invalid") from None
    return naive.replace(tzinfo=LOCAL_TIME)


def count(value: str, name: str) -> int | None:
    text = value.strip().replace(" ", "").replace("\u202f", "")
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        raise InvalidInput("breach_field_invalid", field=name)
    return int(text)


def explain(p: SignedInPage, exc: ChevetError) -> str:
    """A domain error in words, with the field's French label rather than its code."""
    params = dict(exc.params)
    if "field" in params:
        params["field"] = p.t(f"brl.field.{params['field']}")
    return p.t(exc.code, **params)


async def _page(p: SignedInPage, *, status: int = 200, error: str | None = None, form: FormData | None = None,
                row_error: tuple[str, str] | None = None) -> Response:
    rows = await breach_log.breach_log(p.services, p.actor)
    now = p.local(p.services.clock.now())
    values = {k: field_of(form, k, 4000) if form is not None else "" for k in FIELDS}
    if form is None:
        values |= {"discovered_day": now.date().isoformat(), "discovered_time": now.strftime("%H:%M")}
    notice = p.request.query_params.get("notice")
    return p.render("governance/breaches.html", status=status, title=p.t("gov.breaches.title"), section=SECTION,
                    rows=rows, error=error, values=values, row_error=row_error,
                    manage=p.can(Permission.MANAGE_RETENTION.value),
                    notice=p.t(f"brl.notice.{notice}") if notice in ("recorded", "updated") else None)


@router.get("")
@ui
async def breaches_page(request: Request) -> Response:
    p = await signed_in(request)
    try:
        return await _page(p)
    except Forbidden:
        return p.render("governance/message.html", status=403, title=p.t("gov.breaches.title"), section=SECTION,
                        message=p.t("gov.forbidden"))


def _refused(p: SignedInPage) -> Response:
    """Recording and notifying breaches is for who sets retention (the app decides)."""
    return p.render("governance/message.html", status=403, title=p.t("gov.breaches.title"), section=SECTION,
                    message=p.t("brl.forbidden"))


@router.post("")
@ui
async def record(request: Request) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    try:
        try:
            await gdpr.record_breach(
                p.services, p.actor,
                discovered_at=local_moment(field_of(form, "discovered_day", 10), field_of(form, "discovered_time", 5)),
                nature=field_of(form, "nature", 4001), data_categories=field_of(form, "data_categories", 4001),
                people_affected=count(field_of(form, "people_affected", 12), "people_affected"),
                records_affected=count(field_of(form, "records_affected", 12), "records_affected"),
                consequences=field_of(form, "consequences", 4001), measures=field_of(form, "measures", 4001))
        except InvalidInput as exc:
            return await _page(p, status=422, error=explain(p, exc), form=form)
    except Forbidden:  # the app decides who records breaches, before or after reading the form
        return _refused(p)
    return p.redirect("/gouvernance/violations?notice=recorded")


@router.post("/{breach_id}")
@ui
async def notify(request: Request, breach_id: str) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    action = field_of(form, "action", 12)
    try:
        try:
            target = uuid.UUID(breach_id)
        except ValueError:
            return await _page(p, status=404, error=p.t("breach_not_found"))
        try:
            if action not in ("authority", "people", "close"):
                raise InvalidInput("brl.action_invalid")
            await gdpr.update_breach(p.services, p.actor, target, authority_notified=action == "authority",
                                     people_notified=action == "people", close=action == "close",
                                     late_reason=field_of(form, "late_reason", 4001) or None)
        except InvalidInput as exc:
            return await _page(p, status=422, row_error=(breach_id, explain(p, exc)))
    except Forbidden:
        return _refused(p)
    return p.redirect("/gouvernance/violations?notice=updated")

"""The console's retention section (DPO, director, administrator): each kind's period in a form,
the consequences shown before anything is saved, the signalement records' periods, and legal
holds found by title or care-case reference."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.governance import retention, retention_preview
from chevet.app.signalement import retention as report_retention
from chevet.core.errors import ChevetError, InvalidInput
from chevet.core.roles import Permission
from chevet.web.pages.page import SignedInPage, field_of, read_form, signed_in, ui

router = APIRouter(prefix="/gouvernance/conservation", include_in_schema=False)
UNITS = {"days": 1, "months": 30, "years": 365}
SECTION = "retention"


def to_days(value: str, unit: str) -> int:
    """« 3 » « mois » → 90 days; a clear error for anything else."""
    text = value.strip()
    if unit not in UNITS or not text.isdigit() or len(text) > 5 or int(text) < 1:
        raise InvalidInput("ret.period_invalid")
    return int(text) * UNITS[unit]


def period_text(p: SignedInPage, days: int) -> str:
    """Days as a person says them: « 1 an », « 6 mois », « 45 jours »."""
    if days % 365 == 0:
        return p.t("ret.years", n=p.number(days // 365)) if days > 365 else p.t("ret.one_year")
    if days % 30 == 0:
        return p.t("ret.months", n=p.number(days // 30)) if days > 30 else p.t("ret.one_month")
    return p.t("ret.days", n=p.number(days)) if days > 1 else p.t("ret.one_day")


def counted(p: SignedInPage, key: str, n: int) -> str:
    """« 1 message », « 347 messages »."""
    return p.t(f"{key}.one" if n == 1 else key, n=p.number(n))


def consequences(p: SignedInPage, v: retention_preview.PolicyPreview) -> list[str]:
    """The sentences of the confirmation step, from the app's counts."""
    kind = p.t(f"ret.kind.{v.kind.value}")
    lines = [p.t("ret.preview.sentence", messages=counted(p, "ret.n.messages", v.messages), day=p.day(v.purge_at),
                 conversations=counted(p, "ret.n.conversations", v.conversations), kind=kind)
             if v.messages or v.conversations else p.t("ret.preview.nothing", kind=kind)]
    if v.shredded:
        lines.append(counted(p, "ret.preview.shredded", v.shredded))
    if v.attachments:
        lines.append(counted(p, "ret.preview.attachments", v.attachments))
    if v.held:
        lines.append(counted(p, "ret.preview.held", v.held))
    lines.append(p.t("ret.preview.change", kind=kind, old=period_text(p, v.old_days), new=period_text(p, v.days)))
    return lines


async def _allowed(request: Request) -> SignedInPage | Response:
    p = await signed_in(request)
    if not p.can(Permission.MANAGE_RETENTION.value):
        return p.render("governance/message.html", status=403, title=p.t("ret.title"), section=SECTION,
                        message=p.t("ret.forbidden"))
    return p


async def _main(p: SignedInPage, *, status: int = 200, error: str | None = None, hold_error: str | None = None,
                notice: str | None = None) -> Response:
    rules = await retention.policies(p.services, p.actor, p.actor.org_id)
    records = await report_retention.retention_policies(p.services, p.actor, p.actor.org_id)
    q = p.request.query_params.get("q", "")[:100]
    found = await retention_preview.find_for_hold(p.services, p.actor, q) if q.strip() else []
    return p.render("governance/retention.html", status=status, title=p.t("ret.title"), section=SECTION,
                    rules=rules, records=records, q=q, found=found, searched=bool(q.strip()), error=error,
                    hold_error=hold_error, notice=notice, period=lambda d: period_text(p, d),
                    hold_back="/gouvernance/conservation?" + urlencode({"q": q}))


@router.get("")
@ui
async def retention_page(request: Request) -> Response:
    p = await _allowed(request)
    if isinstance(p, Response):
        return p
    notice = request.query_params.get("notice")
    return await _main(p, notice=p.t(f"ret.notice.{notice}") if notice in ("saved", "hold", "records") else None)


@router.get("/apercu")
@ui
async def preview_page(request: Request) -> Response:
    """The confirmation step: what the new period would remove, and when. Changes nothing."""
    p = await _allowed(request)
    if isinstance(p, Response):
        return p
    kind = request.query_params.get("kind", "")[:20]
    try:
        days = to_days(request.query_params.get("value", "")[:10], request.query_params.get("unit", "")[:10])
        preview = await retention_preview.preview_policy(p.services, p.actor, kind, days)
    except ChevetError as exc:
        return await _main(p, status=422, error=p.error_text(exc))
    back = "/gouvernance/conservation/apercu?" + urlencode({k: request.query_params.get(k, "")
                                                            for k in ("kind", "value", "unit")})
    return p.render("governance/retention_preview.html", title=p.t("ret.preview.title"), section=SECTION,
                    v=preview, sentences=consequences(p, preview), back=back,
                    period=lambda d: period_text(p, d))


@router.post("/politique")
@ui
async def apply_policy(request: Request) -> Response:
    p = await _allowed(request)
    if isinstance(p, Response):
        return p
    form = await read_form(p)
    kind = field_of(form, "kind", 20)
    try:
        days = int(field_of(form, "days", 6)) if field_of(form, "days", 6).isdigit() else 0
        current = {r["kind"]: r for r in await retention.policies(p.services, p.actor, p.actor.org_id)}
        if kind not in current:
            raise InvalidInput("ret.period_invalid")
        rule = current[kind]
        await retention.set_policy(p.services, p.actor, p.actor.org_id, kind, days=days,
                                   min_days=rule["min_days"], max_days=rule["max_days"])
    except InvalidInput as exc:
        return await _main(p, status=422, error=p.error_text(exc))
    return p.redirect("/gouvernance/conservation?notice=saved")


@router.post("/signalements")
@ui
async def apply_records(request: Request) -> Response:
    p = await _allowed(request)
    if isinstance(p, Response):
        return p
    form = await read_form(p)
    try:
        days = to_days(field_of(form, "value", 10), field_of(form, "unit", 10))
        await report_retention.set_retention(p.services, p.actor, p.actor.org_id, field_of(form, "record_type", 40),
                                             days)
    except InvalidInput as exc:
        return await _main(p, status=422, error=p.error_text(exc))
    return p.redirect("/gouvernance/conservation?notice=records")


@router.post("/gel")
@ui
async def legal_hold(request: Request) -> Response:
    p = await _allowed(request)
    if isinstance(p, Response):
        return p
    form = await read_form(p)
    reason = field_of(form, "reason", 300).strip()
    hold = field_of(form, "hold", 5) == "1"
    try:
        conversation_id = uuid.UUID(field_of(form, "conversation_id", 36))
    except ValueError:
        return await _main(p, status=422, hold_error=p.t("conversation_not_found"))
    if not reason:
        return await _main(p, status=422, hold_error=p.t("ret.hold.reason_required"))
    try:
        await retention.set_legal_hold(p.services, p.actor, p.actor.org_id, conversation_id, hold, reason)
    except InvalidInput as exc:
        return await _main(p, status=422, hold_error=p.error_text(exc))
    return p.redirect("/gouvernance/conservation?notice=hold")

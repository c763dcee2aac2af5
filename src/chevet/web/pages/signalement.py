"""Signalement pages, reporter side, in the web client's layout: filing a report from a phone
(with photos or documents), the reporter's own reports, the follow-up code. Server-rendered
in the person's language, working without any script.

Sign-in is the web client's own (``/login``); forms carry its CSRF token. The pages that may
lead to an anonymous report leave the reporter's session untouched (no last-use time).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from chevet.app.messaging import teams
from chevet.app.signalement import files as report_files
from chevet.app.signalement import filing, recipients, reports
from chevet.core.errors import ChevetError, InvalidInput
from chevet.core.signalement.deadlines import PARIS, Channel, FormKind, local_time
from chevet.core.signalement.forms import SPECS
from chevet.core.signalement.taxonomy import SEVERITY_LABELS, ReporterMode
from chevet.web.deps import limit_attempts
from chevet.web.pages.page import Page, SignedInPage, check_csrf, page, read_form, signed_in, ui
from chevet.web.uploads import Multipart, is_multipart, read_multipart

router = APIRouter(include_in_schema=False)

SEVERITIES = {s.value: label for s, label in SEVERITY_LABELS.items()}
MODES = [m.value for m in (ReporterMode.NAMED, ReporterMode.CONFIDENTIAL, ReporterMode.ANONYMOUS)]
CHANNELS = [c.value for c in Channel]
FORM_TITLES = {k.value: SPECS[k].title for k in FormKind}
# Field names in refusals, as the form labels them (never the code's name).
FIELD_LABELS = {"what": "sig.new.what", "occurred_at": "sig.new.occurred", "discovered_at": "sig.new.discovered",
                "place": "sig.new.place", "immediate_measures": "sig.new.measures", "affected_refs": "sig.new.refs"}
NEW_FIELDS = frozenset({"csrf", "what", "occurred_at", "discovered_at", "place", "affected_refs",
                        "immediate_measures", "mode", "team_id"})


def local_formatter(lang: str) -> Callable[..., str]:
    """Dates in Paris time, written as the reader's language writes them."""
    def local(value: str | datetime | None, date_only: bool = False) -> str:
        if not value:
            return "—"
        at = local_time(datetime.fromisoformat(value) if isinstance(value, str) else value)
        if date_only:
            return f"{at:%d/%m/%Y}"
        return f"{at:%d/%m/%Y} à {at:%H:%M}" if lang == "fr" else f"{at:%d/%m/%Y} at {at:%H:%M}"
    return local


def render(p: Page, name: str, status: int = 200, **ctx: Any) -> Response:
    """A signalement page in the web client's layout. Texts that come from the regulatory
    taxonomy (severities, categories…) are translated when the catalog has them, shown in
    French otherwise (``tl``)."""
    def tl(key: str, fallback: str) -> str:
        text = p.t(key)
        return fallback if text == key else text

    ctx.setdefault("error", None)
    ctx.setdefault("notice", None)
    ctx.setdefault("nav", "")
    return p.render(f"signalement/{name}", status=status, severities=SEVERITIES, channels=CHANNELS,
                    form_titles=FORM_TITLES, local=local_formatter(p.lang), tl=tl,
                    me_id=str(p.actor.id) if p.actor else "", **ctx)


def one(form: FormData | Multipart, name: str) -> str:
    if isinstance(form, Multipart):
        return form.one(name)
    value = form.get(name)
    return value if isinstance(value, str) else ""


def many(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str)]


def parse_local(value: str | None, field: str) -> datetime | None:
    """A ``datetime-local`` or ``date`` field, read as Paris time (the organisation's zone)."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput("report_field_invalid", field=field) from exc
    return at if at.tzinfo else at.replace(tzinfo=PARIS)


@router.get("/signalement/connexion")
@router.post("/signalement/connexion")
async def former_sign_in() -> Response:
    """The signalement pages once had their own sign-in: old bookmarks lead to the web client's."""
    return RedirectResponse("/login?next=%2Fsignalement", status_code=303)


@router.get("/signalement")
@ui
async def home(request: Request) -> Response:
    p = await signed_in(request)
    rows = []
    for r in await reports.list_reports(p.services, p.actor):
        kinds = [k for k, hit in (("ESSMS", r["categories"]), ("EIGS", r["eigs"]), ("SI", r["security"]),
                                  ("RGPD" if p.lang == "fr" else "GDPR", r["gdpr"])) if hit]
        rows.append({**r, "kinds": ", ".join(kinds) or (p.t("sig.home.internal") if r["severity"] else "—")})
    title = p.t("sig.nav.list") if p.handles_reports else p.t("sig.nav.mine")
    return render(p, "home.html", title=title, reports=rows, nav="list")


async def _new_form(p: SignedInPage, status: int = 200, values: dict[str, str] | None = None,
                    error: str | None = None) -> Response:
    accepted = ""
    max_files = max_bytes = 0
    if p.services.attachments is not None:
        view = report_files.limits_view(p.services)
        accepted, max_files, max_bytes = ",".join(view["accepted_types"]), view["max_files"], view["max_bytes"]
    receivers = await recipients.receivers(p.services, p.actor)
    confidential = {"ql": "", "qls": ".many"}.get(receivers.key.split("_")[0], ".none")
    return render(p, "new.html", status=status, title=p.t("ui.nav.report_new"), v=values or {}, error=error,
                  teams=await teams.list_teams(p.services, p.actor), modes=MODES, files_accepted=accepted,
                  max_files=max_files, max_bytes=max_bytes, nav="new",
                  recipients=p.t("sig.recipients.will." + receivers.key),
                  confidential_help=p.t("sig.mode.confidential.help" + confidential))


def refusal_text(p: Page, exc: ChevetError) -> str:
    """A refusal of the form in words: the moment of the event has its own sentences, and any
    other field is named by its label."""
    field = exc.params.get("field")
    if field == "occurred_at" and exc.code == "report_field_required":
        return p.t("sig.occurred_required")
    if field == "occurred_at" and exc.code == "report_time_in_future":
        return p.t("sig.occurred_future")
    if isinstance(field, str) and field in FIELD_LABELS:
        return p.t(exc.code, **{**exc.params, "field": p.t(FIELD_LABELS[field]).split(" (")[0]})
    return p.error_text(exc)


@router.get("/signalement/nouveau")
@ui
async def new_page(request: Request) -> Response:
    return await _new_form(await signed_in(request, touch=False))  # the form may lead to an anonymous report


@router.post("/signalement/nouveau")
@ui
async def new_post(request: Request) -> Response:
    # Not touched: the reporter's session keeps no trace of the moment an anonymous report was filed.
    p = await signed_in(request, touch=False)
    svc = p.services
    limit, max_files = (65536, 0) if svc.attachments is None else (
        report_files.limits(svc).max_upload_bytes, report_files.limits(svc).max_per_message)
    form: FormData | Multipart
    if is_multipart(request):
        form = await read_multipart(request, limit, max_files, NEW_FIELDS)
        check_csrf(p, form.one("csrf"))
        files = [report_files.IncomingFile(f.name, f.data) for f in form.files]
    else:  # a form sent without files (no file input, or an older page)
        form, files = await read_form(p), []
    try:
        team = one(form, "team_id")
        refs = [r for r in one(form, "affected_refs").split(",") if r.strip()]
        try:
            team_id = uuid.UUID(team) if team else None
        except ValueError as exc:
            raise InvalidInput("report_unit_unknown") from exc
        filed = await filing.file_report(
            svc, p.actor, mode=one(form, "mode") or "named", what=one(form, "what"),
            occurred_at=parse_local(one(form, "occurred_at"), "occurred_at"),
            discovered_at=parse_local(one(form, "discovered_at"), "discovered_at"), place=one(form, "place"),
            affected_refs=refs, immediate_measures=one(form, "immediate_measures"), team_id=team_id,
            files=files)
    except ChevetError as exc:
        values = {k: one(form, k) for k in NEW_FIELDS if k != "csrf"}
        return await _new_form(p, 422, values, refusal_text(p, exc))
    receivers = await recipients.receivers(svc, p.actor)
    return render(p, "filed.html", status=201, title=p.t("sig.filed.title"), code=filed.followup_code,
                  files=len(files), nav="new", thanks=p.t("sig.recipients.done." + receivers.key))


@router.get("/signalement/suivi")
@ui
async def followup_page(request: Request) -> Response:
    p = await page(request, signed_in=False, touch=False)  # a reporter may read it signed in
    return render(p, "followup.html", title=p.t("sig.nav.followup"), result=None, nav="followup")


@router.post("/signalement/suivi")
@ui
async def followup_post(request: Request) -> Response:
    p = await page(request, signed_in=False, touch=False)
    form = await read_form(p)
    try:
        limit_attempts(request, "report-followup")
        result = await filing.followup(p.services, one(form, "code"))
    except ChevetError as exc:
        return render(p, "followup.html", status=404, title=p.t("sig.nav.followup"), result=None,
                      error=p.error_text(exc), nav="followup")
    return render(p, "followup.html", title=p.t("sig.nav.followup"), result=result, nav="followup")

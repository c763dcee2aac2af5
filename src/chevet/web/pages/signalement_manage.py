"""Signalement pages for the quality lead and the director: a report's detail, qualification,
analysis, actions, people involved, feedback and closure; the regulatory forms with validation,
PDF/JSON export and recorded submissions; the deadlines dashboard; the statistics with SVG charts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from chevet.app import report_forms, reports
from chevet.core.errors import ChevetError, InvalidInput, NotFound
from chevet.core.ids import parse_id
from chevet.core.signalement import charts
from chevet.core.signalement.deadlines import PARIS, local_time
from chevet.core.signalement.forms import SPECS, FieldType
from chevet.core.signalement.taxonomy import EIGS_LABELS, ESSMS_CATEGORIES, SECURITY_LABELS
from chevet.web.pages.signalement import (
    chrome,
    error_text,
    many,
    one,
    page_actor,
    parse_local,
    posted,
    render,
    services_of,
    to_login,
)

log = logging.getLogger("chevet.signalement")
REMINDER_INTERVAL = 300.0


async def _remind_forever(app: FastAPI) -> None:
    """Deadline reminders from the server itself, so that a single-process installation needs
    no timer; each stage of each deadline is notified once (the database remembers it)."""
    while True:
        try:
            sent = await report_forms.send_reminders(app.state.services)
            if sent:
                log.info("signalement reminders sent", extra={"count": sent})
        except Exception as exc:  # keep reminding even if one round fails
            log.error("signalement reminders failed", extra={"error": type(exc).__name__})
        await asyncio.sleep(REMINDER_INTERVAL)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    task = asyncio.create_task(_remind_forever(app))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


router = APIRouter(include_in_schema=False, lifespan=_lifespan)


async def _people(request: Request, org_id: uuid.UUID) -> list[Any]:
    async with services_of(request).db.transaction() as tx:
        return [p for p in await tx.people.search(org_id, "", 1000) if p.status.value == "active"]


async def _detail(request: Request, report_id: str, *, error: str | None = None, notice: str | None = None,
                  status: int = 200) -> Response:
    actor = await page_actor(request)
    if actor is None:
        return to_login()
    svc = services_of(request)
    try:
        view = await reports.get_report(svc, actor, parse_id(report_id))
    except NotFound as exc:
        return render("followup.html", status=404, title="Signalement introuvable", result=None,
                      error=error_text(exc), **await chrome(request, actor, ""))
    q = view.get("qualification")
    awareness = q["awareness_at"] if q and q.get("awareness_at") else None
    received = local_time(datetime.fromisoformat(view["received_at"]))
    return render("report.html", status=status, title=f"Signalement du {received:%d/%m/%Y}",
                  r=view, q=q, error=error, notice=notice, categories=ESSMS_CATEGORIES,
                  eigs={k.value: v for k, v in EIGS_LABELS.items()},
                  security={k.value: v for k, v in SECURITY_LABELS.items()},
                  awareness_local=(f"{local_time(datetime.fromisoformat(awareness)):%Y-%m-%dT%H:%M}"
                                   if awareness else ""),
                  people=await _people(request, actor.org_id) if view["can_manage"] else [],
                  **await chrome(request, actor, "list"))


@router.get("/signalement/echeances")
async def deadlines_page(request: Request) -> Response:
    actor = await page_actor(request)
    if actor is None:
        return to_login()
    try:
        dash = await report_forms.dashboard(services_of(request), actor)
    except ChevetError as exc:
        return render("deadlines.html", status=403, title="Échéances", rows=[], counts={"overdue": 0, "due": 0,
                      "done": 0}, error=error_text(exc), **await chrome(request, actor, "deadlines"))
    return render("deadlines.html", title="Échéances", rows=dash["deadlines"], counts=dash["counts"],
                  **await chrome(request, actor, "deadlines"))


@router.get("/signalement/statistiques")
async def stats_page(request: Request) -> Response:
    actor = await page_actor(request)
    if actor is None:
        return to_login()
    try:
        year = int(request.query_params.get("annee") or datetime.now(PARIS).year)
        if not 2000 <= year <= 2100:
            raise ValueError
    except ValueError:
        year = datetime.now(PARIS).year
    start, end = datetime(year, 1, 1, tzinfo=PARIS), datetime(year + 1, 1, 1, tzinfo=PARIS)
    ctx = await chrome(request, actor, "stats")
    try:
        st = await report_forms.report_statistics(services_of(request), actor, start, end)
    except ChevetError as exc:
        return render("deadlines.html", status=403, title="Statistiques", rows=[],
                      counts={"overdue": 0, "due": 0, "done": 0}, error=error_text(exc), **ctx)

    def bars(title: str, counter: Any, cid: str) -> Markup:
        items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        return Markup(charts.bar_chart(title, [k for k, _ in items], [v for _, v in items], chart_id=cid))  # noqa: S704

    months = Markup(charts.stacked_months(  # noqa: S704 - the chart escapes every text it draws
        f"Signalements par mois et par gravité, {year}", st.months,
        [(name, vals) for name, vals in st.by_month_severity.items() if any(vals)], chart_id="mois"))
    return render("stats.html", title="Statistiques", st=st, year=year, chart_months=months,
                  chart_severity=bars("Signalements par gravité", st.by_severity, "gravite"),
                  chart_category=bars("Signalements par catégorie (arrêté du 28 décembre 2016)", st.by_category,
                                      "categorie"),
                  chart_unit=bars("Signalements par unité", st.by_unit, "unite"), **ctx)


_NOTICES = {"qualifie": "Qualification enregistrée.", "analyse": "Analyse enregistrée.",
            "action": "Plan d'actions mis à jour.", "acces": "Accès donné.", "discussion": "Discussion ouverte.",
            "retour": "Retour enregistré.", "cloture": "Signalement clôturé."}


@router.get("/signalement/{report_id}")
async def detail(request: Request, report_id: str) -> Response:
    return await _detail(request, report_id, notice=_NOTICES.get(request.query_params.get("ok", "")))


async def _act(request: Request, report_id: str, action: Any, notice: str) -> Response:
    """Run one change from a posted form, then show the report again (with the error if any)."""
    actor = await page_actor(request)
    if actor is None:
        return to_login()
    form = await posted(request)
    try:
        await action(actor, parse_id(report_id), form)
    except ChevetError as exc:
        return await _detail(request, report_id, error=error_text(exc), status=422)
    return RedirectResponse(f"/signalement/{report_id}?ok={notice}", status_code=303)


@router.post("/signalement/{report_id}/qualification")
async def qualify(request: Request, report_id: str) -> Response:
    svc = services_of(request)

    async def go(actor: Any, rid: uuid.UUID, form: Any) -> None:
        await reports.qualify(svc, actor, rid, severity=one(form, "severity"), categories=many(form, "categories"),
                              eigs=many(form, "eigs"), security=many(form, "security"),
                              gdpr_breach=one(form, "gdpr_breach") == "1",
                              awareness_at=parse_local(one(form, "awareness_at"), "awareness_at"),
                              note=one(form, "note"))
    return await _act(request, report_id, go, "qualifie")


@router.post("/signalement/{report_id}/analyse")
async def analysis(request: Request, report_id: str) -> Response:
    svc = services_of(request)

    async def go(actor: Any, rid: uuid.UUID, form: Any) -> None:
        await reports.record_analysis(svc, actor, rid, method=one(form, "method"), date=one(form, "date"),
                                      root_causes=one(form, "root_causes"), lessons=one(form, "lessons"))
    return await _act(request, report_id, go, "analyse")


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError as exc:
        raise InvalidInput("unknown_member") from exc


@router.post("/signalement/{report_id}/actions")
async def add_action(request: Request, report_id: str) -> Response:
    svc = services_of(request)

    async def go(actor: Any, rid: uuid.UUID, form: Any) -> None:
        due = parse_local(one(form, "due"), "due")
        await reports.add_action(svc, actor, rid, title=one(form, "title"),
                                 owner_id=_uuid_or_none(one(form, "owner_id")),
                                 due_at=due + timedelta(hours=23, minutes=59) if due else None)
    return await _act(request, report_id, go, "action")


@router.post("/signalement/{report_id}/actions/{action_id}/fait")
async def action_done(request: Request, report_id: str, action_id: str) -> Response:
    svc = services_of(request)

    async def go(actor: Any, rid: uuid.UUID, form: Any) -> None:
        await reports.complete_action(svc, actor, rid, parse_id(action_id))
    return await _act(request, report_id, go, "action")


@router.post("/signalement/{report_id}/lecteurs")
async def add_reader(request: Request, report_id: str) -> Response:
    svc = services_of(request)

    async def go(actor: Any, rid: uuid.UUID, form: Any) -> None:
        person = _uuid_or_none(one(form, "person_id"))
        if person is None:
            raise InvalidInput("unknown_member")
        await reports.add_reader(svc, actor, rid, person)
    return await _act(request, report_id, go, "acces")


@router.post("/signalement/{report_id}/discussion")
async def discussion(request: Request, report_id: str) -> Response:
    svc = services_of(request)

    async def go(actor: Any, rid: uuid.UUID, form: Any) -> None:
        view = await reports.get_report(svc, actor, rid)
        members = [uuid.UUID(p["id"]) for p in view.get("readers", [])]
        await reports.open_discussion(svc, actor, rid, members)
    return await _act(request, report_id, go, "discussion")


@router.post("/signalement/{report_id}/retour")
async def feedback(request: Request, report_id: str) -> Response:
    svc = services_of(request)

    async def go(actor: Any, rid: uuid.UUID, form: Any) -> None:
        await reports.give_feedback(svc, actor, rid, one(form, "text"))
    return await _act(request, report_id, go, "retour")


@router.post("/signalement/{report_id}/cloture")
async def close(request: Request, report_id: str) -> Response:
    svc = services_of(request)

    async def go(actor: Any, rid: uuid.UUID, form: Any) -> None:
        await reports.close(svc, actor, rid)
    return await _act(request, report_id, go, "cloture")


# --- regulatory forms --------------------------------------------------------------------------
async def _form_page(request: Request, report_id: str, kind: str, *, error: str | None = None,
                     notice: str | None = None, status: int = 200) -> Response:
    actor = await page_actor(request)
    if actor is None:
        return to_login()
    svc = services_of(request)
    rid = parse_id(report_id)
    try:
        f = await report_forms.get_form(svc, actor, rid, kind)
    except ChevetError as exc:
        code = 404 if isinstance(exc, NotFound) else 422
        return await _detail(request, report_id, error=error_text(exc), status=code)
    functions = await reports.my_functions(svc, actor)
    return render("form.html", status=status, title=f["title"], f=f, report_id=report_id, error=error, notice=notice,
                  director=any(fn.value == "director" for fn in functions), **await chrome(request, actor, "list"))


@router.get("/signalement/{report_id}/formulaires/{kind}")
async def form_page(request: Request, report_id: str, kind: str) -> Response:
    notice = {"enregistre": "Brouillon enregistré.", "valide": "Formulaire validé.",
              "envoi": "Envoi enregistré."}.get(request.query_params.get("ok", ""))
    return await _form_page(request, report_id, kind, notice=notice)


def _form_values(kind: str, form: Any) -> dict[str, Any]:
    try:
        spec = SPECS[kind]  # type: ignore[index]
    except KeyError as exc:
        raise NotFound("report_form_invalid") from exc
    values: dict[str, Any] = {}
    for fld in spec.fields:
        raw = one(form, fld.key).strip()
        if not raw:
            continue
        if fld.type is FieldType.YESNO:
            values[fld.key] = raw == "oui"
        elif fld.type is FieldType.COUNT:
            if not raw.isdigit():
                raise InvalidInput("report_field_invalid", field=fld.label)
            values[fld.key] = int(raw)
        else:
            values[fld.key] = raw
    return values


@router.post("/signalement/{report_id}/formulaires/{kind}")
async def form_save(request: Request, report_id: str, kind: str) -> Response:
    actor = await page_actor(request)
    if actor is None:
        return to_login()
    form = await posted(request)
    try:
        await report_forms.save_form(services_of(request), actor, parse_id(report_id), kind, _form_values(kind, form))
    except ChevetError as exc:
        return await _form_page(request, report_id, kind, error=error_text(exc), status=422)
    return RedirectResponse(f"/signalement/{report_id}/formulaires/{kind}?ok=enregistre", status_code=303)


@router.post("/signalement/{report_id}/formulaires/{kind}/validation")
async def form_validate(request: Request, report_id: str, kind: str) -> Response:
    actor = await page_actor(request)
    if actor is None:
        return to_login()
    await posted(request)
    try:
        await report_forms.validate_form(services_of(request), actor, parse_id(report_id), kind)
    except ChevetError as exc:
        return await _form_page(request, report_id, kind, error=error_text(exc), status=422)
    return RedirectResponse(f"/signalement/{report_id}/formulaires/{kind}?ok=valide", status_code=303)


@router.post("/signalement/{report_id}/formulaires/{kind}/envoi")
async def form_submission(request: Request, report_id: str, kind: str) -> Response:
    actor = await page_actor(request)
    if actor is None:
        return to_login()
    form = await posted(request)
    try:
        await report_forms.record_submission(services_of(request), actor, parse_id(report_id), kind,
                                             at=parse_local(one(form, "at"), "at"), channel=one(form, "channel"),
                                             reference=one(form, "reference"))
    except ChevetError as exc:
        return await _form_page(request, report_id, kind, error=error_text(exc), status=422)
    return RedirectResponse(f"/signalement/{report_id}/formulaires/{kind}?ok=envoi", status_code=303)


@router.get("/signalement/{report_id}/formulaires/{kind}/export.{fmt}")
async def form_export(request: Request, report_id: str, kind: str, fmt: str) -> Response:
    actor = await page_actor(request)
    if actor is None:
        return to_login()
    try:
        out = await report_forms.export_form(services_of(request), actor, parse_id(report_id), kind, fmt)
    except ChevetError as exc:
        return await _form_page(request, report_id, kind, error=error_text(exc), status=422)
    return Response(out.body, media_type=out.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{out.filename}"',
                             "Cache-Control": "no-store"})

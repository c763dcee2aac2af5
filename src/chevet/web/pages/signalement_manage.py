"""Signalement pages for the quality lead and the director, in the web client's layout: a
report's detail (with its files), qualification, analysis, actions, people involved, feedback
and closure; the regulatory forms with validation, PDF/JSON export and recorded submissions;
the deadlines dashboard; the statistics with SVG charts.

The regulatory forms keep their French field labels whatever the interface language: they
are written to French authorities."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from chevet.app.identity import people
from chevet.app.signalement import forms as report_forms
from chevet.app.signalement import handling, reports
from chevet.core.errors import ChevetError, InvalidInput, NotFound, ReauthenticationRequired
from chevet.core.ids import parse_id
from chevet.core.signalement.deadlines import PARIS, local_time
from chevet.core.signalement.forms import SPECS, FieldType
from chevet.core.signalement.taxonomy import EIGS_LABELS, ESSMS_CATEGORIES, SECURITY_LABELS
from chevet.web import charts
from chevet.web.pages.page import SignedInPage, read_form, signed_in, ui
from chevet.web.pages.signalement import many, one, parse_local, render

router = APIRouter(include_in_schema=False)


async def _detail(p: SignedInPage, report_id: str, *, error: str | None = None, notice: str | None = None,
                  status: int = 200) -> Response:
    try:
        view = await reports.get_report(p.services, p.actor, parse_id(report_id))
    except NotFound as exc:
        return render(p, "followup.html", status=404, title=p.t("sig.report.not_found"), result=None,
                      error=p.error_text(exc))
    q = view.get("qualification")
    awareness = q["awareness_at"] if q and q.get("awareness_at") else None
    received = local_time(datetime.fromisoformat(view["received_at"]))
    return render(p, "report.html", status=status, title=p.t("sig.report.title", date=f"{received:%d/%m/%Y}"),
                  r=view, q=q, error=error, notice=notice, categories=ESSMS_CATEGORIES,
                  eigs={k.value: v for k, v in EIGS_LABELS.items()},
                  security={k.value: v for k, v in SECURITY_LABELS.items()},
                  awareness_local=(f"{local_time(datetime.fromisoformat(awareness)):%Y-%m-%dT%H:%M}"
                                   if awareness else ""),
                  people=await people.active_people(p.services, p.actor) if view["can_manage"] else [], nav="list")


@router.get("/signalement/echeances")
@ui
async def deadlines_page(request: Request) -> Response:
    p = await signed_in(request)
    title = p.t("sig.nav.deadlines")
    try:
        dash = await report_forms.dashboard(p.services, p.actor)
    except ChevetError as exc:
        return render(p, "deadlines.html", status=403, title=title, rows=[], counts={"overdue": 0, "due": 0,
                      "done": 0}, error=p.error_text(exc), nav="deadlines")
    return render(p, "deadlines.html", title=title, rows=dash["deadlines"], counts=dash["counts"], nav="deadlines")


@router.get("/signalement/statistiques")
@ui
async def stats_page(request: Request) -> Response:
    p = await signed_in(request)
    t = p.t
    try:
        year = int(request.query_params.get("annee") or datetime.now(PARIS).year)
        if not 2000 <= year <= 2100:
            raise ValueError
    except ValueError:
        year = datetime.now(PARIS).year
    start, end = datetime(year, 1, 1, tzinfo=PARIS), datetime(year + 1, 1, 1, tzinfo=PARIS)
    try:
        st = await report_forms.report_statistics(p.services, p.actor, start, end)
    except ChevetError as exc:
        return render(p, "deadlines.html", status=403, title=t("sig.nav.stats"), rows=[],
                      counts={"overdue": 0, "due": 0, "done": 0}, error=p.error_text(exc), nav="stats")

    def bars(title: str, counter: Any, cid: str) -> Markup:
        items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        return Markup(charts.bar_chart(title, [k for k, _ in items], [v for _, v in items], chart_id=cid))  # noqa: S704

    months = Markup(charts.stacked_months(  # noqa: S704 - the chart escapes every text it draws
        t("sig.stats.chart_months", year=year), st.months,
        [(name, vals) for name, vals in st.by_month_severity.items() if any(vals)], chart_id="mois"))
    return render(p, "stats.html", title=t("sig.nav.stats"), st=st, year=year, chart_months=months,
                  chart_severity=bars(t("sig.stats.chart_severity"), st.by_severity, "gravite"),
                  chart_category=bars(t("sig.stats.chart_category"), st.by_category, "categorie"),
                  chart_unit=bars(t("sig.stats.chart_unit"), st.by_unit, "unite"), nav="stats")


_NOTICES = ("qualifie", "analyse", "action", "acces", "discussion", "retour", "cloture")


@router.get("/signalement/{report_id}")
@ui
async def detail(request: Request, report_id: str) -> Response:
    p = await signed_in(request)
    ok = request.query_params.get("ok", "")
    return await _detail(p, report_id, notice=p.t(f"sig.notice.{ok}") if ok in _NOTICES else None)


async def _act(request: Request, report_id: str, action: Any, notice: str) -> Response:
    """Run one change from a posted form, then show the report again (with the error if any)."""
    p = await signed_in(request)
    form = await read_form(p)
    try:
        await action(p.actor, parse_id(report_id), form)
    except ChevetError as exc:
        return await _detail(p, report_id, error=p.error_text(exc), status=422)
    return p.redirect(f"/signalement/{report_id}?ok={notice}")
@router.post("/signalement/{report_id}/qualification")
@ui
async def qualify(request: Request, report_id: str) -> Response:
    svc = request.app.state.services

    async def go(actor: Any, rid: uuid.UUID, form: Any) -> None:
        await handling.qualify(svc, actor, rid, severity=one(form, "severity"), categories=many(form, "categories"),
                              eigs=many(form, "eigs"), security=many(form, "security"),
                              gdpr_breach=one(form, "gdpr_breach") == "1",
                              awareness_at=parse_local(one(form, "awareness_at"), "awareness_at"),
                              note=one(form, "note"))
    return await _act(request, report_id, go, "qualifie")


@router.post("/signalement/{report_id}/analyse")
@ui
async def analysis(request: Request, report_id: str) -> Response:
    svc = request.app.state.services

    async def go(actor: Any, rid: uuid.UUID, form: Any) -> None:
        await handling.record_analysis(svc, actor, rid, method=one(form, "method"), date=one(form, "date"),
                                      root_causes=one(form, "root_causes"), lessons=one(form, "lessons"))
    return await _act(request, report_id, go, "analyse")


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError as exc:
        raise InvalidInput("unknown_member") from exc


@router.post("/signalement/{report_id}/actions")
@ui
async def add_action(request: Request, report_id: str) -> Response:
    svc = request.app.state.services

    async def go(actor: Any, rid: uuid.UUID, form: Any) -> None:
        due = parse_local(one(form, "due"), "due")
        await handling.add_action(svc, actor, rid, title=one(form, "title"),
                                 owner_id=_uuid_or_none(one(form, "owner_id")),
                                 due_at=due + timedelta(hours=23, minutes=59) if due else None)
    return await _act(request, report_id, go, "action")


@router.post("/signalement/{report_id}/actions/{action_id}/fait")
@ui
async def action_done(request: Request, report_id: str, action_id: str) -> Response:
    svc = request.app.state.services

    async def go(actor: Any, rid: uuid.UUID, form: Any) -> None:
        await handling.complete_action(svc, actor, rid, parse_id(action_id))
    return await _act(request, report_id, go, "action")


@router.post("/signalement/{report_id}/lecteurs")
@ui
async def add_reader(request: Request, report_id: str) -> Response:
    svc = request.app.state.services

    async def go(actor: Any, rid: uuid.UUID, form: Any) -> None:
        person = _uuid_or_none(one(form, "person_id"))
        if person is None:
            raise InvalidInput("unknown_member")
        await handling.add_reader(svc, actor, rid, person)
    return await _act(request, report_id, go, "acces")


@router.post("/signalement/{report_id}/discussion")
@ui
async def discussion(request: Request, report_id: str) -> Response:
    svc = request.app.state.services

    async def go(actor: Any, rid: uuid.UUID, form: Any) -> None:
        view = await reports.get_report(svc, actor, rid)
        members = [uuid.UUID(p["id"]) for p in view.get("readers", [])]
        await handling.open_discussion(svc, actor, rid, members)
    return await _act(request, report_id, go, "discussion")


@router.post("/signalement/{report_id}/retour")
@ui
async def feedback(request: Request, report_id: str) -> Response:
    svc = request.app.state.services

    async def go(actor: Any, rid: uuid.UUID, form: Any) -> None:
        await handling.give_feedback(svc, actor, rid, one(form, "text"))
    return await _act(request, report_id, go, "retour")


@router.post("/signalement/{report_id}/cloture")
@ui
async def close(request: Request, report_id: str) -> Response:
    svc = request.app.state.services

    async def go(actor: Any, rid: uuid.UUID, form: Any) -> None:
        await handling.close(svc, actor, rid)
    return await _act(request, report_id, go, "cloture")


# --- regulatory forms --------------------------------------------------------------------------
async def _form_page(p: SignedInPage, report_id: str, kind: str, *, error: str | None = None,
                     notice: str | None = None, status: int = 200) -> Response:
    rid = parse_id(report_id)
    try:
        f = await report_forms.get_form(p.services, p.actor, rid, kind)
    except ChevetError as exc:
        code = 404 if isinstance(exc, NotFound) else 422
        return await _detail(p, report_id, error=p.error_text(exc), status=code)
    return render(p, "form.html", status=status, title=f["title"], f=f, report_id=report_id, error=error,
                  notice=notice, director="director" in p.report_functions, nav="list")


_FORM_NOTICES = ("enregistre", "valide", "envoi")


@router.get("/signalement/{report_id}/formulaires/{kind}")
@ui
async def form_page(request: Request, report_id: str, kind: str) -> Response:
    p = await signed_in(request)
    ok = request.query_params.get("ok", "")
    return await _form_page(p, report_id, kind, notice=p.t(f"sig.notice.{ok}") if ok in _FORM_NOTICES else None)


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


async def _form_act(request: Request, report_id: str, kind: str, action: Any, notice: str) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    try:
        await action(p, parse_id(report_id), form)
    except ChevetError as exc:
        return await _form_page(p, report_id, kind, error=p.error_text(exc), status=422)
    return p.redirect(f"/signalement/{report_id}/formulaires/{kind}?ok={notice}")


@router.post("/signalement/{report_id}/formulaires/{kind}")
@ui
async def form_save(request: Request, report_id: str, kind: str) -> Response:
    async def go(p: SignedInPage, rid: uuid.UUID, form: Any) -> None:
        await report_forms.save_form(p.services, p.actor, rid, kind, _form_values(kind, form))
    return await _form_act(request, report_id, kind, go, "enregistre")


@router.post("/signalement/{report_id}/formulaires/{kind}/validation")
@ui
async def form_validate(request: Request, report_id: str, kind: str) -> Response:
    async def go(p: SignedInPage, rid: uuid.UUID, form: Any) -> None:
        await report_forms.validate_form(p.services, p.actor, rid, kind)
    return await _form_act(request, report_id, kind, go, "valide")


@router.post("/signalement/{report_id}/formulaires/{kind}/envoi")
@ui
async def form_submission(request: Request, report_id: str, kind: str) -> Response:
    async def go(p: SignedInPage, rid: uuid.UUID, form: Any) -> None:
        await report_forms.record_submission(p.services, p.actor, rid, kind, at=parse_local(one(form, "at"), "at"),
                                             channel=one(form, "channel"), reference=one(form, "reference"))
    return await _form_act(request, report_id, kind, go, "envoi")


@router.get("/signalement/{report_id}/formulaires/{kind}/export.{fmt}")
@ui
async def form_export(request: Request, report_id: str, kind: str, fmt: str) -> Response:
    p = await signed_in(request)
    try:
        out = await report_forms.export_form(p.services, p.actor, parse_id(report_id), kind, fmt)
    except ReauthenticationRequired:
        raise  # the web client asks the director to confirm, then comes back to this download
    except ChevetError as exc:
        return await _form_page(p, report_id, kind, error=p.error_text(exc), status=422)
    return Response(out.body, media_type=out.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{out.filename}"',
                             "Cache-Control": "no-store"})

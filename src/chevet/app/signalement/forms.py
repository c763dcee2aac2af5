"""Regulatory forms of a report (drafted, validated by the director, exported, recorded as
sent), the deadlines dashboard, reminders and the statistics of the annual quality report.

Chevet prepares and tracks; a person sends: no regulator portal API is known, so a submission
is recorded by hand (date, channel, reference number received) and that closes the deadline.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chevet.app.access import report_functions
from chevet.app.identity.session_policy import require_recent_authentication
from chevet.app.services import Actor, Services
from chevet.app.signalement import access as report_access
from chevet.app.signalement import files as report_files
from chevet.app.signalement import reports
from chevet.app.signalement.views import DashboardDeadline, DeadlinesDashboardView, FormView
from chevet.core.errors import Forbidden, InvalidInput, NotFound
from chevet.core.ids import new_id
from chevet.core.signalement import deadlines as dl
from chevet.core.signalement import forms, statistics
from chevet.core.signalement.records import CorrectiveAction, FormStatus, FormSubmission, ReportForm
from chevet.core.signalement.report import clean_short_text, moment
from chevet.core.signalement.taxonomy import SEVERITY_LABELS, ReporterMode

REMIND_BEFORE = timedelta(hours=12)


def _kind(value: str) -> dl.FormKind:
    return forms.spec(value).kind


def _required_kinds(r: Any) -> list[dl.FormKind]:
    return dl.forms_required(essms=bool(r.categories), eigs=bool(r.eigs), security=bool(r.security), gdpr=r.gdpr)


async def _values(services: Services, tx: Any, actor: Actor, a: report_access.ReportAccess,
                  kind: dl.FormKind) -> tuple[ReportForm | None, dict[str, Any]]:
    stored = await tx.reports.form(a.report.id, kind)
    if stored is not None:
        return stored, report_access.open_json(a.key, f"rform:{kind.value}", a.report.id, stored.values_sealed)
    q = report_access.qualification_of(a)
    if q is None:
        raise InvalidInput("report_not_qualified")
    actions = await tx.reports.actions(a.report.id)
    names = {p.id: p.name for p in await tx.people.many(actor.org_id, [x.owner_id for x in actions if x.owner_id])}
    plan = "\n".join(
        f"- {report_access.open_json(a.key, 'raction', a.report.id, x.title_sealed, x.id)}"
        + (f" — {names.get(x.owner_id, '')}" if x.owner_id else "")
        + (f" — échéance {dl.local_time(x.due_at):%d/%m/%Y}" if x.due_at else "")
        for x in actions)
    p = forms.Prefill(organisation_name=actor.organisation.name, content=report_access.content_of(a), qualification=q,
                      director_name=actor.person.name if a.director else "",
                      analysis=report_access.open_json(a.key, "ranalysis", a.report.id, a.report.analysis_sealed),
                      action_plan=plan)
    return None, forms.prefill(kind, p)


def _form_view(kind: dl.FormKind, stored: ReportForm | None, values: Mapping[str, Any]) -> FormView:
    s = forms.SPECS[kind]
    return {"kind": kind.value, "title": s.title, "recipient": s.recipient, "legal_basis": s.legal_basis,
            "status": stored.status.value if stored else "draft", "saved": stored is not None,
            "validated_at": stored.validated_at.isoformat() if stored and stored.validated_at else None,
            "missing": forms.missing(kind, values),
            "fields": [{"key": f.key, "label": f.label, "type": f.type.value, "required": f.required,
                        "value": values.get(f.key)} for f in s.fields]}


async def get_form(services: Services, actor: Actor, report_id: uuid.UUID, kind: str) -> FormView:
    k = _kind(kind)
    async with services.unit(actor.ip) as u:
        a = await report_access.access(services, u.tx, actor, report_id)
        report_access.require_manager(a)
        if k not in _required_kinds(a.report):
            raise NotFound("report_form_not_needed")
        stored, values = await _values(services, u.tx, actor, a, k)
        await u.audit(actor.org_id, "report.form_read", actor.id, "report", report_id, form=k.value)
        return _form_view(k, stored, values)


async def save_form(services: Services, actor: Actor, report_id: uuid.UUID, kind: str,
                    values: Mapping[str, Any]) -> FormView:
    """Save a draft. Editing a validated form sends it back to draft: the director validates
    what is sent, not an earlier version."""
    k = _kind(kind)
    clean = forms.clean_values(k, values)
    async with services.unit(actor.ip) as u:
        a = await report_access.access(services, u.tx, actor, report_id)
        report_access.require_manager(a)
        if k not in _required_kinds(a.report):
            raise NotFound("report_form_not_needed")
        f = ReportForm(report_id=report_id, kind=k,
                       values_sealed=report_access.seal_json(a.key, f"rform:{k.value}", report_id, clean),
                       status=FormStatus.DRAFT, updated_at=services.clock.now())
        await u.tx.reports.save_form(f)
        await u.audit(actor.org_id, "report.form_saved", actor.id, "report", report_id, form=k.value)
        return _form_view(k, f, clean)


async def validate_form(services: Services, actor: Actor, report_id: uuid.UUID, kind: str) -> FormView:
    k = _kind(kind)
    async with services.unit(actor.ip) as u:
        a = await report_access.access(services, u.tx, actor, report_id)
        if not a.director:
            raise Forbidden("report_director_only")
        if k not in _required_kinds(a.report):
            raise NotFound("report_form_not_needed")
        _, values = await _values(services, u.tx, actor, a, k)
        forms.check_complete(k, values)
        now = services.clock.now()
        f = ReportForm(report_id=report_id, kind=k,
                       values_sealed=report_access.seal_json(a.key, f"rform:{k.value}", report_id, values),
                       status=FormStatus.VALIDATED, updated_at=now, validated_by=actor.id, validated_at=now)
        await u.tx.reports.save_form(f)
        await u.audit(actor.org_id, "report.form_validated", actor.id, "report", report_id, form=k.value)
        return _form_view(k, f, values)


@dataclass(frozen=True, slots=True)
class Export:
    filename: str
    media_type: str
    body: bytes


async def export_form(services: Services, actor: Actor, report_id: uuid.UUID, kind: str,
                      fmt: str) -> Export:
    """The validated form as a PDF ready to send, or as structured JSON."""
    import orjson

    k = _kind(kind)
    if fmt not in ("pdf", "json"):
        raise InvalidInput("report_export_format", allowed="pdf, json")
    async with services.unit(actor.ip) as u:
        a = await report_access.access(services, u.tx, actor, report_id)
        report_access.require_manager(a)
        stored = await u.tx.reports.form(report_id, k)
        if stored is None or stored.status is not FormStatus.VALIDATED or stored.validated_at is None:
            raise InvalidInput("report_form_not_validated")
        await require_recent_authentication(services, actor, u.tx)
        values = report_access.open_json(a.key, f"rform:{k.value}", report_id, stored.values_sealed)
        validator = await u.tx.people.get(actor.org_id, stored.validated_by) if stored.validated_by else None
        now = services.clock.now()
        sev = a.report.severity
        sev_label = SEVERITY_LABELS[sev] if sev else ""
        ref = str(report_id).split("-")[0].upper()
        files = report_files.export_list(await u.tx.reports.files(report_id), a.key,
                                         names=a.report.mode is ReporterMode.NAMED)
        await u.audit(actor.org_id, "report.form_exported", actor.id, "report", report_id, form=k.value, format=fmt)
    stamp = f"{dl.local_time(now):%Y%m%d}"
    if fmt == "pdf":
        body = services.declarations.render(
            k, values, organisation=actor.organisation.name, report_ref=ref, severity_label=sev_label,
            validated_by=validator.name if validator else "", validated_at=stored.validated_at, generated_at=now)
        return Export(f"signalement-{k.value}-{ref}-{stamp}.pdf", "application/pdf", body)
    doc = forms.export(k, values, report_id=str(report_id), organisation=actor.organisation.name,
                       severity=sev.value if sev else "", severity_label=sev_label,
                       validated_by=validator.name if validator else "", validated_at=stored.validated_at,
                       generated_at=now) | {"attachments": files}
    return Export(f"signalement-{k.value}-{ref}-{stamp}.json", "application/json",
                  orjson.dumps(doc, option=orjson.OPT_INDENT_2))


async def record_submission(services: Services, actor: Actor, report_id: uuid.UUID, kind: str, *,
                            at: datetime | None, channel: str, reference: str | None) -> None:
    k = _kind(kind)
    try:
        ch = dl.Channel(channel)
    except ValueError as exc:
        raise InvalidInput("report_channel_invalid", allowed=", ".join(c.value for c in dl.Channel)) from exc
    ref = clean_short_text(reference, "reference")[:100]
    now = services.clock.now()
    when = moment(at or now, "at", now)
    async with services.unit(actor.ip) as u:
        a = await report_access.access(services, u.tx, actor, report_id)
        report_access.require_manager(a)
        stored = await u.tx.reports.form(report_id, k)
        # An oral first report (phone) may precede the written form; anything written must be validated.
        if ch in dl.WRITTEN_CHANNELS and (stored is None or stored.status is not FormStatus.VALIDATED):
            raise InvalidInput("report_form_not_validated")
        if k not in _required_kinds(a.report):
            raise NotFound("report_form_not_needed")
        await u.tx.reports.add_submission(FormSubmission(id=new_id(), report_id=report_id, kind=k, at=when,
                                                         channel=ch, reference=ref, recorded_by=actor.id))
        await u.audit(actor.org_id, "report.submission_recorded", actor.id, "report", report_id, form=k.value,
                      channel=ch.value, reference=ref)


# --- dashboard and reminders -------------------------------------------------------------
async def dashboard(services: Services, actor: Actor) -> DeadlinesDashboardView:
    """Every open regulatory deadline of the organisation, overdue first, and what was done."""
    now = services.clock.now()
    async with services.unit(actor.ip) as u:
        if not await report_functions(u.tx, actor):
            raise Forbidden("report_manager_only")
        rows: list[DashboardDeadline] = []
        listed = await u.tx.reports.listing(actor.org_id, visible_to=None)
        deadlines = await reports.deadlines_by_report(u.tx, listed)
        for r in listed:
            for d in deadlines[r.id]:
                rows.append({**reports.deadline_view(d, now), "report_id": str(r.id),
                             "ref": str(r.id).split("-")[0].upper()})
        await u.audit(actor.org_id, "report.dashboard_viewed", actor.id, "report", None)
    order = {"overdue": 0, "due": 1, "done": 2}
    rows.sort(key=lambda x: (order[x["state"]], x["alert_at"]))
    return {"now": now.isoformat(), "deadlines": rows,
            "counts": {s: sum(1 for x in rows if x["state"] == s) for s in order}}


async def send_reminders(services: Services) -> int:
    """Notify the quality leads and directors of deadlines that come close or are missed, once
    per stage ("soon", then "overdue"). Meant to run every few minutes (``chevet signalement
    remind`` from a timer); returns how many reminders were sent."""
    now = services.clock.now()
    sent = 0
    async with services.unit(None) as u:
        open_reports = await u.tx.reports.open_qualified()
        deadlines = await reports.deadlines_by_report(u.tx, open_reports)
        stages = await u.tx.reports.reminder_stages([r.id for r in open_reports]) if open_reports else {}
        managers: dict[uuid.UUID, list[uuid.UUID]] = {}
        for r in open_reports:
            for d in deadlines[r.id]:
                state = d.state(now)
                if state is dl.DeadlineState.DONE:
                    continue
                stage = "overdue" if state is dl.DeadlineState.OVERDUE else \
                    "soon" if d.immediate or d.alert_at - now <= REMIND_BEFORE else None
                # The stages read above spare a write for what is already notified; the write itself
                # decides, so that two processes never notify the same stage twice.
                if stage is None or stages.get((r.id, d.kind.value)) == stage \
                        or not await u.tx.reports.set_reminder_stage(r.id, d.kind.value, stage, now):
                    continue
                await u.audit(r.org_id, "report.reminder_sent", None, "report", r.id, deadline=d.kind.value,
                              stage=stage)
                if r.org_id not in managers:
                    managers[r.org_id] = await report_access.managers(u.tx, r.org_id)
                report_access.notify(u, r.org_id, r.id, managers[r.org_id],
                                {"type": "signalement.reminder", "deadline": d.kind.value, "stage": stage,
                                 "title": dl.DEADLINE_LABELS[d.kind], "due_at": d.due_at.isoformat()})
                sent += 1
    return sent


# --- statistics --------------------------------------------------------------------------
async def report_statistics(services: Services, actor: Actor, start: datetime, end: datetime) -> statistics.Statistics:
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise InvalidInput("report_period_invalid")
    if end - start > timedelta(days=3700):
        raise InvalidInput("report_period_invalid")
    now = services.clock.now()
    async with services.unit(actor.ip) as u:
        if not await report_functions(u.tx, actor):
            raise Forbidden("report_manager_only")
        teams = {t.id: t.name for t in await u.tx.teams.all(actor.org_id)}
        facts = []
        listed = await u.tx.reports.listing(actor.org_id, visible_to=None, since=start, until=end, limit=100_000)
        deadlines = await reports.deadlines_by_report(u.tx, listed)
        actions: dict[uuid.UUID, list[CorrectiveAction]] = {}
        for x in await u.tx.reports.actions_of([r.id for r in listed]) if listed else []:
            actions.setdefault(x.report_id, []).append(x)
        for r in listed:
            ds, acts = deadlines[r.id], actions.get(r.id, [])
            facts.append(statistics.ReportFacts(
                received_at=r.received_at, severity=r.severity, categories=r.categories,
                unit=teams.get(r.team_id) if r.team_id else None, eigs=bool(r.eigs), security=bool(r.security),
                gdpr=r.gdpr, deadlines_met=sum(1 for d in ds if d.met is True),
                deadlines_missed=sum(1 for d in ds if d.met is False or d.state(now) is dl.DeadlineState.OVERDUE),
                deadlines_open=sum(1 for d in ds if d.state(now) is dl.DeadlineState.DUE),
                actions_done=sum(1 for x in acts if x.done_at), actions_total=len(acts)))
        await u.audit(actor.org_id, "report.statistics_viewed", actor.id, "report", None)
    return statistics.compute(facts, start, end)


"""Signalement: reading a report (the whole report, the list's headlines, its deadlines and its
files). Filing is in ``filing``, the handling that follows in ``handling``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from chevet.app.access import report_functions
from chevet.app.attachments.download import Download
from chevet.app.services import Actor, Services
from chevet.app.signalement import files as report_files
from chevet.app.signalement.access import (
    ReportAccess,
    access,
    content_of,
    names_visible,
    open_json,
    qualification_of,
)
from chevet.app.signalement.views import DeadlineView, PersonRef, ReportHeadline, ReportView
from chevet.core.errors import NotFound
from chevet.core.signalement import deadlines as dl
from chevet.core.signalement.records import Report
from chevet.core.signalement.taxonomy import ReporterMode
from chevet.ports import Transaction


async def _names(tx: Transaction, org_id: uuid.UUID, ids: Sequence[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = [i for i in dict.fromkeys(ids) if i is not None]
    return {p.id: p.name for p in await tx.people.many(org_id, wanted)} if wanted else {}


async def deadlines_of(tx: Transaction, r: Report) -> list[dl.Deadline]:
    return (await deadlines_by_report(tx, [r]))[r.id]


async def deadlines_by_report(tx: Transaction, reports: Sequence[Report]) -> dict[uuid.UUID, list[dl.Deadline]]:
    """Each report's deadlines, with one read of the submissions for all of them."""
    qualified = [r for r in reports if r.severity is not None and r.awareness_at is not None]
    subs: dict[uuid.UUID, list[dl.Submission]] = {}
    for s in await tx.reports.submissions_of([r.id for r in qualified]) if qualified else []:
        subs.setdefault(s.report_id, []).append(dl.Submission(s.kind, s.at, s.channel))
    out: dict[uuid.UUID, list[dl.Deadline]] = {r.id: [] for r in reports}
    for r in qualified:
        assert r.awareness_at is not None
        out[r.id] = dl.compute(awareness_at=r.awareness_at, essms=bool(r.categories), eigs=bool(r.eigs),
                               security=bool(r.security), gdpr=r.gdpr, submissions=subs.get(r.id, []))
    return out


async def report_view(services: Services, tx: Transaction, actor: Actor, a: ReportAccess) -> ReportView:
    r = a.report
    c = content_of(a)
    now = services.clock.now()
    actions = await tx.reports.actions(r.id)
    readers = await tx.reports.readers(r.id)
    confidential_id = uuid.UUID(c.reporter_id) if c.reporter_id else None
    names = await _names(tx, r.org_id, [r.reporter_id, confidential_id, r.qualified_by, *readers,
                                        *(x.owner_id for x in actions)])
    reporter: PersonRef | None = None
    if r.mode is ReporterMode.NAMED and r.reporter_id:
        reporter = {"id": str(r.reporter_id), "name": names.get(r.reporter_id, "")}
    elif r.mode is ReporterMode.CONFIDENTIAL and a.quality_lead and confidential_id:
        reporter = {"id": str(confidential_id), "name": names.get(confidential_id, "")}
    q = qualification_of(a)
    view: ReportView = {
        "id": str(r.id), "mode": r.mode.value, "status": r.status.value, "received_at": r.received_at.isoformat(),
        "team_id": str(r.team_id) if r.team_id else None, "reporter": reporter,
        "what": c.what, "occurred_at": c.occurred_at.isoformat(), "discovered_at": c.discovered_at.isoformat(),
        "place": c.place, "affected_refs": list(c.affected_refs), "affected_count": c.affected_count,
        "immediate_measures": c.immediate_measures,
        "feedback": open_json(a.key, "rfeedback", r.id, r.feedback_sealed),
        "feedback_at": r.feedback_at.isoformat() if r.feedback_at else None,
        "closed_at": r.closed_at.isoformat() if r.closed_at else None,
        "attachments": report_files.views(await tx.reports.files(r.id), a.key, names=names_visible(a)),
        "can_manage": a.manages, "is_director": a.director, "is_quality_lead": a.quality_lead,
    }
    if a.manages or a.is_reader:
        view.update({
            "qualification": None if q is None else {
                "severity": q.severity.value, "categories": list(q.categories), "eigs": [e.value for e in q.eigs],
                "security": [s.value for s in q.security], "gdpr_breach": q.gdpr_breach,
                "awareness_at": q.awareness_at.isoformat() if q.awareness_at else None, "note": q.note,
                "qualified_by": names.get(r.qualified_by, "") if r.qualified_by else None,
                "qualified_at": r.qualified_at.isoformat() if r.qualified_at else None},
            "deadlines": [deadline_view(d, now) for d in await deadlines_of(tx, r)],
            "forms": [{"kind": f.kind.value, "status": f.status.value,
                       "validated_at": f.validated_at.isoformat() if f.validated_at else None}
                      for f in await tx.reports.forms(r.id)],
            "submissions": [{"kind": s.kind.value, "at": s.at.isoformat(), "channel": s.channel.value,
                             "reference": s.reference} for s in await tx.reports.submissions(r.id)],
            "analysis": open_json(a.key, "ranalysis", r.id, r.analysis_sealed),
            "actions": [{"id": str(x.id), "title": open_json(a.key, "raction", r.id, x.title_sealed, x.id),
                         "owner_id": str(x.owner_id) if x.owner_id else None,
                         "owner": names.get(x.owner_id, "") if x.owner_id else None,
                         "due_at": x.due_at.isoformat() if x.due_at else None,
                         "done_at": x.done_at.isoformat() if x.done_at else None} for x in actions],
            "readers": [{"id": str(p), "name": names.get(p, "")} for p in readers],
            "conversation_id": str(r.conversation_id) if r.conversation_id else None,
        })
    return view


async def download_file(services: Services, actor: Actor, report_id: uuid.UUID, file_id: uuid.UUID,
                        byte_range: tuple[int, int] | None = None) -> Download:
    """A file of a report, decrypted, for whoever may read the report; every download is traced."""
    async with services.unit(actor.ip) as u:
        try:
            a = await access(services, u.tx, actor, report_id)
        except NotFound as exc:
            raise NotFound("attachment_not_found") from exc
        f = report_files.find(await u.tx.reports.files(report_id), file_id)
        await u.audit(actor.org_id, "report.file_read", actor.id, "report", report_id, file=str(file_id))
        name = report_files.display_name(f, a.key, names=names_visible(a))
    return await report_files.opened(services, f, a.key, name, byte_range)


def deadline_view(d: dl.Deadline, now: datetime) -> DeadlineView:
    return {"kind": d.kind.value, "label": dl.DEADLINE_LABELS[d.kind], "form": dl.DEADLINE_FORM[d.kind].value,
            "immediate": d.immediate, "due_at": d.due_at.isoformat(),
            "due_local": f"{dl.local_time(d.due_at):%d/%m/%Y %H:%M}",
            "alert_at": d.alert_at.isoformat(), "state": d.state(now).value,
            "done_at": d.done_at.isoformat() if d.done_at else None, "met": d.met}


async def get_report(services: Services, actor: Actor, report_id: uuid.UUID) -> ReportView:
    async with services.unit(actor.ip) as u:
        a = await access(services, u.tx, actor, report_id)
        await u.audit(actor.org_id, "report.read", actor.id, "report", report_id)
        return await report_view(services, u.tx, actor, a)


async def list_reports(services: Services, actor: Actor) -> list[ReportHeadline]:
    """Headlines only (no narrative): the list never opens sealed content."""
    async with services.unit(actor.ip) as u:
        fns = await report_functions(u.tx, actor)
        reports = await u.tx.reports.listing(actor.org_id, visible_to=None if fns else actor.id)
        if fns:
            # Managers list everyone's reports: traced. A reporter's own list (classification of
            # what they filed by name or were given) is not, so that opening the signalement
            # pages just before an anonymous filing leaves no entry of theirs beside it.
            await u.audit(actor.org_id, "report.listed", actor.id, "report", None, count=len(reports))
        now = services.clock.now()
        out: list[ReportHeadline] = []
        deadlines = await deadlines_by_report(u.tx, reports)
        for r in reports:
            states = dl.summary(deadlines[r.id], now)
            out.append({"id": str(r.id), "mode": r.mode.value, "status": r.status.value,
                        "received_at": r.received_at.isoformat(),
                        "received_local": f"{dl.local_time(r.received_at):%d/%m/%Y %H:%M}",
                        "severity": r.severity.value if r.severity else None,
                        "categories": list(r.categories), "eigs": bool(r.eigs), "security": bool(r.security),
                        "gdpr": r.gdpr, "overdue": states[dl.DeadlineState.OVERDUE],
                        "due": states[dl.DeadlineState.DUE]})
        return out

"""Signalement: filing an internal report, reaching it, qualifying it, following it up.

``access`` is the one permission-checked way to a report: another organisation's report, or
one the caller may not see, is simply not found. Who sees a report: the quality leads and
the director of its organisation, the people they explicitly add, and a named reporter.

Reporter modes (see docs/signalement.md): a *named* report stores its reporter's id; a
*confidential* one seals it inside the report, shown only to quality leads, and its audit entry
has no actor; an *anonymous* one stores nothing that designates the reporter: no id, no actor
and no address in the audit entry, a random (not time-ordered) report id, and the reporter's
session is not even touched (see ``auth.authenticate(touch=False)``). Its filing writes nothing
of hers, nor any page holding her rows: its audit entry waits (``report_pending_audit``) for the
periodic job, which appends it later, so that it does not land beside her latest entries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson

from chevet.app.attachments.download import Download
from chevet.app.attachments.upload import delete_files
from chevet.app.identity.session_policy import require_recent_authentication
from chevet.app.services import Actor, Services, Unit
from chevet.app.signalement import files as report_files
from chevet.core import envelope
from chevet.core.entities import PersonStatus, RealtimeEvent
from chevet.core.envelope import DataKey
from chevet.core.errors import Forbidden, InvalidInput, NotFound
from chevet.core.ids import new_id
from chevet.core.roles import Permission, can
from chevet.core.signalement import deadlines as dl
from chevet.core.signalement.records import CorrectiveAction, Report
from chevet.core.signalement.report import (
    Qualification,
    ReportContent,
    ReportFunction,
    ReportStatus,
    clean_long_text,
    clean_qualification,
    clean_report,
    clean_short_text,
    functions_of,
    parse_function,
)
from chevet.core.signalement.retention import (
    DEFAULT_DAYS,
    MAX_DAYS,
    MIN_DAYS,
    RATIONALE,
    RecordType,
    check_days,
    expires_at,
    kept_days,
    parse_record_type,
    record_types,
)
from chevet.core.signalement.taxonomy import ReporterMode, parse_mode
from chevet.ports import Transaction

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or copied by hand


@dataclass(frozen=True, slots=True)
class ReportAccess:
    report: Report
    key: DataKey
    functions: frozenset[ReportFunction]
    is_reader: bool

    @property
    def manages(self) -> bool:
        return bool(self.functions)

    @property
    def quality_lead(self) -> bool:
        return ReportFunction.QUALITY_LEAD in self.functions

    @property
    def director(self) -> bool:
        return ReportFunction.DIRECTOR in self.functions


def _aad(label: str, report_id: uuid.UUID, *more: uuid.UUID) -> bytes:
    return envelope.aad(label, report_id, *more)


def new_report_key(services: Services, report_id: uuid.UUID) -> tuple[DataKey, bytes]:
    material = envelope.random_key()
    return DataKey(material), services.keys.wrap(material, _aad("rkey", report_id))


def unwrap_report_key(services: Services, report_id: uuid.UUID, wrapped: bytes) -> DataKey:
    return DataKey(services.keys.unwrap(wrapped, _aad("rkey", report_id)))


def seal_json(key: DataKey, label: str, report_id: uuid.UUID, value: Any, *more: uuid.UUID) -> bytes:
    return key.seal(orjson.dumps(value), _aad(label, report_id, *more))


def open_json(key: DataKey, label: str, report_id: uuid.UUID, sealed: bytes | None, *more: uuid.UUID) -> Any:
    if sealed is None:
        return None
    return orjson.loads(key.open(sealed, _aad(label, report_id, *more)))


def followup_hash(services: Services, code: str) -> bytes:
    normalised = "".join(ch for ch in code.upper() if ch in _CODE_ALPHABET)
    return hmac.new(services.keys.derive("report-followup"), normalised.encode(), hashlib.sha256).digest()


def _new_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(20))
    return "-".join(raw[i:i + 5] for i in range(0, 20, 5))


async def functions(tx: Transaction, actor: Actor) -> frozenset[ReportFunction]:
    mine = [f for pid, f in await tx.reports.designations(actor.org_id) if pid == actor.id]
    return functions_of(actor.person.role, mine)


async def managers(tx: Transaction, org_id: uuid.UUID) -> list[uuid.UUID]:
    """Everyone who handles reports in the organisation: designated people and administrators."""
    from chevet.core.roles import Role

    ids = {pid for pid, _ in await tx.reports.designations(org_id)}
    for p in await tx.people.search(org_id, "", 1000):
        if p.role is Role.ADMIN and p.status is PersonStatus.ACTIVE:
            ids.add(p.id)
    return sorted(ids)


async def access(services: Services, tx: Transaction, actor: Actor, report_id: uuid.UUID) -> ReportAccess:
    r = await tx.reports.get(actor.org_id, report_id)
    if r is None:
        raise NotFound("report_not_found")
    fns = await functions(tx, actor)
    reader = await tx.reports.is_reader(r.id, actor.id)
    if not fns and not reader and r.reporter_id != actor.id:
        raise NotFound("report_not_found")
    wrapped = await tx.reports.wrapped_key(r.id)
    if wrapped is None:
        raise NotFound("report_not_found")
    return ReportAccess(r, unwrap_report_key(services, r.id, wrapped), fns, reader)


def require_manager(a: ReportAccess) -> None:
    if not a.manages:
        raise Forbidden("report_manager_only")


def _notify(u: Unit, org_id: uuid.UUID, report_id: uuid.UUID, user_ids: Sequence[uuid.UUID],
            payload: dict[str, Any]) -> None:
    if user_ids:
        u.publish(RealtimeEvent(org_id, report_id, None, payload | {"report_id": str(report_id)},
                                user_ids=tuple(user_ids), private=True))


# --- filing ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Filed:
    report_id: uuid.UUID
    followup_code: str


async def file_report(services: Services, actor: Actor, *, mode: str, what: str | None,
                      occurred_at: datetime | None, discovered_at: datetime | None, place: str | None,
                      affected_refs: Sequence[str] = (), affected_count: int | None = None,
                      immediate_measures: str | None = None, team_id: uuid.UUID | None = None,
                      files: Sequence[report_files.IncomingFile] = ()) -> Filed:
    """File an internal report, with its photos and documents if any. The follow-up code is
    shown once, to the reporter only; it is stored as a keyed hash and lets even an anonymous
    reporter read the feedback later. A refused file refuses the whole report (nothing stored)."""
    parsed = parse_mode(mode)
    now = services.clock.now()
    content = clean_report(what=what, occurred_at=occurred_at, discovered_at=discovered_at, place=place,
                           affected_refs=affected_refs, affected_count=affected_count,
                           immediate_measures=immediate_measures, now=now)
    if parsed is ReporterMode.CONFIDENTIAL:
        content = replace(content, reporter_id=str(actor.id))
    identified = parsed is ReporterMode.NAMED
    # A time-ordered id would date the report to the millisecond: only named reports get one.
    report_id = new_id() if identified else uuid.uuid4()
    key, wrapped = new_report_key(services, report_id)
    code = _new_code()
    report = Report(id=report_id, org_id=actor.org_id, mode=parsed,
                    reporter_id=actor.id if identified else None, status=ReportStatus.NEW, team_id=team_id,
                    received_at=now, content_sealed=seal_json(key, "report", report_id, content.to_json()))
    ready = await report_files.check(services, key, parsed, files)
    written: list[str] = []
    try:
        async with services.unit(actor.ip if identified else None) as u:
            if team_id is not None and await u.tx.teams.get(actor.org_id, team_id) is None:
                raise InvalidInput("report_unit_unknown")
            await u.tx.reports.add(report, wrapped, followup_hash(services, code))
            await report_files.store(u, actor.org_id, report_id, key, ready, new_id if identified else uuid.uuid4,
                                     written)
            detail: dict[str, Any] = {"mode": parsed.value, **({"files": len(ready)} if ready else {})}
            if parsed is ReporterMode.ANONYMOUS:
                # Not appended now: the chain's last page holds the reporter's own latest entries
                # (her sign-in, her messages), and the entry's place would date the report
                # between them. The periodic job appends it later (record_anonymous_filings).
                await u.tx.reports.add_pending_audit(actor.org_id, report_id, detail)
            else:
                await u.audit(actor.org_id, "report.filed", actor.id if identified else None, "report", report_id,
                              **detail)
            _notify(u, actor.org_id, report_id, await managers(u.tx, actor.org_id),
                    {"type": "signalement.filed", "title": "Nouveau signalement à qualifier"})
    except BaseException:
        await delete_files(services, written)
        raise
    return Filed(report_id, code)


async def record_anonymous_filings(services: Services) -> int:
    """Append the audit entries of the anonymous filings made since the last run, in random
    order, each in its own transaction (called by the server's periodic job). The entry is
    timed by this run, not by the filing, and has no actor and no address."""
    async with services.db.transaction() as tx:
        pending = await tx.reports.pending_audits()
    secrets.SystemRandom().shuffle(pending)
    done = 0
    for org_id, report_id, detail in pending:
        async with services.unit(None) as u:
            if await u.tx.reports.remove_pending_audit(report_id):
                await u.audit(org_id, "report.filed", None, "report", report_id, **detail)
                done += 1
    return done


# --- reading ---------------------------------------------------------------------------------
async def _names(tx: Transaction, org_id: uuid.UUID, ids: Sequence[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = [i for i in dict.fromkeys(ids) if i is not None]
    return {p.id: p.name for p in await tx.people.many(org_id, wanted)} if wanted else {}


def content_of(a: ReportAccess) -> ReportContent:
    return ReportContent.from_json(open_json(a.key, "report", a.report.id, a.report.content_sealed))


def qualification_of(a: ReportAccess) -> Qualification | None:
    r = a.report
    if r.severity is None:
        return None
    note = open_json(a.key, "rnote", r.id, r.note_sealed) or ""
    return Qualification(severity=r.severity, categories=r.categories, eigs=r.eigs, security=r.security,
                         gdpr_breach=r.gdpr, awareness_at=r.awareness_at, note=note)


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


async def report_view(services: Services, tx: Transaction, actor: Actor, a: ReportAccess) -> dict[str, Any]:
    r = a.report
    c = content_of(a)
    now = services.clock.now()
    actions = await tx.reports.actions(r.id)
    readers = await tx.reports.readers(r.id)
    confidential_id = uuid.UUID(c.reporter_id) if c.reporter_id else None
    names = await _names(tx, r.org_id, [r.reporter_id, confidential_id, r.qualified_by, *readers,
                                        *(x.owner_id for x in actions)])
    reporter: dict[str, Any] | None = None
    if r.mode is ReporterMode.NAMED and r.reporter_id:
        reporter = {"id": str(r.reporter_id), "name": names.get(r.reporter_id, "")}
    elif r.mode is ReporterMode.CONFIDENTIAL and a.quality_lead and confidential_id:
        reporter = {"id": str(confidential_id), "name": names.get(confidential_id, "")}
    q = qualification_of(a)
    view: dict[str, Any] = {
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
        view |= {
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
        }
    return view


def names_visible(a: ReportAccess) -> bool:
    """File names are shown as the reporter's identity is: a confidential report's only to
    the quality lead (an anonymous report keeps none)."""
    return a.report.mode is ReporterMode.NAMED or (a.report.mode is ReporterMode.CONFIDENTIAL and a.quality_lead)


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


def deadline_view(d: dl.Deadline, now: datetime) -> dict[str, Any]:
    return {"kind": d.kind.value, "label": dl.DEADLINE_LABELS[d.kind], "form": dl.DEADLINE_FORM[d.kind].value,
            "immediate": d.immediate, "due_at": d.due_at.isoformat(),
            "due_local": f"{dl.local_time(d.due_at):%d/%m/%Y %H:%M}",
            "alert_at": d.alert_at.isoformat(), "state": d.state(now).value,
            "done_at": d.done_at.isoformat() if d.done_at else None, "met": d.met}


async def get_report(services: Services, actor: Actor, report_id: uuid.UUID) -> dict[str, Any]:
    async with services.unit(actor.ip) as u:
        a = await access(services, u.tx, actor, report_id)
        await u.audit(actor.org_id, "report.read", actor.id, "report", report_id)
        return await report_view(services, u.tx, actor, a)


async def list_reports(services: Services, actor: Actor) -> list[dict[str, Any]]:
    """Headlines only (no narrative): the list never opens sealed content."""
    async with services.unit(actor.ip) as u:
        fns = await functions(u.tx, actor)
        reports = await u.tx.reports.listing(actor.org_id, visible_to=None if fns else actor.id)
        if fns:
            # Managers list everyone's reports: traced. A reporter's own list (classification of
            # what they filed by name or were given) is not, so that opening the signalement
            # pages just before an anonymous filing leaves no entry of theirs beside it.
            await u.audit(actor.org_id, "report.listed", actor.id, "report", None, count=len(reports))
        now = services.clock.now()
        out = []
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


# --- qualification and follow-up -----------------------------------------------------------
async def qualify(services: Services, actor: Actor, report_id: uuid.UUID, *, severity: str,
                  categories: Sequence[str] = (), eigs: Sequence[str] = (), security: Sequence[str] = (),
                  gdpr_breach: bool = False, awareness_at: datetime | None = None,
                  note: str | None = None) -> dict[str, Any]:
    now = services.clock.now()
    async with services.unit(actor.ip) as u:
        a = await access(services, u.tx, actor, report_id)
        require_manager(a)
        if a.report.status is ReportStatus.CLOSED:
            raise InvalidInput("report_closed")
        q = clean_qualification(severity=severity, categories=categories, eigs=eigs, security=security,
                                gdpr_breach=gdpr_breach, awareness_at=awareness_at, note=note,
                                received_at=a.report.received_at, now=now)
        r = replace(a.report, status=ReportStatus.QUALIFIED, severity=q.severity, categories=q.categories,
                    eigs=q.eigs, security=q.security, gdpr=q.gdpr_breach, awareness_at=q.awareness_at,
                    qualified_at=now, qualified_by=actor.id,
                    note_sealed=seal_json(a.key, "rnote", report_id, q.note) if q.note else None)
        await u.tx.reports.save(r)
        await u.audit(actor.org_id, "report.qualified", actor.id, "report", report_id, severity=q.severity.value,
                      categories=list(q.categories), eigs=[e.value for e in q.eigs],
                      security=[s.value for s in q.security], gdpr=q.gdpr_breach)
        ds = await deadlines_of(u.tx, r)
        if ds:
            _notify(u, actor.org_id, report_id, await managers(u.tx, actor.org_id),
                    {"type": "signalement.deadlines", "title": "Échéances réglementaires ouvertes",
                     "deadlines": [d.kind.value for d in ds]})
        return await report_view(services, u.tx, actor, replace(a, report=r))


async def add_reader(services: Services, actor: Actor, report_id: uuid.UUID, person_id: uuid.UUID,
                     on: bool = True) -> None:
    async with services.unit(actor.ip) as u:
        a = await access(services, u.tx, actor, report_id)
        require_manager(a)
        person = await u.tx.people.get(actor.org_id, person_id)
        if person is None or person.status is PersonStatus.DEACTIVATED:
            raise NotFound("person_not_found")
        if on:
            await u.tx.reports.add_reader(report_id, person_id)
        else:
            await u.tx.reports.remove_reader(report_id, person_id)
        await u.audit(actor.org_id, "report.reader_added" if on else "report.reader_removed", actor.id,
                      "report", report_id, person=str(person_id))
        if on:
            _notify(u, actor.org_id, report_id, [person_id],
                    {"type": "signalement.shared", "title": "Un signalement vous est partagé"})


async def record_analysis(services: Services, actor: Actor, report_id: uuid.UUID, *, method: str | None,
                          date: str | None, root_causes: str | None, lessons: str | None) -> None:
    analysis = {"method": clean_short_text(method, "method", required=True),
                "date": clean_short_text(date, "date"),
                "root_causes": clean_long_text(root_causes, "root_causes", required=True),
                "lessons": clean_long_text(lessons, "lessons")}
    async with services.unit(actor.ip) as u:
        a = await access(services, u.tx, actor, report_id)
        require_manager(a)
        await u.tx.reports.save(replace(a.report, analysis_sealed=seal_json(a.key, "ranalysis", report_id,
                                                                            analysis)))
        await u.audit(actor.org_id, "report.analysis_recorded", actor.id, "report", report_id,
                      method_given=bool(analysis["method"]))


async def add_action(services: Services, actor: Actor, report_id: uuid.UUID, *, title: str | None,
                     owner_id: uuid.UUID | None, due_at: datetime | None) -> uuid.UUID:
    text = clean_short_text(title, "title", required=True)
    if due_at is not None and due_at.tzinfo is None:
        raise InvalidInput("report_time_needs_zone", field="due_at")
    async with services.unit(actor.ip) as u:
        a = await access(services, u.tx, actor, report_id)
        require_manager(a)
        if a.report.status is ReportStatus.CLOSED:
            raise InvalidInput("report_closed")
        if owner_id is not None:
            owner = await u.tx.people.get(actor.org_id, owner_id)
            if owner is None or owner.status is PersonStatus.DEACTIVATED:
                raise InvalidInput("unknown_member")
        action_id = new_id()
        await u.tx.reports.add_action(CorrectiveAction(
            id=action_id, report_id=report_id, title_sealed=seal_json(a.key, "raction", report_id, text, action_id),
            owner_id=owner_id, due_at=due_at, done_at=None, created_at=services.clock.now()))
        await u.audit(actor.org_id, "report.action_added", actor.id, "report", report_id, action_id=str(action_id),
                      owner=str(owner_id) if owner_id else None)
        if owner_id is not None:
            await u.tx.reports.add_reader(report_id, owner_id)
            _notify(u, actor.org_id, report_id, [owner_id],
                    {"type": "signalement.action", "title": "Une action corrective vous est confiée"})
        return action_id


async def complete_action(services: Services, actor: Actor, report_id: uuid.UUID, action_id: uuid.UUID,
                          done: bool = True) -> None:
    async with services.unit(actor.ip) as u:
        a = await access(services, u.tx, actor, report_id)
        action = next((x for x in await u.tx.reports.actions(report_id) if x.id == action_id), None)
        if action is None:
            raise NotFound("report_action_not_found")
        if not a.manages and action.owner_id != actor.id:
            raise Forbidden("report_manager_only")
        await u.tx.reports.set_action_done(report_id, action_id, services.clock.now() if done else None)
        await u.audit(actor.org_id, "report.action_done" if done else "report.action_reopened", actor.id,
                      "report", report_id, action_id=str(action_id))


async def give_feedback(services: Services, actor: Actor, report_id: uuid.UUID, text: str | None) -> None:
    """Feedback to the reporter: readable with the follow-up code (any mode) and, for a named
    report, sent to the reporter as a notification."""
    body = clean_long_text(text, "feedback", required=True)
    async with services.unit(actor.ip) as u:
        a = await access(services, u.tx, actor, report_id)
        require_manager(a)
        r = replace(a.report, feedback_sealed=seal_json(a.key, "rfeedback", report_id, body),
                    feedback_at=services.clock.now())
        await u.tx.reports.save(r)
        await u.audit(actor.org_id, "report.feedback_given", actor.id, "report", report_id)
        if r.reporter_id is not None:
            _notify(u, actor.org_id, report_id, [r.reporter_id],
                    {"type": "signalement.feedback", "title": "Retour sur votre signalement"})


async def close(services: Services, actor: Actor, report_id: uuid.UUID) -> None:
    """Closing needs a qualification, a completed action plan and every regulatory declaration
    sent: what the HAS evaluation asks to see is that an event led somewhere."""
    async with services.unit(actor.ip) as u:
        a = await access(services, u.tx, actor, report_id)
        require_manager(a)
        if a.report.severity is None:
            raise InvalidInput("report_not_qualified")
        if any(x.done_at is None for x in await u.tx.reports.actions(report_id)):
            raise InvalidInput("report_actions_open")
        if any(d.done_at is None for d in await deadlines_of(u.tx, a.report)):
            raise InvalidInput("report_deadlines_open")
        await u.tx.reports.save(replace(a.report, status=ReportStatus.CLOSED, closed_at=services.clock.now()))
        await u.audit(actor.org_id, "report.closed", actor.id, "report", report_id)


async def link_conversation(services: Services, actor: Actor, report_id: uuid.UUID,
                            conversation_id: uuid.UUID) -> None:
    async with services.unit(actor.ip) as u:
        a = await access(services, u.tx, actor, report_id)
        require_manager(a)
        if a.report.conversation_id is not None:
            raise InvalidInput("report_discussion_exists")
        await u.tx.reports.save(replace(a.report, conversation_id=conversation_id))
        await u.audit(actor.org_id, "report.discussion_opened", actor.id, "report", report_id,
                      conversation=str(conversation_id))


async def open_discussion(services: Services, actor: Actor, report_id: uuid.UUID,
                          member_ids: Sequence[uuid.UUID]) -> uuid.UUID:
    """A group conversation for the people involved in the analysis, linked to the report. Its
    title names only the date of the event, never its content."""
    from chevet.app.messaging.conversations import create_conversation

    async with services.db.transaction() as tx:
        a = await access(services, tx, actor, report_id)
        require_manager(a)
        if a.report.conversation_id is not None:
            raise InvalidInput("report_discussion_exists")
        content = content_of(a)
    title = f"Analyse de l'événement du {dl.local_time(content.occurred_at):%d/%m/%Y}"
    view, _ = await create_conversation(services, actor, kind="group", title=title, member_ids=member_ids)
    conversation_id = uuid.UUID(view["id"])
    await link_conversation(services, actor, report_id, conversation_id)
    return conversation_id


# --- follow-up code (no sign-in, no identity) --------------------------------------------
async def followup(services: Services, code: str) -> dict[str, Any]:
    """What the reporter may know: status, feedback. Looked up by the code alone, so that an
    anonymous reporter never has to reveal who they are; the audit entry has no actor or address."""
    if not code or len(code) > 64:
        raise NotFound("report_followup_unknown")
    async with services.unit(None) as u:
        r = await u.tx.reports.by_followup(followup_hash(services, code))
        wrapped = await u.tx.reports.wrapped_key(r.id) if r else None
        if r is None or wrapped is None:
            raise NotFound("report_followup_unknown")
        key = unwrap_report_key(services, r.id, wrapped)
        await u.audit(r.org_id, "report.followup_viewed", None, "report", r.id)
        return {"status": r.status.value, "received_local": f"{dl.local_time(r.received_at):%d/%m/%Y}",
                "feedback": open_json(key, "rfeedback", r.id, r.feedback_sealed),
                "feedback_at": r.feedback_at.isoformat() if r.feedback_at else None,
                "closed": r.closed_at is not None}


# --- designations ------------------------------------------------------------------------
async def designate(services: Services, actor: Actor, person_id: uuid.UUID, function: str, on: bool) -> None:
    """Administrators name the quality leads and, beside themselves, other directors."""
    fn = parse_function(function)
    if not can(actor.person.role, Permission.MANAGE_ORGANISATION):
        raise Forbidden("forbidden")
    async with services.unit(actor.ip) as u:
        person = await u.tx.people.get(actor.org_id, person_id)
        if person is None:
            raise NotFound("person_not_found")
        await u.tx.reports.designate(actor.org_id, person_id, fn, on)
        await u.audit(actor.org_id, "report.designation_set", actor.id, "person", person_id,
                      function=fn.value, on=on)


async def designate_by_operator(services: Services, org_id: uuid.UUID, email: str, function: str,
                                on: bool) -> uuid.UUID:
    """The installation's operator (CLI) names a quality lead or a director."""
    fn = parse_function(function)
    async with services.unit(None) as u:
        person = await u.tx.people.by_email(email.strip().lower())
        if person is None or person.org_id != org_id:
            raise NotFound("person_not_found")
        await u.tx.reports.designate(org_id, person.id, fn, on)
        await u.audit(org_id, "report.designation_set", None, "person", person.id, function=fn.value, on=on,
                      via="cli")
        return person.id


async def my_functions(services: Services, actor: Actor) -> frozenset[ReportFunction]:
    async with services.db.transaction() as tx:
        return await functions(tx, actor)


# --- retention (periods set here, applied by app/retention.purge) ---------------------------
def retention_view(t: RecordType, days: int | None) -> dict[str, Any]:
    return {"record_type": t.value, "days": days or DEFAULT_DAYS[t], "default_days": DEFAULT_DAYS[t],
            "min_days": MIN_DAYS, "max_days": MAX_DAYS, "rationale": RATIONALE[t]}


async def retention_policies(services: Services, actor: Actor) -> list[dict[str, Any]]:
    """How long each type of closed report is kept: anyone may know (transparency)."""
    async with services.db.transaction() as tx:
        days = await tx.reports.retention_days(actor.org_id)
    return [retention_view(t, days.get(t)) for t in RecordType]


async def set_retention(services: Services, actor: Actor | None, org_id: uuid.UUID, record_type: str,
                        days: int) -> dict[str, Any]:
    """The DPO (or the operator from the command line) sets a record type's period."""
    if actor is not None:
        if not can(actor.person.role, Permission.MANAGE_RETENTION):
            raise Forbidden("forbidden")
        org_id = actor.org_id
    t = parse_record_type(record_type)
    check_days(days)
    async with services.unit(actor.ip if actor else None) as u:
        if actor is not None:
            await require_recent_authentication(services, actor, u.tx)
        old = (await u.tx.reports.retention_days(org_id)).get(t, DEFAULT_DAYS[t])
        await u.tx.reports.set_retention_days(org_id, t, days, services.clock.now())
        await u.audit(org_id, "retention.report_policy_changed", actor.id if actor else None, "organisation",
                      org_id, record_type=t.value, old_days=old, days=days)
    return retention_view(t, days)


async def expired(tx: Transaction, org_id: uuid.UUID | None, now: datetime) -> list[tuple[Report, int]]:
    """Closed reports whose period (the longest of their types) has run out by ``now``."""
    periods: dict[uuid.UUID, dict[RecordType, int]] = {}
    out = []
    for r in await tx.reports.closed(org_id):
        if r.org_id not in periods:
            periods[r.org_id] = await tx.reports.retention_days(r.org_id)
        end = expires_at(r, periods[r.org_id])
        if end is not None and end <= now:
            out.append((r, kept_days(r, periods[r.org_id])))
    return out


async def purge_in(u: Unit, r: Report, *, reason: str, actor_id: uuid.UUID | None = None) -> list[str]:
    """Crypto-shred and delete one report inside ``u`` (its key first, then every row hanging
    off it); returns the blob keys of its files, to delete once the transaction committed."""
    blobs = await report_files.removable(u, r.id)
    await u.tx.reports.purge(r.org_id, r.id)
    await u.audit(r.org_id, "report.purged", actor_id, "report", r.id, reason=reason[:60],
                  types=[t.value for t in record_types(r)], **({"files": len(blobs)} if blobs else {}))
    return blobs

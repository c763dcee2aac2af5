"""Signalement: what the people who handle a report do with it: qualify it (which opens its
regulatory deadlines), share it, record the analysis and the corrective actions, give the
reporter feedback, open a discussion, close it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from chevet.app.services import Actor, Services
from chevet.app.signalement.access import access, content_of, managers, notify, require_manager, seal_json
from chevet.app.signalement.reports import deadlines_of, report_view
from chevet.app.signalement.views import ReportView
from chevet.core.entities import PersonStatus
from chevet.core.errors import Forbidden, InvalidInput, NotFound
from chevet.core.ids import new_id
from chevet.core.signalement import deadlines as dl
from chevet.core.signalement.records import CorrectiveAction
from chevet.core.signalement.report import (
    ReportStatus,
    clean_long_text,
    clean_qualification,
    clean_short_text,
)


async def qualify(services: Services, actor: Actor, report_id: uuid.UUID, *, severity: str,
                  categories: Sequence[str] = (), eigs: Sequence[str] = (), security: Sequence[str] = (),
                  gdpr_breach: bool = False, awareness_at: datetime | None = None,
                  note: str | None = None) -> ReportView:
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
            notify(u, actor.org_id, report_id, await managers(u.tx, actor.org_id),
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
            notify(u, actor.org_id, report_id, [person_id],
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
            notify(u, actor.org_id, report_id, [owner_id],
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
            notify(u, actor.org_id, report_id, [r.reporter_id],
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

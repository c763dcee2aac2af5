"""Storage of signalement reports, their forms, submissions, actions and designations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema_signalement import (
    report,
    report_action,
    report_attachment,
    report_designation,
    report_form,
    report_key,
    report_pending_audit,
    report_reader,
    report_reminder,
    report_retention,
    report_submission,
)
from chevet.core.attachment import AttachmentKind
from chevet.core.signalement.deadlines import Channel, FormKind
from chevet.core.signalement.records import (
    CorrectiveAction,
    FormStatus,
    FormSubmission,
    Report,
    ReportFile,
    ReportForm,
)
from chevet.core.signalement.report import ReportFunction, ReportStatus
from chevet.core.signalement.retention import RecordType
from chevet.core.signalement.taxonomy import EigsCriterion, ReporterMode, SecurityImpact, Severity


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v for v in (value or "").split(",") if v)


def _report(row: Any) -> Report:
    m = row._mapping
    return Report(
        id=m["id"], org_id=m["org_id"], mode=ReporterMode(m["mode"]), reporter_id=m["reporter_id"],
        status=ReportStatus(m["status"]), team_id=m["team_id"], received_at=m["received_at"],
        content_sealed=bytes(m["content"]), severity=Severity(m["severity"]) if m["severity"] else None,
        categories=_split(m["categories"]), eigs=tuple(EigsCriterion(v) for v in _split(m["eigs"])),
        security=tuple(SecurityImpact(v) for v in _split(m["security"])), gdpr=bool(m["gdpr"]),
        awareness_at=m["awareness_at"], qualified_at=m["qualified_at"], qualified_by=m["qualified_by"],
        note_sealed=bytes(m["note"]) if m["note"] is not None else None,
        analysis_sealed=bytes(m["analysis"]) if m["analysis"] is not None else None,
        feedback_sealed=bytes(m["feedback"]) if m["feedback"] is not None else None,
        feedback_at=m["feedback_at"], closed_at=m["closed_at"], conversation_id=m["conversation_id"])


def _values(r: Report) -> dict[str, Any]:
    return dict(status=r.status.value, team_id=r.team_id, severity=r.severity.value if r.severity else None,
                categories=",".join(r.categories) or None, eigs=",".join(r.eigs) or None,
                security=",".join(r.security) or None, gdpr=r.gdpr, awareness_at=r.awareness_at,
                qualified_at=r.qualified_at, qualified_by=r.qualified_by, note=r.note_sealed,
                analysis=r.analysis_sealed, feedback=r.feedback_sealed, feedback_at=r.feedback_at,
                closed_at=r.closed_at, conversation_id=r.conversation_id)


def _form(row: Any) -> ReportForm:
    m = row._mapping
    return ReportForm(report_id=m["report_id"], kind=FormKind(m["kind"]), values_sealed=bytes(m["content"]),
                      status=FormStatus(m["status"]), updated_at=m["updated_at"], validated_by=m["validated_by"],
                      validated_at=m["validated_at"])


def _action(row: Any) -> CorrectiveAction:
    m = row._mapping
    return CorrectiveAction(id=m["id"], report_id=m["report_id"], title_sealed=bytes(m["title"]),
                            owner_id=m["owner_id"], due_at=m["due_at"], done_at=m["done_at"],
                            created_at=m["created_at"])


def _file(row: Any) -> ReportFile:
    m = row._mapping
    return ReportFile(id=m["id"], report_id=m["report_id"], org_id=m["org_id"], position=m["position"],
                      kind=AttachmentKind(m["kind"]), mime=m["mime"], size=m["size"], stored_size=m["stored_size"],
                      width=m["width"], height=m["height"],
                      name_sealed=bytes(m["name_sealed"]) if m["name_sealed"] is not None else None,
                      content_address=bytes(m["content_address"]))



def _chunks(ids: Sequence[uuid.UUID], size: int = 500) -> list[list[uuid.UUID]]:
    """Lists of ids for ``IN`` clauses of a bounded size (SQLite limits a statement's parameters)."""
    return [list(ids[i:i + size]) for i in range(0, len(ids), size)]

class SqlReports:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    # --- reports --------------------------------------------------------------------------
    async def add(self, r: Report, wrapped_key: bytes, followup_hash: bytes | None) -> None:
        await self._conn.execute(insert(report).values(
            id=r.id, org_id=r.org_id, mode=r.mode.value, reporter_id=r.reporter_id, received_at=r.received_at,
            content=r.content_sealed, followup_hash=followup_hash, **_values(r)))
        await self._conn.execute(insert(report_key).values(report_id=r.id, wrapped=wrapped_key))

    async def get(self, org_id: uuid.UUID, report_id: uuid.UUID) -> Report | None:
        row = (await self._conn.execute(select(report).where(report.c.org_id == org_id,
                                                             report.c.id == report_id))).first()
        return _report(row) if row else None

    async def of_organisation(self, org_id: uuid.UUID) -> list[Report]:
        rows = await self._conn.execute(select(report).where(report.c.org_id == org_id)
                                        .order_by(report.c.received_at, report.c.id))
        return [_report(r) for r in rows]

    async def any_exists(self, report_ids: Sequence[uuid.UUID]) -> bool:
        for part in _chunks(report_ids):
            if (await self._conn.execute(select(report.c.id).where(report.c.id.in_(part)).limit(1))).first():
                return True
        return False

    async def by_followup(self, followup_hash: bytes) -> Report | None:
        row = (await self._conn.execute(select(report).where(report.c.followup_hash == followup_hash))).first()
        return _report(row) if row else None

    async def save(self, r: Report) -> None:
        await self._conn.execute(update(report).where(report.c.org_id == r.org_id, report.c.id == r.id)
                                 .values(**_values(r)))

    async def wrapped_key(self, report_id: uuid.UUID) -> bytes | None:
        row = (await self._conn.execute(select(report_key.c.wrapped)
                                        .where(report_key.c.report_id == report_id))).first()
        return bytes(row[0]) if row else None

    async def listing(self, org_id: uuid.UUID, *, visible_to: uuid.UUID | None,
                      since: datetime | None = None, until: datetime | None = None,
                      limit: int = 500) -> list[Report]:
        """Reports of the organisation, newest first; ``visible_to`` restricts to those a person
        filed under their name or was added to (None: all, for the quality lead and director)."""
        stmt = select(report).where(report.c.org_id == org_id)
        if visible_to is not None:
            added = select(report_reader.c.report_id).where(report_reader.c.person_id == visible_to)
            stmt = stmt.where(or_(report.c.reporter_id == visible_to, report.c.id.in_(added)))
        if since is not None:
            stmt = stmt.where(report.c.received_at >= since)
        if until is not None:
            stmt = stmt.where(report.c.received_at < until)
        rows = await self._conn.execute(stmt.order_by(report.c.received_at.desc()).limit(limit))
        return [_report(r) for r in rows]

    async def open_qualified(self, org_id: uuid.UUID | None = None) -> list[Report]:
        """Qualified reports not closed (the ones that may have open deadlines)."""
        stmt = select(report).where(report.c.severity.is_not(None), report.c.closed_at.is_(None))
        if org_id is not None:
            stmt = stmt.where(report.c.org_id == org_id)
        return [_report(r) for r in await self._conn.execute(stmt.order_by(report.c.received_at))]

    async def closed(self, org_id: uuid.UUID | None = None) -> list[Report]:
        """Closed reports (the only ones retention may remove), oldest closure first."""
        stmt = select(report).where(report.c.closed_at.is_not(None))
        if org_id is not None:
            stmt = stmt.where(report.c.org_id == org_id)
        return [_report(r) for r in await self._conn.execute(stmt.order_by(report.c.closed_at))]

    async def without_key(self) -> list[Report]:
        """For a restore that must finish the shredding done since its database backup."""
        stmt = select(report).where(~report.c.id.in_(select(report_key.c.report_id)))
        return [_report(r) for r in await self._conn.execute(stmt.order_by(report.c.id))]

    async def retention_days(self, org_id: uuid.UUID) -> dict[RecordType, int]:
        rows = await self._conn.execute(select(report_retention.c.record_type, report_retention.c.days)
                                        .where(report_retention.c.org_id == org_id))
        known = {t.value for t in RecordType}
        return {RecordType(t): int(d) for t, d in rows if t in known}

    async def set_retention_days(self, org_id: uuid.UUID, record_type: RecordType, days: int, at: datetime) -> None:
        await self._conn.execute(delete(report_retention).where(report_retention.c.org_id == org_id,
                                                                report_retention.c.record_type == record_type.value))
        await self._conn.execute(insert(report_retention).values(org_id=org_id, record_type=record_type.value,
                                                                 days=days, updated_at=at))

    async def purge(self, org_id: uuid.UUID, report_id: uuid.UUID) -> bool:
        """Crypto-shred then delete a report and everything hanging off it."""
        if await self.get(org_id, report_id) is None:
            return False
        for table in (report_key, report_reader, report_form, report_submission, report_action, report_reminder,
                      report_attachment, report_pending_audit):
            await self._conn.execute(delete(table).where(table.c.report_id == report_id))
        await self._conn.execute(delete(report).where(report.c.org_id == org_id, report.c.id == report_id))
        return True

    # --- audit entries of anonymous filings, waiting --------------------------------------
    async def add_pending_audit(self, org_id: uuid.UUID, report_id: uuid.UUID, detail: dict[str, Any]) -> None:
        await self._conn.execute(insert(report_pending_audit).values(report_id=report_id, org_id=org_id,
                                                                     detail=orjson.dumps(detail).decode()))

    async def pending_audits(self, limit: int = 1000) -> list[tuple[uuid.UUID, uuid.UUID, dict[str, Any]]]:
        rows = await self._conn.execute(select(report_pending_audit).limit(limit))
        return [(r.org_id, r.report_id, orjson.loads(r.detail)) for r in rows]

    async def remove_pending_audit(self, report_id: uuid.UUID) -> bool:
        done = await self._conn.execute(delete(report_pending_audit)
                                        .where(report_pending_audit.c.report_id == report_id))
        return bool(done.rowcount)

    # --- files ----------------------------------------------------------------------------
    async def add_file(self, f: ReportFile) -> None:
        await self._conn.execute(insert(report_attachment).values(
            id=f.id, report_id=f.report_id, org_id=f.org_id, position=f.position, kind=f.kind.value, mime=f.mime,
            size=f.size, stored_size=f.stored_size, width=f.width, height=f.height, name_sealed=f.name_sealed,
            content_address=f.content_address))

    async def files(self, report_id: uuid.UUID) -> list[ReportFile]:
        rows = await self._conn.execute(select(report_attachment).where(report_attachment.c.report_id == report_id)
                                        .order_by(report_attachment.c.position))
        return [_file(r) for r in rows]

    async def file_usage(self, org_id: uuid.UUID) -> int:
        """Sealed bytes the organisation's report files occupy (each stored copy once)."""
        per_copy = (select(report_attachment.c.report_id, report_attachment.c.content_address,
                           func.max(report_attachment.c.stored_size).label("size"))
                    .where(report_attachment.c.org_id == org_id)
                    .group_by(report_attachment.c.report_id, report_attachment.c.content_address).subquery())
        total = (await self._conn.execute(select(func.coalesce(func.sum(per_copy.c.size), 0)))).scalar()
        return int(total or 0)

    async def file_blobs(self) -> list[tuple[uuid.UUID, bytes]]:
        """(report, address) of every stored report file: what the orphan sweep must keep."""
        rows = await self._conn.execute(select(report_attachment.c.report_id, report_attachment.c.content_address)
                                        .distinct())
        return [(r[0], bytes(r[1])) for r in rows]

    # --- readers --------------------------------------------------------------------------
    async def add_reader(self, report_id: uuid.UUID, person_id: uuid.UUID) -> None:
        if not await self.is_reader(report_id, person_id):
            await self._conn.execute(insert(report_reader).values(report_id=report_id, person_id=person_id))

    async def remove_reader(self, report_id: uuid.UUID, person_id: uuid.UUID) -> None:
        await self._conn.execute(delete(report_reader).where(report_reader.c.report_id == report_id,
                                                             report_reader.c.person_id == person_id))

    async def is_reader(self, report_id: uuid.UUID, person_id: uuid.UUID) -> bool:
        row = (await self._conn.execute(select(report_reader.c.person_id).where(
            report_reader.c.report_id == report_id, report_reader.c.person_id == person_id))).first()
        return row is not None

    async def readers(self, report_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self._conn.execute(select(report_reader.c.person_id)
                                        .where(report_reader.c.report_id == report_id))
        return [r[0] for r in rows]

    # --- forms and submissions ------------------------------------------------------------
    async def forms(self, report_id: uuid.UUID) -> list[ReportForm]:
        rows = await self._conn.execute(select(report_form).where(report_form.c.report_id == report_id))
        return [_form(r) for r in rows]

    async def form(self, report_id: uuid.UUID, kind: FormKind) -> ReportForm | None:
        row = (await self._conn.execute(select(report_form).where(
            report_form.c.report_id == report_id, report_form.c.kind == kind.value))).first()
        return _form(row) if row else None

    async def save_form(self, f: ReportForm) -> None:
        values = dict(content=f.values_sealed, status=f.status.value, updated_at=f.updated_at,
                      validated_by=f.validated_by, validated_at=f.validated_at)
        done = await self._conn.execute(update(report_form).where(
            report_form.c.report_id == f.report_id, report_form.c.kind == f.kind.value).values(**values))
        if done.rowcount == 0:
            await self._conn.execute(insert(report_form).values(report_id=f.report_id, kind=f.kind.value,
                                                                **values))

    async def add_submission(self, s: FormSubmission) -> None:
        await self._conn.execute(insert(report_submission).values(
            id=s.id, report_id=s.report_id, kind=s.kind.value, at=s.at, channel=s.channel.value,
            reference=s.reference, recorded_by=s.recorded_by))

    async def submissions(self, report_id: uuid.UUID) -> list[FormSubmission]:
        return await self.submissions_of([report_id])

    async def submissions_of(self, report_ids: Sequence[uuid.UUID]) -> list[FormSubmission]:
        out = []
        for part in _chunks(report_ids):
            rows = await self._conn.execute(select(report_submission).where(
                report_submission.c.report_id.in_(part)).order_by(report_submission.c.at))
            out += [FormSubmission(id=r.id, report_id=r.report_id, kind=FormKind(r.kind), at=r.at,
                                   channel=Channel(r.channel), reference=r.reference, recorded_by=r.recorded_by)
                    for r in rows]
        return out

    # --- corrective actions ---------------------------------------------------------------
    async def add_action(self, a: CorrectiveAction) -> None:
        await self._conn.execute(insert(report_action).values(
            id=a.id, report_id=a.report_id, title=a.title_sealed, owner_id=a.owner_id, due_at=a.due_at,
            done_at=a.done_at, created_at=a.created_at))

    async def actions(self, report_id: uuid.UUID) -> list[CorrectiveAction]:
        return await self.actions_of([report_id])

    async def actions_of(self, report_ids: Sequence[uuid.UUID]) -> list[CorrectiveAction]:
        out = []
        for part in _chunks(report_ids):
            rows = await self._conn.execute(select(report_action).where(report_action.c.report_id.in_(part))
                                            .order_by(report_action.c.created_at))
            out += [_action(r) for r in rows]
        return out

    async def set_action_done(self, report_id: uuid.UUID, action_id: uuid.UUID, at: datetime | None) -> bool:
        done = await self._conn.execute(update(report_action).where(
            report_action.c.report_id == report_id, report_action.c.id == action_id).values(done_at=at))
        return bool(done.rowcount)

    # --- designations ---------------------------------------------------------------------
    async def designations(self, org_id: uuid.UUID) -> list[tuple[uuid.UUID, ReportFunction]]:
        rows = await self._conn.execute(select(report_designation.c.person_id, report_designation.c.function)
                                        .where(report_designation.c.org_id == org_id))
        return [(r[0], ReportFunction(r[1])) for r in rows]

    async def designate(self, org_id: uuid.UUID, person_id: uuid.UUID, function: ReportFunction,
                        on: bool) -> None:
        await self._conn.execute(delete(report_designation).where(
            report_designation.c.org_id == org_id, report_designation.c.person_id == person_id,
            report_designation.c.function == function.value))
        if on:
            await self._conn.execute(insert(report_designation).values(org_id=org_id, person_id=person_id,
                                                                       function=function.value))

    # --- reminders ------------------------------------------------------------------------
    async def reminder_stages(self, report_ids: Sequence[uuid.UUID]) -> dict[tuple[uuid.UUID, str], str]:
        out = {}
        for part in _chunks(report_ids):
            rows = await self._conn.execute(select(report_reminder.c.report_id, report_reminder.c.deadline,
                                                   report_reminder.c.stage).where(
                report_reminder.c.report_id.in_(part)))
            out.update({(r[0], str(r[1])): str(r[2]) for r in rows})
        return out

    async def set_reminder_stage(self, report_id: uuid.UUID, deadline: str, stage: str, at: datetime) -> bool:
        # One statement that only writes when the stage changes: a second process doing the same
        # waits on the row (or its key) until the first commits, then finds the stage set.
        ins = (pg_insert if self._conn.dialect.name == "postgresql" else sqlite_insert)(report_reminder).values(
            report_id=report_id, deadline=deadline, stage=stage, sent_at=at)
        stmt = ins.on_conflict_do_update(
            index_elements=[report_reminder.c.report_id, report_reminder.c.deadline],
            set_={"stage": ins.excluded.stage, "sent_at": ins.excluded.sent_at},
            where=report_reminder.c.stage != ins.excluded.stage).returning(report_reminder.c.report_id)
        return (await self._conn.execute(stmt)).first() is not None

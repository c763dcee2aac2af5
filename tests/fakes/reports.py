"""Signalement reports and what hangs off them, in memory."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from chevet.core.signalement.deadlines import FormKind
from chevet.core.signalement.records import CorrectiveAction, FormSubmission, Report, ReportFile, ReportForm
from chevet.core.signalement.report import ReportFunction
from chevet.core.signalement.retention import RecordType
from tests.fakes.errors import ConstraintViolation, not_faked
from tests.fakes.tables import Tables


class FakeReports:
    """Like ``SqlReports`` for reports, readers, forms, submissions, actions, designations and
    retention periods (``save`` changes what the real one updates, never mode, reporter,
    reception or content). Anonymous filings' pending audit entries, reminders and file
    storage statistics are not faked."""

    def __init__(self, t: Tables) -> None:
        self._t = t

    # --- reports ------------------------------------------------------------------------
    async def add(self, r: Report, wrapped_key: bytes, followup_hash: bytes | None) -> None:
        if r.id in self._t.reports:
            raise ConstraintViolation("report.id")
        self._t.reports[r.id] = r
        self._t.report_keys[r.id] = wrapped_key
        if followup_hash is not None:
            self._t.followup_hashes[r.id] = followup_hash

    async def get(self, org_id: uuid.UUID, report_id: uuid.UUID) -> Report | None:
        r = self._t.reports.get(report_id)
        return r if r is not None and r.org_id == org_id else None

    async def of_organisation(self, org_id: uuid.UUID) -> list[Report]:
        return sorted((r for r in self._t.reports.values() if r.org_id == org_id), key=lambda r: (r.received_at, r.id))

    async def any_exists(self, report_ids: Sequence[uuid.UUID]) -> bool:
        return any(i in self._t.reports for i in report_ids)

    async def by_followup(self, followup_hash: bytes) -> Report | None:
        return next((self._t.reports[i] for i, h in self._t.followup_hashes.items() if h == followup_hash), None)

    async def save(self, r: Report) -> None:
        old = await self.get(r.org_id, r.id)
        if old is not None:  # mode, reporter, reception and content are never updated
            self._t.reports[r.id] = replace(r, mode=old.mode, reporter_id=old.reporter_id,
                                            received_at=old.received_at, content_sealed=old.content_sealed)

    async def wrapped_key(self, report_id: uuid.UUID) -> bytes | None:
        return self._t.report_keys.get(report_id)

    async def listing(self, org_id: uuid.UUID, *, visible_to: uuid.UUID | None,
                      since: datetime | None = None, until: datetime | None = None,
                      limit: int = 500) -> list[Report]:
        found = [r for r in self._t.reports.values() if r.org_id == org_id
                 and (visible_to is None or r.reporter_id == visible_to
                      or visible_to in self._t.report_readers.get(r.id, []))
                 and (since is None or r.received_at >= since) and (until is None or r.received_at < until)]
        return sorted(found, key=lambda r: r.received_at, reverse=True)[:limit]

    async def open_qualified(self, org_id: uuid.UUID | None = None) -> list[Report]:
        return sorted((r for r in self._t.reports.values() if r.severity is not None and r.closed_at is None
                       and (org_id is None or r.org_id == org_id)), key=lambda r: r.received_at)

    async def closed(self, org_id: uuid.UUID | None = None) -> list[Report]:
        found = [r for r in self._t.reports.values() if r.closed_at is not None
                 and (org_id is None or r.org_id == org_id)]
        return sorted(found, key=lambda r: r.closed_at or r.received_at)

    async def without_key(self) -> list[Report]:
        return sorted((r for r in self._t.reports.values() if r.id not in self._t.report_keys), key=lambda r: r.id)

    async def retention_days(self, org_id: uuid.UUID) -> dict[RecordType, int]:
        return dict(self._t.report_retention.get(org_id, {}))

    async def set_retention_days(self, org_id: uuid.UUID, record_type: RecordType, days: int,
                                 at: datetime) -> None:
        self._t.report_retention.setdefault(org_id, {})[record_type] = days

    async def purge(self, org_id: uuid.UUID, report_id: uuid.UUID) -> bool:
        if await self.get(org_id, report_id) is None:
            return False
        t = self._t
        t.report_keys.pop(report_id, None)
        t.followup_hashes.pop(report_id, None)
        t.report_readers.pop(report_id, None)
        t.report_forms.pop(report_id, None)
        t.report_submissions.pop(report_id, None)
        t.report_actions.pop(report_id, None)
        t.report_files.pop(report_id, None)
        del t.reports[report_id]
        return True

    # --- audit entries of anonymous filings, waiting ------------------------------------
    async def add_pending_audit(self, org_id: uuid.UUID, report_id: uuid.UUID, detail: dict[str, Any]) -> None:
        raise not_faked("ReportRepository.add_pending_audit")

    async def pending_audits(self, limit: int = 1000) -> list[tuple[uuid.UUID, uuid.UUID, dict[str, Any]]]:
        raise not_faked("ReportRepository.pending_audits")

    async def remove_pending_audit(self, report_id: uuid.UUID) -> bool:
        raise not_faked("ReportRepository.remove_pending_audit")

    # --- files --------------------------------------------------------------------------
    async def add_file(self, f: ReportFile) -> None:
        self._t.report_files.setdefault(f.report_id, []).append(f)

    async def files(self, report_id: uuid.UUID) -> list[ReportFile]:
        return sorted(self._t.report_files.get(report_id, []), key=lambda f: f.position)

    async def file_usage(self, org_id: uuid.UUID) -> int:
        raise not_faked("ReportRepository.file_usage")

    async def file_blobs(self) -> list[tuple[uuid.UUID, bytes]]:
        raise not_faked("ReportRepository.file_blobs")

    # --- readers ------------------------------------------------------------------------
    async def add_reader(self, report_id: uuid.UUID, person_id: uuid.UUID) -> None:
        readers = self._t.report_readers.setdefault(report_id, [])
        if person_id not in readers:
            readers.append(person_id)

    async def remove_reader(self, report_id: uuid.UUID, person_id: uuid.UUID) -> None:
        if person_id in (readers := self._t.report_readers.get(report_id, [])):
            readers.remove(person_id)

    async def is_reader(self, report_id: uuid.UUID, person_id: uuid.UUID) -> bool:
        return person_id in self._t.report_readers.get(report_id, [])

    async def readers(self, report_id: uuid.UUID) -> list[uuid.UUID]:
        return list(self._t.report_readers.get(report_id, []))

    # --- forms and submissions ----------------------------------------------------------
    async def forms(self, report_id: uuid.UUID) -> list[ReportForm]:
        return list(self._t.report_forms.get(report_id, []))

    async def form(self, report_id: uuid.UUID, kind: FormKind) -> ReportForm | None:
        return next((f for f in self._t.report_forms.get(report_id, []) if f.kind is kind), None)

    async def save_form(self, f: ReportForm) -> None:
        forms = [x for x in self._t.report_forms.get(f.report_id, []) if x.kind is not f.kind]
        self._t.report_forms[f.report_id] = [*forms, f]

    async def add_submission(self, s: FormSubmission) -> None:
        self._t.report_submissions.setdefault(s.report_id, []).append(s)

    async def submissions(self, report_id: uuid.UUID) -> list[FormSubmission]:
        return await self.submissions_of([report_id])

    async def submissions_of(self, report_ids: Sequence[uuid.UUID]) -> list[FormSubmission]:
        return sorted((s for i in report_ids for s in self._t.report_submissions.get(i, [])), key=lambda s: s.at)

    # --- corrective actions -------------------------------------------------------------
    async def add_action(self, a: CorrectiveAction) -> None:
        self._t.report_actions.setdefault(a.report_id, []).append(a)

    async def actions(self, report_id: uuid.UUID) -> list[CorrectiveAction]:
        return await self.actions_of([report_id])

    async def actions_of(self, report_ids: Sequence[uuid.UUID]) -> list[CorrectiveAction]:
        return sorted((a for i in report_ids for a in self._t.report_actions.get(i, [])), key=lambda a: a.created_at)

    async def set_action_done(self, report_id: uuid.UUID, action_id: uuid.UUID, at: datetime | None) -> bool:
        actions = self._t.report_actions.get(report_id, [])
        for i, a in enumerate(actions):
            if a.id == action_id:
                actions[i] = replace(a, done_at=at)
                return True
        return False

    # --- designations -------------------------------------------------------------------
    async def designations(self, org_id: uuid.UUID) -> list[tuple[uuid.UUID, ReportFunction]]:
        return [(p, f) for o, p, f in self._t.designations if o == org_id]

    async def designate(self, org_id: uuid.UUID, person_id: uuid.UUID, function: ReportFunction,
                        on: bool) -> None:
        self._t.designations = [d for d in self._t.designations if d != (org_id, person_id, function)]
        if on:
            self._t.designations.append((org_id, person_id, function))

    # --- reminders ----------------------------------------------------------------------
    async def reminder_stages(self, report_ids: Sequence[uuid.UUID]) -> dict[tuple[uuid.UUID, str], str]:
        raise not_faked("ReportRepository.reminder_stages")

    async def set_reminder_stage(self, report_id: uuid.UUID, deadline: str, stage: str, at: datetime) -> bool:
        raise not_faked("ReportRepository.set_reminder_stage")

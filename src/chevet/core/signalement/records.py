"""The stored shapes of the signalement process, as plain immutable records.

Everything that is care content (narrative, analysis, feedback, action titles, form values,
the confidential reporter's identity) is only ever held here sealed (``*_sealed``). What stays
in clear is classification (mode, status, severity, categories, dates, unit), which the
deadlines dashboard and the statistics need without opening every report.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chevet.core.attachment import AttachmentKind
from chevet.core.signalement.deadlines import Channel, FormKind
from chevet.core.signalement.report import ReportStatus
from chevet.core.signalement.taxonomy import EigsCriterion, ReporterMode, SecurityImpact, Severity


class FormStatus(StrEnum):
    DRAFT = "draft"
    VALIDATED = "validated"


@dataclass(frozen=True, slots=True)
class Report:
    id: uuid.UUID
    org_id: uuid.UUID
    mode: ReporterMode
    reporter_id: uuid.UUID | None  # named mode only
    status: ReportStatus
    team_id: uuid.UUID | None
    received_at: datetime
    content_sealed: bytes
    severity: Severity | None = None
    categories: tuple[str, ...] = ()
    eigs: tuple[EigsCriterion, ...] = ()
    security: tuple[SecurityImpact, ...] = ()
    gdpr: bool = False
    awareness_at: datetime | None = None
    qualified_at: datetime | None = None
    qualified_by: uuid.UUID | None = None
    note_sealed: bytes | None = None
    analysis_sealed: bytes | None = None
    feedback_sealed: bytes | None = None
    feedback_at: datetime | None = None
    closed_at: datetime | None = None
    conversation_id: uuid.UUID | None = None

    @property
    def qualified(self) -> bool:
        return self.severity is not None


@dataclass(frozen=True, slots=True)
class ReportForm:
    report_id: uuid.UUID
    kind: FormKind
    values_sealed: bytes
    status: FormStatus
    updated_at: datetime
    validated_by: uuid.UUID | None = None
    validated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FormSubmission:
    id: uuid.UUID
    report_id: uuid.UUID
    kind: FormKind
    at: datetime
    channel: Channel
    reference: str
    recorded_by: uuid.UUID


@dataclass(frozen=True, slots=True)
class CorrectiveAction:
    id: uuid.UUID
    report_id: uuid.UUID
    title_sealed: bytes
    owner_id: uuid.UUID | None
    due_at: datetime | None
    done_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReportFile:
    """A photo or document filed with a report. Its contents live sealed in the blob store
    under a keyed hash of the report (``content_address``); its name is sealed, or absent for
    an anonymous report (a phone's file name can carry a name or a date). Nothing records who
    uploaded it or when: the report's own reception time is all there is."""

    id: uuid.UUID
    report_id: uuid.UUID
    org_id: uuid.UUID
    position: int
    kind: AttachmentKind
    mime: str
    size: int
    stored_size: int  # sealed bytes in the blob store (quota, sobriety)
    width: int | None
    height: int | None
    name_sealed: bytes | None
    content_address: bytes

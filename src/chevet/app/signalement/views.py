"""How signalement reports look from outside: the JSON shapes of a report, of the list's
headlines, of a deadline, of a form, of what the reporter reads with the follow-up code."""

from __future__ import annotations

from typing import NotRequired

from typing_extensions import TypedDict


class PersonRef(TypedDict):
    id: str
    name: str


class FilingLimitsView(TypedDict):
    """What the filing form tells before any upload."""

    accepted_types: list[str]
    max_files: int
    max_bytes: int


class ReportFileView(TypedDict):
    id: str
    kind: str
    mime: str
    size: int
    width: int | None
    height: int | None
    name: str


class QualificationView(TypedDict):
    severity: str
    categories: list[str]
    eigs: list[str]
    security: list[str]
    gdpr_breach: bool
    awareness_at: str | None
    note: str
    qualified_by: str | None
    qualified_at: str | None


class DeadlineView(TypedDict):
    kind: str
    label: str
    form: str
    immediate: bool
    due_at: str
    due_local: str
    alert_at: str
    state: str
    done_at: str | None
    met: bool | None


class FormStateView(TypedDict):
    kind: str
    status: str
    validated_at: str | None


class SubmissionView(TypedDict):
    kind: str
    at: str
    channel: str
    reference: str | None


class AnalysisView(TypedDict):
    method: str
    date: str
    root_causes: str
    lessons: str


class ActionView(TypedDict):
    id: str
    title: str
    owner_id: str | None
    owner: str | None
    due_at: str | None
    done_at: str | None


class ReportView(TypedDict):
    """A report as its reader sees it; those who handle it (and the people they added) also
    get its qualification, deadlines, forms, analysis, actions and readers."""

    id: str
    mode: str
    status: str
    received_at: str
    team_id: str | None
    reporter: PersonRef | None
    what: str
    occurred_at: str
    discovered_at: str
    place: str
    affected_refs: list[str]
    affected_count: int
    immediate_measures: str
    feedback: str | None
    feedback_at: str | None
    closed_at: str | None
    attachments: list[ReportFileView]
    can_manage: bool
    is_director: bool
    is_quality_lead: bool
    qualification: NotRequired[QualificationView | None]
    deadlines: NotRequired[list[DeadlineView]]
    forms: NotRequired[list[FormStateView]]
    submissions: NotRequired[list[SubmissionView]]
    analysis: NotRequired[AnalysisView | None]
    actions: NotRequired[list[ActionView]]
    readers: NotRequired[list[PersonRef]]
    conversation_id: NotRequired[str | None]


class ReportHeadline(TypedDict):
    """A report in the list: headlines only, nothing sealed."""

    id: str
    mode: str
    status: str
    received_at: str
    received_local: str
    severity: str | None
    categories: list[str]
    eigs: bool
    security: bool
    gdpr: bool
    overdue: int
    due: int


class FollowupView(TypedDict):
    status: str
    received_local: str
    feedback: str | None
    feedback_at: str | None
    closed: bool


class RecordRetentionView(TypedDict):
    record_type: str
    days: int
    default_days: int
    min_days: int
    max_days: int
    rationale: str


class DashboardDeadline(DeadlineView):
    report_id: str
    ref: str


class DeadlinesDashboardView(TypedDict):
    """Every open regulatory deadline of the organisation, overdue first, and what was done."""

    now: str
    deadlines: list[DashboardDeadline]
    counts: dict[str, int]


class FormFieldView(TypedDict):
    key: str
    label: str
    type: str
    required: bool
    value: str | int | bool | None


class FormView(TypedDict):
    kind: str
    title: str
    recipient: str
    legal_basis: str
    status: str
    saved: bool
    validated_at: str | None
    missing: list[str]
    fields: list[FormFieldView]

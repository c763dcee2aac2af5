"""The rows the fakes keep: one ``Tables`` is the whole in-memory database."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from chevet.core.audit import AuditEntry
from chevet.core.conversation import ConversationKind
from chevet.core.entities import Conversation, Entry, Membership, Person
from chevet.core.identity import SessionPolicy
from chevet.core.retention import RetentionRule
from chevet.core.signalement.records import CorrectiveAction, FormSubmission, Report, ReportFile, ReportForm
from chevet.core.signalement.report import ReportFunction
from chevet.core.signalement.retention import RecordType
from chevet.ports.organisation_keys import OrganisationKey


@dataclass
class ConversationRow:
    conversation: Conversation
    last_activity: datetime


@dataclass(frozen=True, slots=True)
class RetentionRow:
    org_id: uuid.UUID
    days: int | None
    legal_hold: bool
    closed_at: datetime | None


@dataclass
class Tables:
    people: dict[uuid.UUID, Person] = field(default_factory=dict)
    # conversations
    conversations: dict[uuid.UUID, ConversationRow] = field(default_factory=dict)
    conversation_keys: dict[uuid.UUID, bytes] = field(default_factory=dict)
    members: dict[uuid.UUID, dict[uuid.UUID, Membership]] = field(default_factory=dict)  # in joining order
    entries: dict[uuid.UUID, dict[int, Entry]] = field(default_factory=dict)  # conversation -> seq -> entry
    terms: dict[uuid.UUID, list[int]] = field(default_factory=dict)  # entry id -> blind-index terms
    mentions: set[tuple[uuid.UUID, int, uuid.UUID]] = field(default_factory=set)  # conversation, seq, person
    # audit
    audit: dict[uuid.UUID, list[AuditEntry]] = field(default_factory=dict)
    # retention
    retention_policies: dict[uuid.UUID, dict[ConversationKind, RetentionRule]] = field(default_factory=dict)
    retention: dict[uuid.UUID, RetentionRow] = field(default_factory=dict)
    # sessions
    authenticated_at: dict[uuid.UUID, datetime] = field(default_factory=dict)
    session_policies: dict[uuid.UUID, SessionPolicy] = field(default_factory=dict)
    # signalement
    reports: dict[uuid.UUID, Report] = field(default_factory=dict)
    report_keys: dict[uuid.UUID, bytes] = field(default_factory=dict)
    followup_hashes: dict[uuid.UUID, bytes] = field(default_factory=dict)
    report_readers: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)
    report_actions: dict[uuid.UUID, list[CorrectiveAction]] = field(default_factory=dict)
    report_files: dict[uuid.UUID, list[ReportFile]] = field(default_factory=dict)
    report_forms: dict[uuid.UUID, list[ReportForm]] = field(default_factory=dict)
    report_submissions: dict[uuid.UUID, list[FormSubmission]] = field(default_factory=dict)
    report_retention: dict[uuid.UUID, dict[RecordType, int]] = field(default_factory=dict)
    designations: list[tuple[uuid.UUID, uuid.UUID, ReportFunction]] = field(default_factory=list)  # org, person, fn
    # organisation keys: (org, version) -> row
    organisation_keys: dict[tuple[uuid.UUID, int], OrganisationKey] = field(default_factory=dict)

    def copy(self) -> Tables:
        """A working copy for one transaction (records are immutable; containers are copied)."""
        return copy.deepcopy(self)

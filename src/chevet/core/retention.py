"""Retention: how long each kind of conversation keeps its content, and when it goes.

Two ways content expires:

* a whole conversation — a closed care case after its period, or any other conversation once
  it has been inactive for its period — is *crypto-shredded*: its data key is destroyed, then
  its rows are deleted. Copies of its rows in old database backups stay sealed under a key that
  no longer exists anywhere (see docs/backup.md for how key backups are handled);
* inside a living team channel, direct or group conversation, messages older than the period
  are deleted (rows, sealed bodies, earlier versions, search terms, mentions). The conversation
  key lives on, so this is deletion, not shredding: see docs/governance.md.

A legal hold suspends both. Care-case messages are never expired one by one while the case is
open: the case is the team's record of care for one person.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from chevet.core.conversation import ConversationKind
from chevet.core.errors import InvalidInput

MAX_DAYS = 36500


@dataclass(frozen=True, slots=True)
class RetentionRule:
    """An organisation's rule for one kind of conversation; ``min_days``/``max_days`` bound
    what a conversation's owner may choose (set by the DPO)."""

    kind: ConversationKind
    days: int
    min_days: int
    max_days: int


DEFAULTS: dict[ConversationKind, RetentionRule] = {
    # Handover and team channels carry the day-to-day of the shift: useful for a few weeks.
    ConversationKind.TEAM: RetentionRule(ConversationKind.TEAM, 90, 7, 365),
    # Direct exchanges between professionals: one year covers follow-up and later questions.
    ConversationKind.DIRECT: RetentionRule(ConversationKind.DIRECT, 365, 30, 730),
    # Ad hoc groups (a project, a meeting): six months.
    ConversationKind.GROUP: RetentionRule(ConversationKind.GROUP, 180, 30, 730),
    # Care cases: kept whole while open; after closing, one year to copy what matters to the
    # patient record (the messaging is not the medical record) and to answer questions.
    ConversationKind.CARE_CASE: RetentionRule(ConversationKind.CARE_CASE, 365, 30, 3650),
    # External exchanges (MSSanté): letters and results from outside, copied to the patient
    # record by then; one year, like direct exchanges (MSSanté imposes no retention).
    ConversationKind.EXTERNAL: RetentionRule(ConversationKind.EXTERNAL, 365, 30, 3650),
}

RATIONALE: dict[ConversationKind, str] = {
    ConversationKind.TEAM: "shift handovers lose their use within weeks; 90 days covers a rota cycle and audits",
    ConversationKind.DIRECT: "one year covers follow-up questions between professionals",
    ConversationKind.GROUP: "ad hoc groups serve a project or a meeting; six months",
    ConversationKind.CARE_CASE: "kept whole while the case is open; after closing, time to copy what matters "
                                "to the patient record and answer questions",
    ConversationKind.EXTERNAL: "letters and results received over MSSanté belong in the patient record; one year "
                               "covers the exchange around them",
}


def check_rule(rule: RetentionRule) -> RetentionRule:
    if not (1 <= rule.min_days <= rule.max_days <= MAX_DAYS):
        raise InvalidInput("retention_rule_invalid")
    if not rule.min_days <= rule.days <= rule.max_days:
        raise InvalidInput("retention_out_of_limits", min=rule.min_days, max=rule.max_days)
    return rule


def check_override(rule: RetentionRule, days: int | None) -> int | None:
    if days is None:
        return None
    if not isinstance(days, int) or not rule.min_days <= days <= rule.max_days:
        raise InvalidInput("retention_out_of_limits", min=rule.min_days, max=rule.max_days)
    return days


def effective_days(rule: RetentionRule, override: int | None) -> int:
    """An override chosen within old limits stays inside the current ones."""
    if override is None:
        return rule.days
    return max(rule.min_days, min(rule.max_days, override))


def conversation_expires_at(kind: ConversationKind, days: int, *, closed_at: datetime | None,
                            last_activity: datetime) -> datetime | None:
    """When the whole conversation is shredded, if nothing happens before (None: not planned)."""
    if kind is ConversationKind.CARE_CASE:
        return closed_at + timedelta(days=days) if closed_at is not None else None
    return last_activity + timedelta(days=days)


def message_cutoff(kind: ConversationKind, days: int, now: datetime) -> datetime | None:
    """Messages created before this instant are deleted (None: never one by one)."""
    if kind is ConversationKind.CARE_CASE:
        return None
    return now - timedelta(days=days)


@dataclass(frozen=True, slots=True)
class ConversationRetention:
    """What the purge needs to know about one conversation (no content)."""

    conversation_id: uuid.UUID
    org_id: uuid.UUID
    kind: ConversationKind
    created_at: datetime
    last_activity: datetime
    days: int | None
    legal_hold: bool
    closed_at: datetime | None

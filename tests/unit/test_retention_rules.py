"""Retention arithmetic: when a conversation goes whole, when messages go, what an owner may choose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chevet.core.conversation import ConversationKind
from chevet.core.errors import InvalidInput
from chevet.core.retention import (
    DEFAULTS,
    RetentionRule,
    check_override,
    check_rule,
    conversation_expires_at,
    effective_days,
    message_cutoff,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_documented_defaults() -> None:
    assert DEFAULTS[ConversationKind.TEAM].days == 90
    assert DEFAULTS[ConversationKind.DIRECT].days == 365
    assert DEFAULTS[ConversationKind.CARE_CASE].days == 365


def test_open_care_case_never_expires_and_keeps_its_messages() -> None:
    assert conversation_expires_at(ConversationKind.CARE_CASE, 30, closed_at=None, last_activity=NOW) is None
    assert message_cutoff(ConversationKind.CARE_CASE, 30, NOW) is None
    closed = NOW - timedelta(days=3)
    assert conversation_expires_at(ConversationKind.CARE_CASE, 30, closed_at=closed,
                                   last_activity=NOW) == closed + timedelta(days=30)


def test_team_channel_expires_messages_and_inactivity() -> None:
    assert message_cutoff(ConversationKind.TEAM, 90, NOW) == NOW - timedelta(days=90)
    assert conversation_expires_at(ConversationKind.TEAM, 90, closed_at=None,
                                   last_activity=NOW) == NOW + timedelta(days=90)


def test_overrides_stay_inside_the_dpo_limits() -> None:
    rule = RetentionRule(ConversationKind.TEAM, 90, 30, 180)
    assert check_override(rule, 60) == 60
    with pytest.raises(InvalidInput) as exc:
        check_override(rule, 400)
    assert exc.value.params == {"min": 30, "max": 180}
    assert effective_days(RetentionRule(ConversationKind.TEAM, 90, 30, 100), 180) == 100
    with pytest.raises(InvalidInput):
        check_rule(RetentionRule(ConversationKind.TEAM, 10, 30, 180))

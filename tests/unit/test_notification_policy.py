"""When people are notified: grouping keeps the default under five a day (RGESN 4.13), urgent
messages do not wait, quiet hours silence everything, and the words never carry care content."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chevet.core.conversation import ConversationKind
from chevet.core.errors import InvalidInput
from chevet.core.notification import (
    DAILY_CAP,
    Preferences,
    PushContent,
    PushLevel,
    decide,
    in_quiet_hours,
    notification_text,
    parse_clock,
)

PERSON, ORG = uuid.uuid4(), uuid.uuid4()
MORNING = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # 08:00 in Paris


def run_day(prefs: Preferences, every: timedelta, count: int, urgent_every: int = 0) -> int:
    budget, sent = None, 0
    for i in range(count):
        urgent = bool(urgent_every) and i % urgent_every == 0
        after = decide(prefs, budget, MORNING + every * i, f"c:{i}", urgent=urgent, mentioned=False)
        if after is not None:
            budget, sent = after, sent + 1
    return sent


def test_default_stays_under_five_a_day_even_on_a_busy_ward() -> None:
    prefs = Preferences(PERSON, ORG)
    assert prefs.push_level is PushLevel.GROUPED
    assert run_day(prefs, timedelta(minutes=2), 450) < 5  # a message every 2 minutes, 08:00 to 23:00
    assert run_day(prefs, timedelta(minutes=5), 180, urgent_every=7) == DAILY_CAP < 5


def test_urgent_does_not_wait_for_the_grouping_window() -> None:
    prefs = Preferences(PERSON, ORG)
    first = decide(prefs, None, MORNING, "a", urgent=False, mentioned=False)
    assert first is not None
    assert decide(prefs, first, MORNING + timedelta(minutes=10), "b", urgent=False, mentioned=False) is None
    assert decide(prefs, first, MORNING + timedelta(minutes=10), "c", urgent=True, mentioned=False) is not None
    assert decide(prefs, first, MORNING + timedelta(hours=3, minutes=1), "d", urgent=False, mentioned=False)


def test_the_same_event_seen_twice_notifies_once() -> None:
    prefs = Preferences(PERSON, ORG, push_level=PushLevel.URGENT)
    first = decide(prefs, None, MORNING, "conv:7", urgent=True, mentioned=False)
    assert first is not None
    assert decide(prefs, first, MORNING, "conv:7", urgent=True, mentioned=False) is None


def test_urgent_level_and_none() -> None:
    urgent_only = Preferences(PERSON, ORG, push_level=PushLevel.URGENT)
    assert decide(urgent_only, None, MORNING, "a", urgent=False, mentioned=False) is None
    assert decide(urgent_only, None, MORNING, "a", urgent=False, mentioned=True) is not None
    assert decide(Preferences(PERSON, ORG, push_level=PushLevel.NONE), None, MORNING, "a", urgent=True,
                  mentioned=True) is None


def test_quiet_hours_across_midnight_in_paris_time() -> None:
    night = Preferences(PERSON, ORG, quiet_start=parse_clock("21:30"), quiet_end=parse_clock("07:00"))
    assert in_quiet_hours(night, datetime(2026, 11, 30, 21, 0, tzinfo=UTC))  # 22:00 Paris
    assert in_quiet_hours(night, datetime(2026, 11, 30, 5, 30, tzinfo=UTC))  # 06:30 Paris
    assert not in_quiet_hours(night, datetime(2026, 11, 30, 6, 0, tzinfo=UTC))  # 07:00 Paris
    assert decide(night, None, datetime(2026, 11, 30, 22, 0, tzinfo=UTC), "a", urgent=True, mentioned=True) is None
    with pytest.raises(InvalidInput):
        parse_clock("24:00")
    with pytest.raises(InvalidInput):
        parse_clock("7h")


def test_words_never_name_a_care_case() -> None:
    care = notification_text(ConversationKind.CARE_CASE, "Mme X chambre 12", PushContent.NAME, False)
    assert care == ("push.new", "")
    assert notification_text(ConversationKind.TEAM, "Unité Alzheimer", PushContent.NAME, True) == \
        ("push.urgent.in", "Unité Alzheimer")
    assert notification_text(ConversationKind.GROUP, "Nuit", PushContent.NOTHING, False) == ("push.new", "")
    assert notification_text(ConversationKind.DIRECT, "Paul", PushContent.NAME, False) == ("push.new", "")


def burst(kind: ConversationKind, count: int, *, mentioned: bool = False, urgent: bool = False) -> int:
    """Notifications the default sends for ``count`` messages a minute apart in one conversation."""
    prefs, budget, sent = Preferences(PERSON, ORG), None, 0
    for i in range(count):
        after = decide(prefs, budget, MORNING + timedelta(minutes=i), f"{kind}:{i}", urgent=urgent,
                       mentioned=mentioned, kind=kind)
        if after is not None:
            budget, sent = after, sent + 1
    return sent


@pytest.mark.parametrize(("kind", "mentioned", "urgent"), [
    (ConversationKind.DIRECT, False, False),
    (ConversationKind.CARE_CASE, False, False),  # her patients: she is a member of the care case
    (ConversationKind.TEAM, True, False),
    (ConversationKind.TEAM, False, True),
    (ConversationKind.GROUP, True, False),
])
def test_the_default_notifies_at_once_what_is_addressed_to_me(kind: ConversationKind, mentioned: bool,
                                                               urgent: bool) -> None:
    assert burst(kind, 10, mentioned=mentioned, urgent=urgent) == 10  # neither the window nor the cap holds them


def test_the_default_groups_a_busy_team_channel() -> None:
    assert burst(ConversationKind.TEAM, 120) == 1  # two hours of a message a minute: one notification
    assert burst(ConversationKind.GROUP, 120) == 1


def test_immediate_notifications_leave_the_team_channel_budget_alone() -> None:
    prefs = Preferences(PERSON, ORG)
    budget = None
    for i in range(DAILY_CAP + 2):
        budget = decide(prefs, budget, MORNING + timedelta(minutes=i), f"d:{i}", urgent=False, mentioned=False,
                        kind=ConversationKind.DIRECT)
        assert budget is not None
    assert budget.sent == 0 and budget.last_sent_at is None
    team = decide(prefs, budget, MORNING + timedelta(minutes=30), "t:1", urgent=False, mentioned=False,
                  kind=ConversationKind.TEAM)
    assert team is not None and team.sent == 1
    assert decide(prefs, team, MORNING + timedelta(minutes=30), "t:1", urgent=False, mentioned=False,
                  kind=ConversationKind.DIRECT) is None  # the same event twice: once


def test_urgent_and_mentions_only_still_ignores_direct_messages() -> None:
    prefs = Preferences(PERSON, ORG, push_level=PushLevel.URGENT)
    assert decide(prefs, None, MORNING, "a", urgent=False, mentioned=False, kind=ConversationKind.DIRECT) is None
    assert decide(prefs, None, MORNING, "b", urgent=False, mentioned=True, kind=ConversationKind.TEAM) is not None

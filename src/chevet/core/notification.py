"""When a person's devices are notified of new messages, and what a notification may say.

Notifications never carry care content: at most the name of a team or group conversation
("Nouveau message dans Unité Alzheimer"), never a care case's title or reference, never a
message's text, and nothing at all when the organisation or the person chooses so.

The default level notifies at once what is addressed to the person (a direct message, a
mention, an urgent message, a care case she is a member of) and groups the busy team channels:
at most one notification every ``GROUP_WINDOW`` and at most ``DAILY_CAP`` a day for those
(RGESN 4.13). Quiet hours silence everything.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from chevet.core.conversation import ConversationKind
from chevet.core.errors import InvalidInput

LOCAL_TIME = ZoneInfo("Europe/Paris")
GROUP_WINDOW = timedelta(hours=3)
DAILY_CAP = 4


class PushLevel(StrEnum):
    GROUPED = "grouped"  # default: at once for what is addressed to me, team channels grouped
    URGENT = "urgent"  # every urgent message and every mention, nothing else
    NONE = "none"


class PushContent(StrEnum):
    """What an organisation lets notifications say."""

    NAME = "name"  # the name of a team or group conversation (never a care case's)
    NOTHING = "nothing"  # "Nouveau message" only


@dataclass(frozen=True, slots=True)
class Preferences:
    person_id: uuid.UUID
    org_id: uuid.UUID
    language: str | None = None
    push_level: PushLevel = PushLevel.GROUPED
    quiet_start: int | None = None  # minutes after local midnight
    quiet_end: int | None = None


@dataclass(frozen=True, slots=True)
class PushSubscription:
    id: uuid.UUID
    org_id: uuid.UUID
    person_id: uuid.UUID
    endpoint: str
    p256dh: bytes
    auth: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PushBudget:
    """How many notifications a person had today, and when the last one left."""

    person_id: uuid.UUID
    org_id: uuid.UUID
    day: int
    sent: int
    last_sent_at: datetime | None
    last_key: str | None


def parse_level(value: str) -> PushLevel:
    try:
        return PushLevel(value)
    except ValueError as exc:
        raise InvalidInput("push_level_invalid") from exc


def parse_content(value: str) -> PushContent:
    try:
        return PushContent(value)
    except ValueError as exc:
        raise InvalidInput("push_content_invalid") from exc


def parse_clock(value: str | None) -> int | None:
    """``"21:30"`` → 1290 minutes; empty → None."""
    value = (value or "").strip()
    if not value:
        return None
    hours, sep, minutes = value.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or int(hours) > 23 or int(minutes) > 59:
        raise InvalidInput("quiet_hours_invalid")
    return int(hours) * 60 + int(minutes)


def format_clock(minutes: int | None) -> str:
    return "" if minutes is None else f"{minutes // 60:02d}:{minutes % 60:02d}"


def local_day(at: datetime) -> int:
    local = at.astimezone(LOCAL_TIME)
    return local.year * 10000 + local.month * 100 + local.day


def in_quiet_hours(prefs: Preferences, at: datetime) -> bool:
    if prefs.quiet_start is None or prefs.quiet_end is None or prefs.quiet_start == prefs.quiet_end:
        return False
    local = at.astimezone(LOCAL_TIME)
    now = local.hour * 60 + local.minute
    if prefs.quiet_start < prefs.quiet_end:
        return prefs.quiet_start <= now < prefs.quiet_end
    return now >= prefs.quiet_start or now < prefs.quiet_end  # across midnight


def decide(prefs: Preferences, budget: PushBudget | None, at: datetime, key: str, *, urgent: bool,
           mentioned: bool, kind: ConversationKind | None = None) -> PushBudget | None:
    """The person's budget after notifying them of this message, or None to stay silent.
    ``key`` identifies the message, so that the same event seen twice (several server
    processes) notifies once. At the default level, what ``immediate`` names is notified at
    once and outside the daily cap; the rest (team channels) is grouped: at most one every
    ``GROUP_WINDOW`` and ``DAILY_CAP`` a day. Without a ``kind`` (a reminder), only urgency
    counts."""
    if prefs.push_level is PushLevel.NONE or in_quiet_hours(prefs, at):
        return None
    day = local_day(at)
    if budget is not None and budget.last_key == key:
        return None
    if budget is None or budget.day != day:
        budget = PushBudget(prefs.person_id, prefs.org_id, day, 0, None, None)
    if prefs.push_level is PushLevel.URGENT:
        if not (urgent or mentioned):
            return None
    elif kind is not None and immediate(kind, urgent=urgent, mentioned=mentioned):
        return PushBudget(budget.person_id, budget.org_id, day, budget.sent, budget.last_sent_at, key)
    else:
        if budget.sent >= DAILY_CAP:
            return None
        recent = budget.last_sent_at is not None and at - budget.last_sent_at < GROUP_WINDOW
        if recent and not urgent:
            return None
    return PushBudget(budget.person_id, budget.org_id, day, budget.sent + 1, at, key)


def push_service_allowed(endpoint: str, services: tuple[str, ...]) -> bool:
    """Whether ``endpoint`` belongs to one of the push services the administrator allowed
    (origins; ``https://*.example.com`` matches any subdomain of example.com)."""
    try:
        parts = urlsplit(endpoint)
    except ValueError:
        return False
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password:
        return False
    netloc = parts.netloc.lower()
    for service in services:
        scheme, _, host = service.rstrip("/").lower().partition("://")
        if scheme != parts.scheme:
            continue
        if host == netloc or (host.startswith("*.") and netloc.endswith(host[1:]) and len(netloc) > len(host) - 1):
            return True
    return False


def immediate(kind: ConversationKind, *, urgent: bool, mentioned: bool) -> bool:
    """The personal default notifies at once what is addressed to the person: a direct
    message, a mention, an urgent message, a care case she is a member of (her patients).
    Busy team channels, groups and external exchanges are grouped."""
    return urgent or mentioned or kind in (ConversationKind.DIRECT, ConversationKind.CARE_CASE)


def notification_text(kind: ConversationKind, title: str, content: PushContent, urgent: bool) -> tuple[str, str]:
    """(message id, parameters) of the text shown: never a care case's title, never content."""
    label = "push.urgent" if urgent else "push.new"
    if content is PushContent.NAME and kind in (ConversationKind.TEAM, ConversationKind.GROUP) and title:
        return f"{label}.in", title
    return label, ""

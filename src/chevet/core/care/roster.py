"""Duty rosters, sans I/O: a team's shift patterns, who is on duty or on call, role addresses.

Shifts are written in Europe/Paris wall-clock time (« Nuit » 19:00–07:00) and resolved with
zoneinfo into aware UTC instants for one local day, so that a night shift on the night the clocks
change lasts 11 h (last Sunday of March) or 13 h (last Sunday of October). Every interval is
half-open: at 07:00:00 exactly the night shift has ended and the day shift has begun.

A role address (``garde``, ``astreinte-medicale``) is a stable, folded slug: ``@Astreinte-Médicale``
and ``astreinte-medicale`` are the same address. It resolves to whoever holds it at an instant.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from chevet.core.blind_index import fold
from chevet.core.errors import InvalidInput

PARIS = ZoneInfo("Europe/Paris")
MINUTES_PER_DAY = 24 * 60
SHIFT_NAME_MAX = 40
ROLE_LABEL_MAX = 80
SLUG_MAX = 40
MAX_SHIFTS_PER_TEAM = 12
MAX_PERIOD = timedelta(days=31)  # one assignment: at most a month of on-call
PAST_LIMIT = timedelta(days=366)  # assignments (and imports) live within this window of now
FUTURE_LIMIT = timedelta(days=2 * 366)


class DutyKind(StrEnum):
    DUTY = "duty"  # on duty: at work, in the unit
    ON_CALL = "on_call"  # on call (astreinte): reachable, called when needed


@dataclass(frozen=True, slots=True)
class ShiftOccurrence:
    """One occurrence of a shift: its name and its aware UTC bounds, ``[starts_at, ends_at)``."""

    name: str
    starts_at: datetime
    ends_at: datetime
    shift_id: uuid.UUID | None = None

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    @property
    def length(self) -> timedelta:
        return self.ends_at - self.starts_at


@dataclass(frozen=True, slots=True)
class ShiftPattern:
    """A team's shift in wall-clock minutes after local midnight. ``ends <= starts`` crosses
    midnight (ends the next day); ``ends == starts`` is a 24-hour shift."""

    id: uuid.UUID
    org_id: uuid.UUID
    team_id: uuid.UUID
    name: str
    starts: int
    ends: int
    created_at: datetime

    @property
    def crosses_midnight(self) -> bool:
        return self.ends <= self.starts

    def occurrence(self, day: date) -> ShiftOccurrence:
        """The occurrence that starts on local ``day``."""
        end_day = day + timedelta(days=1) if self.crosses_midnight else day
        return ShiftOccurrence(self.name, local_instant(day, self.starts), local_instant(end_day, self.ends), self.id)

    def occurrence_at(self, at: datetime) -> ShiftOccurrence | None:
        today = at.astimezone(PARIS).date()
        for day in (today, today - timedelta(days=1)):
            occ = self.occurrence(day)
            if occ.covers(at):
                return occ
        return None


@dataclass(frozen=True, slots=True)
class Assignment:
    """A person on duty or on call for a team over ``[starts_at, ends_at)`` (aware UTC), for a
    shift occurrence (``shift_id``) or an explicit period, optionally holding a role address.
    ``rank`` orders the on-call ladder: 1 is called first."""

    id: uuid.UUID
    org_id: uuid.UUID
    team_id: uuid.UUID
    person_id: uuid.UUID
    kind: DutyKind
    starts_at: datetime
    ends_at: datetime
    shift_id: uuid.UUID | None
    role_id: uuid.UUID | None
    rank: int
    created_at: datetime
    created_by: uuid.UUID | None

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


@dataclass(frozen=True, slots=True)
class RoleAddress:
    """An address people write (``@garde``) for whoever holds the role at the time."""

    id: uuid.UUID
    org_id: uuid.UUID
    slug: str
    label: str
    team_id: uuid.UUID | None
    created_at: datetime


DEFAULT_ROLES: tuple[tuple[str, str], ...] = (
    ("garde", "Infirmière de garde"),
    ("astreinte-medicale", "Astreinte médicale"),
)


def local_instant(day: date, minutes: int) -> datetime:
    """The aware UTC instant of wall-clock ``minutes`` on local ``day`` in Europe/Paris. A time
    the spring change skips (02:30) is read with the offset before the change; a time the
    autumn change repeats is its first occurrence."""
    hours, mins = divmod(minutes % MINUTES_PER_DAY, 60)
    return datetime.combine(day, time(hours, mins), tzinfo=PARIS).astimezone(UTC)


def local_day(at: datetime) -> date:
    return at.astimezone(PARIS).date()


def shift_at(patterns: list[ShiftPattern], at: datetime) -> ShiftOccurrence | None:
    """The shift running at ``at``; where two overlap, the one that began last."""
    found = [occ for p in patterns if (occ := p.occurrence_at(at)) is not None]
    return max(found, key=lambda o: (o.starts_at, o.name)) if found else None


_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")


def fold_address(text: str) -> str:
    """``@Astreinte Médicale`` → ``astreinte-medicale``: the form an address is stored and
    compared in (leading ``@`` dropped, accents and case folded, spaces and underscores as dashes)."""
    bare = fold((text or "").strip()).lstrip("@")
    bare = re.sub(r"[\s_]+", "-", bare.strip())
    return re.sub(r"-{2,}", "-", bare).strip("-")


def clean_slug(text: str) -> str:
    slug = fold_address(text)
    if not _SLUG.match(slug):
        raise InvalidInput("role_slug_invalid", max=SLUG_MAX)
    return slug


# A role mention in a message: ``@garde``, ``@astreinte-médicale``; not an e-mail (a word
# character before the @), not a person mention (``@[uuid]``).
_ROLE_MENTION = re.compile(r"(?<![\w@])@([^\W_][\w-]{0,60})")


def role_mentions(body: str) -> set[str]:
    """The folded role addresses a message names (a candidate list: unknown ones resolve to nobody)."""
    if "@" not in body:
        return set()
    return {fold_address(m.rstrip("-")) for m in _ROLE_MENTION.findall(body)} - {""}


def clean_label(text: str, code: str, limit: int) -> str:
    clean = " ".join((text or "").split())
    if not clean or len(clean) > limit or clean.startswith(("=", "+", "-", "@")):
        raise InvalidInput(code, max=limit)
    return clean


_CLOCK = re.compile(r"^\s*(\d{1,2})\s*[:hH]\s*(\d{2})?\s*$")


def parse_clock(value: str) -> int:
    """``"07:00"``, ``"7h"``, ``"19h30"`` → minutes after local midnight."""
    m = _CLOCK.match(value or "")
    if m is None:
        raise InvalidInput("shift_time_invalid")
    hours, minutes = int(m.group(1)), int(m.group(2) or 0)
    if hours > 23 or minutes > 59:
        raise InvalidInput("shift_time_invalid")
    return hours * 60 + minutes


def format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def check_period(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    """An assignment's period: aware, ordered, at most ``MAX_PERIOD``, near enough to now."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput("roster_period_invalid")
    if ends_at <= starts_at:
        raise InvalidInput("roster_period_invalid")
    if ends_at - starts_at > MAX_PERIOD:
        raise InvalidInput("roster_period_too_long", days=MAX_PERIOD.days)
    if starts_at < now - PAST_LIMIT or ends_at > now + FUTURE_LIMIT:
        raise InvalidInput("roster_period_too_far")


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def on_shift_people(assignments: list[Assignment], at: datetime) -> list[uuid.UUID]:
    """People on duty or on call at ``at``, on duty first, then the on-call ladder."""
    now = [a for a in assignments if a.covers(at)]
    now.sort(key=lambda a: (a.kind is not DutyKind.DUTY, a.rank, a.starts_at, a.created_at))
    return list(dict.fromkeys(a.person_id for a in now))


def ladder(assignments: list[Assignment], at: datetime) -> list[uuid.UUID]:
    """The on-call people at ``at``, first on call first (rank, then who started earlier)."""
    now = [a for a in assignments if a.kind is DutyKind.ON_CALL and a.covers(at)]
    now.sort(key=lambda a: (a.rank, a.starts_at, a.created_at))
    return list(dict.fromkeys(a.person_id for a in now))

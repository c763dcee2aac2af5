"""Shift resolution in Europe/Paris wall-clock time: boundaries are half-open (07:00:00 is the day
shift's), a night shift lasts 11 h on the spring change and 13 h on the autumn one, role
addresses fold accents and case."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chevet.core.care.roster import (
    PARIS,
    Assignment,
    DutyKind,
    ShiftPattern,
    check_period,
    fold_address,
    ladder,
    local_instant,
    on_shift_people,
    parse_clock,
    role_mentions,
    shift_at,
)
from chevet.core.errors import InvalidInput

ORG, TEAM = uuid.uuid4(), uuid.uuid4()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def pattern(name: str, starts: str, ends: str) -> ShiftPattern:
    return ShiftPattern(uuid.uuid4(), ORG, TEAM, name, parse_clock(starts), parse_clock(ends), T0)


DAY, NIGHT = pattern("Jour", "07:00", "19:00"), pattern("Nuit", "19:00", "07:00")


def paris(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=PARIS)


@pytest.mark.parametrize(("night_of", "hours"), [
    (date(2026, 3, 28), 11), (date(2026, 10, 24), 13),  # Sat → Sun, last Sunday of March / October 2026
    (date(2027, 3, 27), 11), (date(2027, 10, 30), 13),
    (date(2026, 6, 10), 12), (date(2026, 12, 31), 12),
])
def test_a_night_shift_spanning_the_clock_change_lasts_11_or_13_hours(night_of: date, hours: int) -> None:
    occ = NIGHT.occurrence(night_of)
    assert occ.length == timedelta(hours=hours)
    assert occ.starts_at.astimezone(PARIS).hour == 19 and occ.ends_at.astimezone(PARIS).hour == 7
    assert occ.starts_at.tzinfo is UTC and occ.ends_at.tzinfo is UTC
    # in the middle of the night (03:30 local exists on both nights) the night shift runs
    middle = occ.starts_at + timedelta(hours=hours / 2)
    found = shift_at([DAY, NIGHT], middle)
    assert found is not None and found.name == "Nuit" and found.starts_at == occ.starts_at


def test_the_day_after_the_change_is_twelve_hours_in_summer_time() -> None:
    occ = DAY.occurrence(date(2026, 3, 29))
    assert occ.starts_at == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)  # 07:00 CEST
    assert occ.length == timedelta(hours=12)
    winter = DAY.occurrence(date(2026, 10, 25))
    assert winter.starts_at == datetime(2026, 10, 25, 6, 0, tzinfo=UTC)  # 07:00 CET


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25), date(2026, 7, 14)])
def test_seven_exactly_belongs_to_the_day_shift_and_one_second_before_to_the_night(day: date) -> None:
    seven = local_instant(day, 7 * 60)
    at_seven = shift_at([DAY, NIGHT], seven)
    before = shift_at([DAY, NIGHT], seven - timedelta(seconds=1))
    assert at_seven is not None and at_seven.name == "Jour"
    assert before is not None and before.name == "Nuit"
    assert before.ends_at == seven == at_seven.starts_at
    nineteen = local_instant(day, 19 * 60)
    assert (shift_at([DAY, NIGHT], nineteen) or DAY).name == "Nuit"
    assert (shift_at([DAY, NIGHT], nineteen - timedelta(microseconds=1)) or NIGHT).name == "Jour"


def test_custom_hours_leave_gaps_and_overlaps_go_to_the_latest_started() -> None:
    morning, evening = pattern("Matin", "06:30", "14:00"), pattern("Soir", "13:30", "21:00")
    assert shift_at([morning, evening], paris(2026, 5, 5, 22).astimezone(UTC)) is None
    both = shift_at([morning, evening], paris(2026, 5, 5, 13, 45).astimezone(UTC))
    assert both is not None and both.name == "Soir"
    full = pattern("24 h", "08:00", "08:00")
    occ = full.occurrence(date(2026, 5, 5))
    assert occ.length == timedelta(hours=24)


def test_a_skipped_local_time_is_resolved_not_refused() -> None:
    odd = pattern("Relève", "02:30", "04:00")
    occ = odd.occurrence(date(2026, 3, 29))  # 02:30 does not exist that night
    assert occ.starts_at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert occ.ends_at == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(("written", "slug"), [
    ("@astreinte-médicale", "astreinte-medicale"), ("Astreinte Médicale", "astreinte-medicale"),
    ("@GARDE", "garde"), (" garde ", "garde"), ("@Infirmière_de_garde", "infirmiere-de-garde"),
])
def test_role_addresses_fold_accents_and_case(written: str, slug: str) -> None:
    assert fold_address(written) == slug


def test_role_mentions_in_a_message() -> None:
    body = "Bonjour @garde, voir @Astreinte-Médicale. Écrire à cadre@ehpad.fr et @[" + str(uuid.uuid4()) + "]"
    assert role_mentions(body) == {"garde", "astreinte-medicale"}
    assert role_mentions("pas de mention") == set()


@given(st.text(max_size=80))
def test_fold_address_is_idempotent_and_ascii(text: str) -> None:
    once = fold_address(text)
    assert fold_address(once) == once


def _a(person: uuid.UUID, kind: DutyKind, start: datetime, hours: int, rank: int = 1) -> Assignment:
    return Assignment(uuid.uuid4(), ORG, TEAM, person, kind, start, start + timedelta(hours=hours), None, None,
                      rank, T0, None)


def test_ladder_and_on_shift_orders() -> None:
    start = datetime(2026, 5, 5, 17, tzinfo=UTC)
    nurse, second, first, later = (uuid.uuid4() for _ in range(4))
    rows = [_a(second, DutyKind.ON_CALL, start, 12, rank=2), _a(nurse, DutyKind.DUTY, start, 12),
            _a(first, DutyKind.ON_CALL, start, 12, rank=1), _a(later, DutyKind.DUTY, start + timedelta(hours=12), 12)]
    at = start + timedelta(hours=1)
    assert ladder(rows, at) == [first, second]
    assert on_shift_people(rows, at) == [nurse, first, second]
    assert on_shift_people(rows, start + timedelta(hours=12)) == [later]


def test_periods_are_bounded() -> None:
    now = datetime(2026, 5, 5, tzinfo=UTC)
    check_period(now, now + timedelta(hours=12), now)
    far, old = now + timedelta(days=3000), now - timedelta(days=400)
    for start, end in [(now, now), (now, now + timedelta(days=40)), (far, far + timedelta(days=1)),
                       (old, old + timedelta(days=1))]:
        with pytest.raises(InvalidInput):
            check_period(start, end, now)
    for bad in ("25:00", "7:75", "", "midi"):
        with pytest.raises(InvalidInput):
            parse_clock(bad)
    assert parse_clock("7h") == 420 and parse_clock("19h30") == 1170

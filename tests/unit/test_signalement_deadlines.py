"""Regulatory deadlines: elapsed hours across daylight-saving changes, calendar months in
Europe/Paris at month ends and in the DST gap/overlap, whatever zone the input comes in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chevet.core.signalement import deadlines as dl
from chevet.core.signalement.deadlines import Channel, DeadlineKind, DeadlineState, FormKind, Submission

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=PARIS, fold=fold)  # type: ignore[misc]


def by_kind(ds: list[dl.Deadline]) -> dict[DeadlineKind, dl.Deadline]:
    return {d.kind: d for d in ds}


def test_gdpr_72_hours_are_elapsed_time_across_the_spring_change() -> None:
    # Saturday 28 March 2026, 10:00 CET; clocks go forward on Sunday 29 March at 02:00.
    aware = paris(2026, 3, 28, 10, 0)
    d = by_kind(dl.compute(awareness_at=aware, essms=False, eigs=False, security=False, gdpr=True,
                           submissions=[]))[DeadlineKind.GDPR]
    assert d.due_at - aware == timedelta(hours=72)
    assert dl.local_time(d.due_at) == paris(2026, 3, 31, 11, 0)  # one hour later on the wall clock


def test_48_hours_across_the_autumn_change_end_one_hour_earlier_on_the_wall_clock() -> None:
    aware = paris(2026, 10, 24, 22, 30)  # Saturday; clocks go back on Sunday 25 October at 03:00
    d = by_kind(dl.compute(awareness_at=aware, essms=True, eigs=False, security=False, gdpr=False,
                           submissions=[]))[DeadlineKind.ESSMS_WRITTEN]
    assert dl.local_time(d.due_at) == paris(2026, 10, 26, 21, 30)


def test_the_zone_of_the_input_does_not_change_the_deadline() -> None:
    aware_paris = paris(2026, 7, 14, 23, 45)
    aware_utc = aware_paris.astimezone(UTC)
    aware_reunion = aware_paris.astimezone(timezone(timedelta(hours=4)))
    results = {dl.compute(awareness_at=a, essms=False, eigs=True, security=False, gdpr=True, submissions=[])[i].due_at
               for a in (aware_paris, aware_utc, aware_reunion) for i in (1, 2)}
    assert len(results) == 2


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        dl.add_months(datetime(2026, 1, 1, 12), 3)


@pytest.mark.parametrize(("start", "expected"), [
    (paris(2026, 5, 31, 9, 0), paris(2026, 8, 31, 9, 0)),       # same day exists
    (paris(2026, 11, 30, 9, 0), paris(2027, 2, 28, 9, 0)),      # clamped to the end of February
    (paris(2027, 11, 30, 9, 0), paris(2028, 2, 29, 9, 0)),      # leap year
    (paris(2026, 12, 15, 18, 0), paris(2027, 3, 15, 18, 0)),    # across the year, CET → CET
    (paris(2026, 1, 10, 8, 0), paris(2026, 4, 10, 8, 0)),       # CET → CEST keeps the wall-clock time
    (paris(2026, 12, 28, 2, 30), paris(2027, 3, 28, 3, 30)),    # lands in the spring gap: moved past it
    (paris(2026, 7, 31, 2, 30), paris(2026, 10, 31, 2, 30)),    # day clamp not needed
    (paris(2027, 7, 31, 2, 30), paris(2027, 10, 31, 2, 30, fold=0)),  # ambiguous: first occurrence
])
def test_three_calendar_months_in_paris(start: datetime, expected: datetime) -> None:
    got = dl.add_months(start, 3)
    assert got == expected.astimezone(UTC)
    assert got.tzinfo is UTC


def test_ambiguous_time_takes_the_earlier_of_the_two() -> None:
    got = dl.add_months(paris(2027, 7, 31, 2, 30), 3)  # 31 October 2027 02:30 happens twice
    first, second = paris(2027, 10, 31, 2, 30, fold=0), paris(2027, 10, 31, 2, 30, fold=1)
    assert first.astimezone(UTC) < second.astimezone(UTC)
    assert got == first.astimezone(UTC)


def test_eigs_part_two_runs_from_the_sending_of_part_one() -> None:
    aware = paris(2026, 1, 5, 9, 0)
    part1 = Submission(FormKind.EIGS_1, paris(2026, 1, 7, 16, 0), Channel.PORTAL)
    ds = by_kind(dl.compute(awareness_at=aware, essms=False, eigs=True, security=False, gdpr=False,
                            submissions=[part1]))
    assert ds[DeadlineKind.EIGS_PART1].done_at == part1.at.astimezone(UTC)
    assert dl.local_time(ds[DeadlineKind.EIGS_PART2].due_at) == paris(2026, 4, 7, 16, 0)


def test_written_confirmation_runs_from_an_oral_report_and_only_writing_fulfils_it() -> None:
    aware = paris(2026, 6, 1, 2, 0)
    phone = Submission(FormKind.ESSMS, paris(2026, 6, 1, 8, 0), Channel.PHONE)
    ds = by_kind(dl.compute(awareness_at=aware, essms=True, eigs=False, security=False, gdpr=False,
                            submissions=[phone]))
    assert ds[DeadlineKind.ESSMS_INFORM].done_at is not None
    written = ds[DeadlineKind.ESSMS_WRITTEN]
    assert written.done_at is None and dl.local_time(written.due_at) == paris(2026, 6, 3, 8, 0)
    assert written.state(paris(2026, 6, 3, 7, 59).astimezone(UTC)) is DeadlineState.DUE
    assert written.state(paris(2026, 6, 3, 8, 1).astimezone(UTC)) is DeadlineState.OVERDUE
    email = Submission(FormKind.ESSMS, paris(2026, 6, 3, 9, 0), Channel.EMAIL)
    late = by_kind(dl.compute(awareness_at=aware, essms=True, eigs=False, security=False, gdpr=False,
                              submissions=[phone, email]))[DeadlineKind.ESSMS_WRITTEN]
    assert late.state(paris(2026, 6, 4).astimezone(UTC)) is DeadlineState.DONE and late.met is False


def test_sans_delai_is_due_at_once_and_flagged_after_the_internal_alert() -> None:
    aware = paris(2026, 2, 2, 3, 0)
    d = dl.compute(awareness_at=aware, essms=False, eigs=False, security=True, gdpr=False, submissions=[])[0]
    assert d.immediate and d.due_at == aware.astimezone(UTC)
    assert d.state(aware + timedelta(hours=23)) is DeadlineState.DUE
    assert d.state(aware + timedelta(hours=25)) is DeadlineState.OVERDUE


def test_only_the_qualified_kinds_produce_deadlines() -> None:
    aware = paris(2026, 2, 2, 3, 0)
    assert dl.compute(awareness_at=aware, essms=False, eigs=False, security=False, gdpr=False, submissions=[]) == []
    kinds = [d.kind for d in dl.compute(awareness_at=aware, essms=True, eigs=True, security=True, gdpr=True,
                                        submissions=[])]
    assert kinds == list(DeadlineKind)

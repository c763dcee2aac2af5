"""Reading roster files: a CSV as French Excel writes it, an iCalendar file from another writer
(the icalendar library, and a literal RFC 5545 text with its VTIMEZONE), and hostile files, each
refused whole or reported for its line."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import icalendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chevet.core.care.roster import PARIS, DutyKind, ShiftPattern, local_instant
from chevet.core.care.roster_import import (
    MAX_EVENTS,
    RosterFileRejected,
    parse,
    parse_csv,
    parse_ics,
)

NOW = datetime(2026, 10, 1, 8, tzinfo=UTC)
ORG, TEAM = uuid.uuid4(), uuid.uuid4()
DAY = ShiftPattern(uuid.uuid4(), ORG, TEAM, "Jour", 7 * 60, 19 * 60, NOW)
NIGHT = ShiftPattern(uuid.uuid4(), ORG, TEAM, "Nuit", 19 * 60, 7 * 60, NOW)
PATTERNS = [DAY, NIGHT]


def test_csv_by_shift_name_or_hours() -> None:
    data = ("E-mail;Date;Poste;Début;Fin;Type;Rôle;Ordre\r\n"
            "camille@ehpad.example;24/10/2026;Nuit;;;;garde;\r\n"
            "Paul@ehpad.example;2026-10-25;;08:00;20:00;astreinte;@Astreinte-Médicale;2\r\n"
            "x@;24/10/2026;Nuit;;;;;\r\n"
            "lea@ehpad.example;31/02/2026;Nuit;;;;;\r\n"
            "lea@ehpad.example;24/10/2026;Soirée;;;;;\r\n"
            "lea@ehpad.example;24/10/2026;Nuit;;;=HYPERLINK(1);;\r\n"
            "camille@ehpad.example;24/10/2026;Nuit;;;;garde;\r\n"
            "lea@ehpad.example;24/10/2031;Nuit;;;;;\r\n").encode("cp1252")
    got = parse(data, PATTERNS, NOW)
    assert got.format == "csv"
    night, call = got.rows
    assert night.email == "camille@ehpad.example" and night.shift_id == NIGHT.id and night.role == "garde"
    assert night.ends_at - night.starts_at == timedelta(hours=13)  # the October change
    assert night.kind is DutyKind.DUTY and night.line == 2
    assert call.kind is DutyKind.ON_CALL and call.rank == 2 and call.role == "astreinte-medicale"
    assert call.starts_at == local_instant(date(2026, 10, 25), 8 * 60) and call.shift_id is None
    assert [(p.line, p.code) for p in got.problems] == [
        (4, "invalid_email"), (5, "date_invalid"), (6, "unknown_shift"), (7, "formula"), (8, "duplicate_in_file"),
        (9, "period_too_far")]


def test_csv_without_the_columns_is_refused() -> None:
    with pytest.raises(RosterFileRejected) as refused:
        parse_csv(b"Nom;Prenom\r\nMartin;Camille\r\n", PATTERNS, NOW)
    assert refused.value.reason == "missing_columns"
    with pytest.raises(RosterFileRejected) as empty:
        parse_csv(b"\r\n\r\n", PATTERNS, NOW)
    assert empty.value.reason == "empty"


def _library_calendar() -> bytes:
    """Written by the icalendar library, as a planning tool would."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Planning//FR")
    cal.add("version", "2.0")
    night = icalendar.Event()
    night.add("uid", "n1@planning")
    night.add("summary", "Nuit @garde")
    night.add("dtstart", datetime(2026, 10, 24, 19, tzinfo=PARIS))
    night.add("dtend", datetime(2026, 10, 25, 7, tzinfo=PARIS))
    night.add("attendee", "mailto:camille@ehpad.example")
    cal.add_component(night)
    weekly = icalendar.Event()
    weekly.add("uid", "w1@planning")
    weekly.add("summary", "Astreinte médicale dr.martin@ehpad.example")
    weekly.add("dtstart", datetime(2026, 10, 17, 19))  # floating: Europe/Paris
    weekly.add("dtend", datetime(2026, 10, 18, 7))
    weekly.add("rrule", {"freq": "weekly", "count": 3})
    cal.add_component(weekly)
    utc = icalendar.Event()
    utc.add("uid", "u1@planning")
    utc.add("dtstart", datetime(2026, 11, 2, 6, tzinfo=UTC))
    utc.add("duration", timedelta(hours=12))
    utc.add("attendee", "MAILTO:Lea@Ehpad.example")
    cal.add_component(utc)
    return cal.to_ical()


def test_an_icalendar_file_from_the_library() -> None:
    got = parse(_library_calendar(), PATTERNS, NOW)
    assert got.format == "ics" and got.problems == ()
    by_mail: dict[str, list[tuple[datetime, datetime]]] = {}
    for r in got.rows:
        by_mail.setdefault(r.email, []).append((r.starts_at, r.ends_at))
    (start, end), = by_mail["camille@ehpad.example"]
    assert end - start == timedelta(hours=13)
    weekly = by_mail["dr.martin@ehpad.example"]
    assert len(weekly) == 3
    assert [e - s for s, e in weekly] == [timedelta(hours=12), timedelta(hours=13), timedelta(hours=12)]
    assert all(s.astimezone(PARIS).hour == 19 for s, _ in weekly)  # wall clock kept across the change
    lea = [(datetime(2026, 11, 2, 6, tzinfo=UTC), datetime(2026, 11, 2, 18, tzinfo=UTC))]
    assert by_mail["lea@ehpad.example"] == lea
    kinds = {r.email: (r.kind, r.role, r.shift_id) for r in got.rows}
    assert kinds["camille@ehpad.example"] == (DutyKind.DUTY, "garde", NIGHT.id)
    assert kinds["dr.martin@ehpad.example"][0] is DutyKind.ON_CALL


RFC_TEXT = """BEGIN:VCALENDAR\r
PRODID:-//Example Corp.//CalDAV Client//EN\r
VERSION:2.0\r
BEGIN:VTIMEZONE\r
TZID:Europe/Paris\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
TZNAME:CEST\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
TZNAME:CET\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:20270327-nuit@example.com\r
DTSTAMP:20270301T120000Z\r
DTSTART;TZID=Europe/Paris:20270327T190000\r
DTEND;TZID=Europe/Paris:20270328T070000\r
SUMMARY:Nuit\r
ATTENDEE;CN=Camille Martin;ROLE=REQ-PARTICIPANT:mailto:camille@ehpad.exam\r
 ple\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:allday@example.com\r
DTSTAMP:20270301T120000Z\r
DTSTART;VALUE=DATE:20270401\r
SUMMARY:Congés paul@ehpad.example\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:nobody@example.com\r
DTSTAMP:20270301T120000Z\r
DTSTART:20270402T050000Z\r
DTEND:20270402T170000Z\r
SUMMARY:Jour\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_a_literal_rfc5545_text_with_its_timezone() -> None:
    now = datetime(2027, 3, 1, tzinfo=UTC)
    got = parse_ics(RFC_TEXT.encode(), PATTERNS, now)
    (night,) = got.rows
    assert night.email == "camille@ehpad.example"  # a folded line, unfolded
    assert night.ends_at - night.starts_at == timedelta(hours=11)  # the March change
    assert night.starts_at == datetime(2027, 3, 27, 18, tzinfo=UTC) and night.shift_id == NIGHT.id
    assert [(p.line, p.code) for p in got.problems] == [(30, "all_day"), (36, "no_person")]


def _vevents(n: int, extra: str = "") -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\nUID:{i}\r\nDTSTART:20261102T060000Z\r\nDTEND:20261102T180000Z\r\n"
                   f"ATTENDEE:mailto:a{i}@ehpad.example\r\n{extra}END:VEVENT\r\n" for i in range(n))
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n{body}END:VCALENDAR\r\n".encode()


@pytest.mark.parametrize(("data", "reason"), [
    (b"BEGIN:VCALENDAR\r\n" + b"X" * (1024 * 1024), "too_big"),
    (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART:garbage\r\nEND:VCALENDAR\r\n", "not_icalendar"),
    (b"BEGIN:VCALENDAR\r\n\xff\xfe\xfa\r\nEND:VCALENDAR\r\n", "not_icalendar"),
    (b"BEGIN:VCALENDAR\r\nX-LONG:" + b"a" * 5000 + b"\r\nEND:VCALENDAR\r\n", "line_too_long"),
    (b"BEGIN:VCALENDAR\r\nX-LONG:a\r\n" + b" " + b"a" * 3000 + b"\r\n" * 1 + (b" " + b"a" * 3000 + b"\r\n") * 8
     + b"END:VCALENDAR\r\n", "line_too_long"),
    (b"BEGIN:VCALENDAR\r\n" + b"BEGIN:VEVENT\r\n" * 50 + b"END:VEVENT\r\n" * 50 + b"END:VCALENDAR\r\n", "too_deep"),
    (_vevents(MAX_EVENTS + 1), "too_many_events"),
    (b"PK\x03\x04\x00\x00", "not_text"),
])
def test_hostile_icalendar_files_are_refused_whole(data: bytes, reason: str) -> None:
    with pytest.raises(RosterFileRejected) as refused:
        parse(data, PATTERNS, NOW)
    assert refused.value.reason == reason


@pytest.mark.parametrize(("extra", "code"), [
    ("RRULE:FREQ=DAILY;COUNT=5000000\r\n", "too_many_occurrences"),
    ("RRULE:FREQ=DAILY\r\n", "too_many_occurrences"),  # two years of days, more than allowed
    ("RRULE:FREQ=SECONDLY;COUNT=2\r\n", "rrule_unsupported"),
    ("RRULE:FREQ=DAILY;BYHOUR=1,2,3\r\n", "rrule_unsupported"),
    ("RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\r\n", "rrule_unsupported"),  # never: would run to year 9999
    ("RRULE:FREQ=MONTHLY;BYDAY=6MO\r\n", "rrule_unsupported"),
    ("RRULE:FREQ=DAILY;INTERVAL=100000000\r\n", "rrule_unsupported"),
    ("STATUS:CANCELLED\r\n", "event_cancelled"),
    ("".join(f"ATTENDEE:mailto:p{i}@ehpad.example\r\n" for i in range(5000)) + "RRULE:FREQ=DAILY;COUNT=400\r\n",
     "too_many_attendees"),  # 5,000 people × 400 days would be two million rows
])
def test_hostile_recurrences_are_reported_for_their_event(extra: str, code: str) -> None:
    got = parse(_vevents(1, extra), PATTERNS, NOW)
    assert got.rows == () and [(p.line, p.code) for p in got.problems] == [(4, code)]


def test_a_weekly_rule_with_its_days_and_an_until() -> None:
    got = parse(_vevents(1, "RRULE:FREQ=WEEKLY;BYDAY=MO,TU;UNTIL=20261110T235959Z\r\n"), PATTERNS, NOW)
    assert got.problems == ()
    assert [r.starts_at.astimezone(PARIS).day for r in got.rows] == [2, 3, 9, 10]


def test_far_dates_are_reported() -> None:
    data = _vevents(1).replace(b"20261102T060000Z", b"99991102T060000Z").replace(b"20261102T180000Z",
                                                                                 b"99991102T180000Z")
    got = parse(data, PATTERNS, NOW)
    assert [p.code for p in got.problems] == ["period_too_far"]


_PIECES = st.sampled_from([
    "BEGIN:VCALENDAR", "END:VCALENDAR", "BEGIN:VEVENT", "END:VEVENT", "BEGIN:VALARM", "END:VALARM",
    "DTSTART:20261102T060000Z", "DTEND:20261102T180000Z", "DTSTART;TZID=Europe/Paris:20261024T190000",
    "DTSTART;VALUE=DATE:20261024", "DTEND;TZID=Nowhere/Else:20261025T070000", "DURATION:PT12H", "DURATION:P99999D",
    "ATTENDEE:mailto:a@b.example", "ATTENDEE:mailto:", "SUMMARY:Nuit @garde", "RRULE:FREQ=WEEKLY;COUNT=3",
    "RRULE:FREQ=DAILY;UNTIL=20261110T000000Z", "RRULE:FREQ=YEARLY;BYDAY=MO", "RRULE:garbage", "EXDATE:20261103T060000Z",
    "STATUS:CANCELLED", "CATEGORIES:astreinte", " folded", "X-WEIRD;A=\"b:c\":d", ":", ";;;", "DTSTART:2026",
])


@given(st.lists(_PIECES, max_size=40))
def test_any_icalendar_like_text_is_read_or_refused_never_crashes(pieces: list[str]) -> None:
    data = ("BEGIN:VCALENDAR\r\n" + "\r\n".join(pieces) + "\r\nEND:VCALENDAR\r\n").encode()
    try:
        got = parse(data, PATTERNS, NOW)
    except RosterFileRejected:
        return
    for r in got.rows:
        assert r.starts_at.tzinfo is not None and r.starts_at < r.ends_at


@given(st.binary(max_size=2000))
def test_any_bytes_are_read_or_refused_never_crash(data: bytes) -> None:
    try:
        parse(data, PATTERNS, NOW)
    except RosterFileRejected:
        pass


OUTLOOK = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:Microsoft Exchange Server 2010\r
BEGIN:VTIMEZONE\r
TZID:Romance Standard Time\r
BEGIN:STANDARD\r
DTSTART:16010101T030000\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:16010101T020000\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r
END:DAYLIGHT\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:1\r
DTSTART;TZID=Romance Standard Time:20261024T190000\r
DTEND;TZID=Romance Standard Time:20261025T070000\r
ATTENDEE;CN=Camille:mailto:camille@ehpad.example\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_a_zone_the_file_describes_itself_as_outlook_writes_it() -> None:
    (night,) = parse_ics(OUTLOOK.encode(), PATTERNS, NOW).rows
    assert night.starts_at == datetime(2026, 10, 24, 17, tzinfo=UTC)
    assert night.ends_at - night.starts_at == timedelta(hours=13) and night.shift_id == NIGHT.id

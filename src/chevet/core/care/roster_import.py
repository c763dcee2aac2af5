"""Reading a roster file, sans I/O: a CSV file as a spreadsheet writes it, or an iCalendar file
(RFC 5545) as a planning tool exports it, parsed with the ``icalendar`` library.

Bytes in, a typed list of assignments to make and per-line problems out. The whole file is
refused (`RosterFileRejected`) when it cannot be read at all or is out of bounds (too big, not
iCalendar, lines too long, components nested too deep, too many events or rows); every other
problem is reported for its line (its event's first line in an iCalendar file) and that line
alone is left out. Matching e-mails to people and role addresses to the organisation's is the
application's job.

Times: CSV columns are Europe/Paris wall-clock times; an iCalendar time is taken as written
(TZID Europe/Paris or another zone, UTC), a floating time as Europe/Paris. A recurrence (RRULE)
is expanded in wall-clock time, daily at most, within the window of `roster.PAST_LIMIT` and
`roster.FUTURE_LIMIT` around now and to at most `MAX_OCCURRENCES` occurrences.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chevet.core.blind_index import fold
from chevet.core.care.roster import (
    FUTURE_LIMIT,
    MAX_PERIOD,
    PARIS,
    PAST_LIMIT,
    DutyKind,
    ShiftPattern,
    fold_address,
    local_instant,
    parse_clock,
    role_mentions,
)
from chevet.core.errors import InvalidInput
from chevet.core.spreadsheet import is_formula
from chevet.core.staff_file import EMAIL, StaffFileRejected, decode

MAX_BYTES = 1024 * 1024
MAX_ROWS = 3000  # assignments one file may make
MAX_EVENTS = 2000
MAX_LINE = 4000  # characters in one physical line
MAX_PROPERTY = 16_000  # characters in one unfolded property
MAX_DEPTH = 3  # VCALENDAR > VEVENT > VALARM
MAX_COMPONENTS = 6000
MAX_OCCURRENCES = 400  # of one recurring event
MAX_RANK = 9
MAX_ATTENDEES = 20  # people on one event


class RosterFileRejected(StaffFileRejected):
    """The whole roster file is refused; ``reason`` is a stable key, ``detail`` a value for the message."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    code: str
    value: str = ""


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One assignment the file asks for (a person by e-mail, a role address by slug)."""

    line: int
    email: str
    kind: DutyKind
    starts_at: datetime
    ends_at: datetime
    shift_id: uuid.UUID | None
    role: str | None
    rank: int


@dataclass(frozen=True, slots=True)
class RosterFile:
    rows: tuple[RosterRow, ...]
    problems: tuple[RowProblem, ...]
    format: str  # "csv" or "ics"


def _fold(value: str) -> str:
    """A header, shift name or summary word to compare: no case, no accents, separators as spaces."""
    bare = fold(value.strip())
    return re.sub(r"[\s_.'-]+", " ", bare).strip()


def is_icalendar(data: bytes) -> bool:
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n").upper()
    return head.startswith(b"BEGIN:VCALENDAR")


def parse(data: bytes, patterns: list[ShiftPattern], now: datetime) -> RosterFile:
    """Either format, told apart by the content (never by the file's name)."""
    if len(data) > MAX_BYTES:
        raise RosterFileRejected("too_big", str(MAX_BYTES // 1024))
    if b"\x00" in data:
        raise RosterFileRejected("not_text")
    return parse_ics(data, patterns, now) if is_icalendar(data) else parse_csv(data, patterns, now)


def _kind(value: str) -> DutyKind | None:
    folded = _fold(value)
    if folded in ("", "service", "de service", "presence", "poste", "travail", "duty", "on duty", "garde"):
        return DutyKind.DUTY
    if folded in ("astreinte", "d astreinte", "on call", "on_call", "oncall"):
        return DutyKind.ON_CALL
    return None


def _check(row_line: int, starts: datetime, ends: datetime, now: datetime) -> RowProblem | None:
    if ends <= starts:
        return RowProblem(row_line, "period_invalid")
    if ends - starts > MAX_PERIOD:
        return RowProblem(row_line, "period_too_long", str(MAX_PERIOD.days))
    if starts < now - PAST_LIMIT or ends > now + FUTURE_LIMIT:
        return RowProblem(row_line, "period_too_far", starts.astimezone(PARIS).strftime("%d/%m/%Y"))
    return None


# --- CSV -------------------------------------------------------------------------------------

_COLUMNS: dict[str, tuple[str, ...]] = {
    "email": ("e mail", "email", "mail", "courriel", "adresse e mail", "adresse mail"),
    "date": ("date", "jour", "date de debut", "day"),
    "end_date": ("date de fin", "end date", "jusqu au"),
    "shift": ("poste", "creneau", "vacation", "shift"),
    "start": ("debut", "heure de debut", "start", "de"),
    "end": ("fin", "heure de fin", "end", "a"),
    "kind": ("type", "nature", "kind"),
    "role": ("role", "adresse de role", "adresse", "role address"),
    "rank": ("ordre", "rang", "rank"),
}
_HEADER = {alias: key for key, aliases in _COLUMNS.items() for alias in aliases}
_DATE_FR = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_date(value: str) -> date:
    """``"24/10/2026"`` or ``"2026-10-24"``."""
    value = value.strip()
    m = _DATE_FR.match(value)
    try:
        if m:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        m = _DATE_ISO.match(value)
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        pass
    raise InvalidInput("roster_date_invalid")


def _separator(header_line: str) -> str:
    counts = {sep: header_line.count(sep) for sep in (";", ",", "\t")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ";"


def parse_csv(data: bytes, patterns: list[ShiftPattern], now: datetime) -> RosterFile:
    if len(data) > MAX_BYTES:
        raise RosterFileRejected("too_big", str(MAX_BYTES // 1024))
    text, _encoding = decode(data)
    lines = text.splitlines()
    if any(len(line) > MAX_LINE for line in lines):
        raise RosterFileRejected("line_too_long", str(MAX_LINE))
    non_blank = [ln for ln in lines if ln.strip()]
    if not non_blank:
        raise RosterFileRejected("empty")
    if len(non_blank) - 1 > MAX_ROWS:
        raise RosterFileRejected("too_many_rows", str(MAX_ROWS))
    sep = _separator(non_blank[0])
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=False))
    except csv.Error as exc:
        raise RosterFileRejected("unreadable") from exc
    header_index = next((i for i, r in enumerate(records) if any(c.strip() for c in r)), 0)
    header = [_HEADER.get(_fold(c)) for c in records[header_index]]
    missing = [k for k in ("email", "date") if k not in header]
    if missing or not ({"shift", "start"} & set(header)):
        raise RosterFileRejected("missing_columns")
    shifts = {_fold(p.name): p for p in patterns}
    rows: list[RosterRow] = []
    problems: list[RowProblem] = []
    seen: dict[tuple[str, DutyKind, datetime, datetime], int] = {}
    line = header_index + 1
    for record in records[header_index + 1:]:
        line += 1
        if not any(c.strip() for c in record):
            continue
        cells: dict[str, str] = {}
        for key, cell in zip(header, record, strict=False):
            if key is not None and key not in cells:
                cells[key] = cell.strip()
        found = _csv_row(line, cells, shifts, now)
        if isinstance(found, RowProblem):
            problems.append(found)
            continue
        twin = (found.email, found.kind, found.starts_at, found.ends_at)
        if twin in seen:
            problems.append(RowProblem(line, "duplicate_in_file", str(seen[twin])))
            continue
        seen[twin] = line
        rows.append(found)
    return RosterFile(tuple(rows), tuple(problems), "csv")


def _csv_row(line: int, cells: dict[str, str], shifts: dict[str, ShiftPattern],
             now: datetime) -> RosterRow | RowProblem:
    for column, value in cells.items():
        if is_formula(value) and not (column == "role" and re.fullmatch(r"@[\w-]{1,60}", value)):
            return RowProblem(line, "formula", value[:60])
        if len(value) > 200:
            return RowProblem(line, "too_long")
    email = cells.get("email", "").lower()
    if not EMAIL.fullmatch(email) or len(email) > 254:
        return RowProblem(line, "invalid_email", cells.get("email", "")[:60])
    try:
        day = parse_date(cells.get("date", ""))
    except InvalidInput:
        return RowProblem(line, "date_invalid", cells.get("date", "")[:30])
    kind = _kind(cells.get("kind", ""))
    if kind is None:
        return RowProblem(line, "unknown_kind", cells.get("kind", "")[:30])
    rank_text = cells.get("rank", "") or "1"
    if not rank_text.isdigit() or not 1 <= int(rank_text) <= MAX_RANK:
        return RowProblem(line, "rank_invalid", rank_text[:10])
    role = fold_address(cells.get("role", "")) or None
    shift_name = cells.get("shift", "")
    pattern = shifts.get(_fold(shift_name)) if shift_name else None
    if shift_name and pattern is None and not cells.get("start"):
        return RowProblem(line, "unknown_shift", shift_name[:40])
    if cells.get("start") or cells.get("end"):
        try:
            start, end = parse_clock(cells.get("start", "")), parse_clock(cells.get("end", ""))
            end_day = parse_date(cells["end_date"]) if cells.get("end_date") else (
                day + timedelta(days=1) if end <= start else day)
        except InvalidInput as exc:
            return RowProblem(line, "time_invalid" if exc.code == "shift_time_invalid" else "date_invalid")
        starts_at, ends_at, shift_id = local_instant(day, start), local_instant(end_day, end), None
        if pattern is not None and (occ := pattern.occurrence(day)).starts_at == starts_at and occ.ends_at == ends_at:
            shift_id = pattern.id
    elif pattern is not None:
        occ = pattern.occurrence(day)
        starts_at, ends_at, shift_id = occ.starts_at, occ.ends_at, pattern.id
    else:
        return RowProblem(line, "missing_times")
    if (problem := _check(line, starts_at, ends_at, now)) is not None:
        return problem
    return RosterRow(line, email, kind, starts_at, ends_at, shift_id, role, int(rank_text))


# --- iCalendar ---------------------------------------------------------------------------------

_ALLOWED_FREQ = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
# Rule parts a roster needs. Others (BYMONTHDAY, BYSETPOS, BYHOUR...) are refused: a rule no
# date satisfies (every 30 February) would send the expansion through every year to 9999.
_ALLOWED_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "WKST"}
_PLAIN_DAYS = {"MO", "TU", "WE", "TH", "FR", "SA", "SU"}
MAX_INTERVAL = 366


def _prescan(text: str) -> list[int]:
    """Bounds checked on the raw text before any parser sees it (line lengths, nesting, counts,
    every BEGIN closed by its END); the first line of each VEVENT."""
    stack: list[str] = []
    components = 0
    event_lines: list[int] = []
    unfolded = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if len(line) > MAX_LINE:
            raise RosterFileRejected("line_too_long", str(MAX_LINE))
        unfolded = unfolded + len(line) if line[:1] in (" ", "\t") else len(line)
        if unfolded > MAX_PROPERTY:
            raise RosterFileRejected("line_too_long", str(MAX_LINE))
        upper = line.strip().upper()
        if upper.startswith("BEGIN:"):
            stack.append(upper[6:])
            components += 1
            if len(stack) > MAX_DEPTH:
                raise RosterFileRejected("too_deep")
            if components > MAX_COMPONENTS:
                raise RosterFileRejected("too_many_events", str(MAX_EVENTS))
            if upper == "BEGIN:VEVENT":
                event_lines.append(number)
                if len(event_lines) > MAX_EVENTS:
                    raise RosterFileRejected("too_many_events", str(MAX_EVENTS))
        elif upper.startswith("END:"):
            if not stack or stack.pop() != upper[4:]:
                raise RosterFileRejected("not_icalendar")
    if stack:
        raise RosterFileRejected("not_icalendar")
    return event_lines


def parse_ics(data: bytes, patterns: list[ShiftPattern], now: datetime) -> RosterFile:
    if len(data) > MAX_BYTES:
        raise RosterFileRejected("too_big", str(MAX_BYTES // 1024))
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RosterFileRejected("not_icalendar") from exc
    if not is_icalendar(data):
        raise RosterFileRejected("not_icalendar")
    event_lines = _prescan(text)
    from icalendar import Calendar

    try:
        calendars = Calendar.from_ical(text, multiple=True)
        events = [c for cal in calendars for c in cal.walk("VEVENT")]
    except Exception as exc:  # the library raises ValueError, KeyError, TypeError... on bad input
        raise RosterFileRejected("not_icalendar") from exc
    rows: list[RosterRow] = []
    problems: list[RowProblem] = []
    seen: set[tuple[str, DutyKind, datetime, datetime]] = set()
    for index, event in enumerate(events):
        line = event_lines[index] if index < len(event_lines) else 0
        try:
            made = _event_rows(line, event, patterns, now)
        except Exception:  # one unreadable event (a bad date, an odd property) is its own problem
            made = [RowProblem(line, "event_unreadable")]
        for item in made:
            if isinstance(item, RowProblem):
                problems.append(item)
                continue
            key = (item.email, item.kind, item.starts_at, item.ends_at)
            if key in seen:
                continue
            seen.add(key)
            rows.append(item)
            if len(rows) > MAX_ROWS:
                raise RosterFileRejected("too_many_rows", str(MAX_ROWS))
    return RosterFile(tuple(rows), tuple(problems), "ics")


def _instant(value: Any) -> datetime | None:
    """An aware UTC instant of a DATE-TIME; floating is Europe/Paris; a DATE is None."""
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=PARIS)
    instant: datetime = value.astimezone(UTC)
    return instant


def _emails(event: Any) -> list[str]:
    attendees = event.get("ATTENDEE")
    if attendees is None:
        attendees = []
    elif not isinstance(attendees, list):
        attendees = [attendees]
    found: list[str] = []
    for a in attendees:
        value = str(a).strip()
        if value.lower().startswith("mailto:"):
            found.append(value[7:].strip().lower())
    if not found:
        found = [m.lower() for m in EMAIL.findall(str(event.get("SUMMARY") or ""))]
    return list(dict.fromkeys(found))


def _event_rows(line: int, event: Any, patterns: list[ShiftPattern], now: datetime) -> list[RosterRow | RowProblem]:
    if str(event.get("STATUS") or "").upper() == "CANCELLED":
        return [RowProblem(line, "event_cancelled")]
    start_prop, end_prop = event.get("DTSTART"), event.get("DTEND")
    if start_prop is None:
        return [RowProblem(line, "missing_start")]
    raw_start = start_prop.dt
    starts_at = _instant(raw_start)
    if starts_at is None:
        return [RowProblem(line, "all_day")]
    if end_prop is not None:
        raw_end = end_prop.dt
        ends_at = _instant(raw_end)
        if ends_at is None:
            return [RowProblem(line, "all_day")]
    elif event.get("DURATION") is not None:
        duration = event.get("DURATION").dt
        if not isinstance(duration, timedelta):
            return [RowProblem(line, "missing_end")]
        raw_end = raw_start + duration
        ends_at = starts_at + duration
    else:
        return [RowProblem(line, "missing_end")]
    if (problem := _check(line, starts_at, ends_at, now)) is not None:
        return [problem]
    emails = _emails(event)
    if not emails:
        return [RowProblem(line, "no_person")]
    if len(emails) > MAX_ATTENDEES:
        return [RowProblem(line, "too_many_attendees", str(MAX_ATTENDEES))]
    bad = next((e for e in emails if not EMAIL.fullmatch(e) or len(e) > 254), None)
    if bad is not None:
        return [RowProblem(line, "invalid_email", bad[:60])]
    summary = str(event.get("SUMMARY") or "")[:200]
    categories = event.get("CATEGORIES")
    words = summary + " " + (" ".join(str(c) for c in categories.cats) if hasattr(categories, "cats") else "")
    kind = DutyKind.ON_CALL if "astreinte" in _fold(words) or "on call" in _fold(words) else DutyKind.DUTY
    named = sorted(role_mentions(summary))
    role = named[0] if named else None
    periods = [(starts_at, ends_at)]
    if event.get("RRULE") is not None:
        expanded = _expand(line, event, raw_start, raw_end, now)
        if isinstance(expanded, RowProblem):
            return [expanded]
        periods = expanded
    out: list[RosterRow | RowProblem] = []
    for s, e in periods:
        if (problem := _check(line, s, e, now)) is not None:
            out.append(problem)
            continue
        shift_id = next((p.id for p in patterns if (o := p.occurrence(s.astimezone(PARIS).date())).starts_at == s
                         and o.ends_at == e), None)
        out.extend(RosterRow(line, email, kind, s, e, shift_id, role, 1) for email in emails)
    return out


def _expand(line: int, event: Any, raw_start: datetime, raw_end: datetime,
            now: datetime) -> list[tuple[datetime, datetime]] | RowProblem:
    """The occurrences of a recurring event, in the wall-clock time of its zone (Europe/Paris
    for a floating one), so that a weekly 19:00 shift stays at 19:00 across the clock changes."""
    from dateutil.rrule import rrulestr  # type: ignore[import-untyped]

    rule = event.get("RRULE")
    freq = [str(f).upper() for f in rule.get("FREQ", [])]
    interval = rule.get("INTERVAL") or [1]
    days = {str(d).upper() for d in rule.get("BYDAY") or []}
    if (len(freq) != 1 or freq[0] not in _ALLOWED_FREQ or {k.upper() for k in rule} - _ALLOWED_PARTS
            or not days <= _PLAIN_DAYS or not all(isinstance(i, int) and 1 <= i <= MAX_INTERVAL for i in interval)):
        return RowProblem(line, "rrule_unsupported")
    zone = raw_start.tzinfo if raw_start.tzinfo is not None else PARIS
    local_start = raw_start.astimezone(zone).replace(tzinfo=None) if raw_start.tzinfo else raw_start
    local_end = (raw_end.astimezone(zone).replace(tzinfo=None) if raw_end.tzinfo else raw_end)
    wall = local_end - local_start
    count = rule.get("COUNT")
    until = rule.get("UNTIL")
    parts = {k: v for k, v in rule.items() if k.upper() not in ("COUNT", "UNTIL")}
    text = type(rule)(parts).to_ical().decode()
    window_end = (now + FUTURE_LIMIT).astimezone(zone).replace(tzinfo=None)
    limit = window_end
    if until:
        u = until[0]
        u_dt = datetime.combine(u, datetime.max.time()) if not isinstance(u, datetime) else (
            u.astimezone(zone).replace(tzinfo=None) if u.tzinfo else u)
        limit = min(limit, u_dt)
    recurrence = rrulestr(text, dtstart=local_start).replace(until=limit, count=None)
    wanted = int(count[0]) if count else None
    if wanted is not None and wanted > MAX_OCCURRENCES:
        return RowProblem(line, "too_many_occurrences", str(MAX_OCCURRENCES))
    excluded = _exdates(event, zone)
    take = (wanted if wanted is not None else MAX_OCCURRENCES + 1)
    stream: Iterator[datetime] = itertools.islice(iter(recurrence), take)
    occurrences = [o for o in stream if o not in excluded]
    if wanted is None and len(occurrences) > MAX_OCCURRENCES:
        return RowProblem(line, "too_many_occurrences", str(MAX_OCCURRENCES))
    out = []
    for o in occurrences:
        s = o.replace(tzinfo=zone).astimezone(UTC)
        e = (o + wall).replace(tzinfo=zone).astimezone(UTC)
        out.append((s, e))
    return out


def _exdates(event: Any, zone: Any) -> set[datetime]:
    found: set[datetime] = set()
    values = event.get("EXDATE")
    if values is None:
        return found
    for group in values if isinstance(values, list) else [values]:
        for d in getattr(group, "dts", []):
            value = d.dt
            if isinstance(value, datetime):
                found.add(value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value)
    return found

"""Reading a staff CSV file as a spreadsheet writes it, sans I/O.

The file is bytes in, a typed list of rows and per-line problems out. Nothing here touches the
database: checking against people who already exist is the application's job, which passes the
e-mail addresses it knows. The only exception this module raises is `StaffFileRejected`, for a file
that cannot be read at all (too big, too many lines, no recognisable header); every line-level
problem is a `LineProblem` in the report.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from chevet.core.roles import Role
from chevet.core.spreadsheet import is_formula

MAX_BYTES = 5 * 1024 * 1024
MAX_LINES = 20_000

EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")  # an address, in a cell or in text


class StaffFileRejected(Exception):
    """The whole file is refused; `reason` is a stable key, `detail` a value for the message.
    (Roster files are refused the same way: ``core/care/roster_import.RosterFileRejected``.)"""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def _fold(value: str) -> str:
    """Lower case, no accents, no inclusive-writing dots or separators: 'Infirmier·e' -> 'infirmiere'."""
    decomposed = unicodedata.normalize("NFKD", value.strip().lower())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    bare = re.sub(r"[·.•()/]", "", bare)
    return re.sub(r"[\s_-]+", " ", bare).strip()


_COLUMNS: dict[str, tuple[str, ...]] = {
    "last_name": ("nom", "nom de famille", "last name", "lastname", "surname", "family name"),
    "first_name": ("prenom", "first name", "firstname", "given name"),
    "email": ("e mail", "email", "mail", "courriel", "adresse e mail", "adresse mail"),
    "role": ("role", "fonction", "profession"),
    "teams": ("equipes", "equipe", "teams", "team", "services", "service"),
    "rpps": ("rpps", "n rpps", "numero rpps", "rpps number"),
}
_HEADER = {alias: key for key, aliases in _COLUMNS.items() for alias in aliases}

_ROLE_NAMES: dict[str, Role] = {}
for _role, _names in {
    Role.ADMIN: ("admin", "administrateur", "administratrice", "administrateurrice", "administrator"),
    Role.DPO: ("dpo", "delegue a la protection des donnees", "deleguee a la protection des donnees"),
    Role.DIRECTOR: ("director", "directeur", "directrice", "directeurrice", "direction"),
    Role.MANAGER: ("manager", "cadre", "cadre de sante", "encadrant", "encadrante", "encadrante",
                   "responsable", "ide coordinateur", "ide coordinatrice", "ide coordinateurrice"),
    Role.PHYSICIAN: ("physician", "doctor", "medecin", "medecin coordonnateur", "medecin traitant"),
    Role.NURSE: ("nurse", "infirmier", "infirmiere", "infirmiere", "ide", "infirmiers"),
    Role.CARE_ASSISTANT: ("care assistant", "care_assistant", "aide soignant", "aide soignante",
                          "aide soignante", "as", "aes", "auxiliaire de vie", "aide a domicile"),
    Role.SOCIAL_WORKER: ("social worker", "social_worker", "assistant social", "assistante sociale",
                         "assistante sociale", "travailleur social", "travailleuse sociale"),
    Role.EXTERNAL: ("external", "externe", "intervenant exterieur", "intervenante exterieure"),
}.items():
    for _name in _names:
        _ROLE_NAMES[_fold(_name)] = _role


def role_from_name(name: str) -> Role | None:
    """The role a French or English name denotes, or None: 'Infirmier·e', 'infirmière', 'nurse'."""
    folded = _fold(name)
    return _ROLE_NAMES.get(folded) or _ROLE_NAMES.get(folded.replace(" ", ""))


@dataclass(frozen=True, slots=True)
class LineProblem:
    line: int
    code: str  # invalid_email, duplicate_in_file, missing_name, unknown_role, formula, too_long, bad_rpps
    value: str = ""


@dataclass(frozen=True, slots=True)
class StaffRow:
    line: int
    last_name: str
    first_name: str
    email: str
    role: Role
    teams: tuple[str, ...]
    rpps: str | None


@dataclass(frozen=True, slots=True)
class StaffFile:
    rows: tuple[StaffRow, ...]
    problems: tuple[LineProblem, ...]
    encoding: str
    separator: str
    columns: tuple[str, ...] = field(default=())


def decode(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM) first, else Windows-1252 as French Excel writes it."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = data.decode("cp1252", errors="replace")
    return text, "windows-1252"


def _separator(header_line: str) -> str:
    counts = {sep: header_line.count(sep) for sep in (";", ",", "\t")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ";"


def _cell_problem(value: str) -> str | None:
    if is_formula(value):
        return "formula"
    if len(value) > 200:
        return "too_long"
    return None


def parse(data: bytes, *, known_emails: Iterable[str] = ()) -> StaffFile:
    """Read and validate every line; raises only `StaffFileRejected`."""
    if len(data) > MAX_BYTES:
        raise StaffFileRejected("too_big", str(MAX_BYTES))
    if b"\x00" in data:
        raise StaffFileRejected("not_text")
    text, encoding = decode(data)
    lines = text.splitlines()
    non_blank = [ln for ln in lines if ln.strip()]
    if not non_blank:
        raise StaffFileRejected("empty")
    if len(non_blank) - 1 > MAX_LINES:
        raise StaffFileRejected("too_many_lines", str(MAX_LINES))
    sep = _separator(non_blank[0])
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=False))
    except csv.Error as exc:
        raise StaffFileRejected("unreadable") from exc
    header_index = next((i for i, r in enumerate(records) if any(c.strip() for c in r)), None)
    if header_index is None:
        raise StaffFileRejected("empty")
    header = [_HEADER.get(_fold(c)) for c in records[header_index]]
    missing = [k for k in ("last_name", "first_name", "email", "role") if k not in header]
    if missing:
        raise StaffFileRejected("missing_columns", ", ".join(missing))
    known = {e.strip().lower() for e in known_emails}
    seen: dict[str, int] = {}
    rows: list[StaffRow] = []
    problems: list[LineProblem] = []
    line_no = _line_numbers(text, sep)
    for index in range(header_index + 1, len(records)):
        record = records[index]
        if not any(c.strip() for c in record):
            continue
        line = line_no[index] if index < len(line_no) else index + 1
        cells: dict[str, str] = {}
        for key, cell in zip(header, record, strict=False):
            if key is not None and key not in cells:
                cells[key] = cell.strip()
        bad = next(((k, v) for k, v in cells.items() if _cell_problem(v)), None)
        if bad is not None:
            problems.append(LineProblem(line, _cell_problem(bad[1]) or "formula", bad[1][:60]))
            continue
        email = cells.get("email", "").lower()
        last, first = cells.get("last_name", ""), cells.get("first_name", "")
        if not last or not first:
            problems.append(LineProblem(line, "missing_name"))
            continue
        if not EMAIL.fullmatch(email) or len(email) > 254:
            problems.append(LineProblem(line, "invalid_email", cells.get("email", "")[:60]))
            continue
        role = role_from_name(cells.get("role", ""))
        if role is None:
            problems.append(LineProblem(line, "unknown_role", cells.get("role", "")[:60]))
            continue
        rpps = cells.get("rpps") or None
        if rpps is not None and not re.fullmatch(r"\d{11}", rpps):
            problems.append(LineProblem(line, "bad_rpps", rpps[:60]))
            continue
        if email in seen:
            problems.append(LineProblem(line, "duplicate_in_file", f"{email}|{seen[email]}"))
            continue
        seen[email] = line
        if email in known:
            problems.append(LineProblem(line, "already_present", email))
            continue
        teams = tuple(dict.fromkeys(t.strip() for t in re.split(r"[,|]", cells.get("teams", "")) if t.strip()))
        rows.append(StaffRow(line, last, first, email, role, teams, rpps))
    return StaffFile(tuple(rows), tuple(problems), encoding, sep,
                     tuple(k for k in header if k is not None))


def _line_numbers(text: str, sep: str) -> list[int]:
    """The physical line (1-based) each CSV record starts on, for quoted cells spanning lines."""
    starts: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=False)
    previous = 1
    try:
        for _ in reader:
            starts.append(previous)
            previous = reader.line_num + 1
    except csv.Error:
        return []
    return starts

"""The Annuaire Santé public extraction of MSSanté mailboxes, parsed and normalised.

The file is UTF-8, ``|``-separated, with one header line and 31 columns. Real files carry a
BOM, mixed line endings, empty fields, a trailing separator and repeated addresses; the parser
accepts those quirks, rejects a line it cannot trust (with a reason and its line number), and
never stores anything but a checked address and bounded, printable fields. Duplicates are
merged by address: the first occurrence wins, later ones only fill its empty fields.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields, replace
from functools import lru_cache

from chevet.core.errors import InvalidInput
from chevet.core.mssante.address import clean_address

COLUMNS = (
    "Type de BAL", "Adresse BAL", "Type Identifiant PP", "Identifiant PP", "Identification nationale PP",
    "Type identifiant structure", "Identification Structure", "Service de rattachement",
    "Civilité d'exercice", "Nom d'exercice", "Prénom d'exercice", "Catégorie profession",
    "Libellé de catégorie profession", "Code Profession", "Libellé Profession", "Code savoir-faire",
    "Libellé savoir-faire", "Dématérialisation", "Raison Sociale structure BAL",
    "Enseigne commerciale structure BAL", "L2COMPLEMENTLOCALISATION", "L3COMPLEMENTDISTRIBUTION",
    "L4NUMEROVOIE", "L4COMPLEMENTNUMEROVOIE", "NL4TYPEVOIE", "L4LIBELLEVOIE", "L5LIEUDITMENTION",
    "L6LIGNEACHEMINEMENT", "Code postal", "Département", "Pays",
)
MAILBOX_TYPES = ("PER", "ORG", "APP", "CAB")
MAX_FIELD = 200
MAX_LINE = 8192
_STOP = {"de", "du", "des", "la", "le", "les", "l", "d", "et", "a", "au", "aux", "en", "sur"}
_NON_WORD = re.compile(r"[^a-z0-9]+")
_POSTCODE_PREFIX = re.compile(r"^\d{5}\s+")   # L6 is "<code postal> <LOCALITÉ>"
# Control and invisible formatting characters (C0, DEL, C1, zero-width, bidi, BOM).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_LATIN = str.maketrans({c: unicodedata.normalize("NFKD", c)[0] for c in
                        "àáâãäåçèéêëìíîïñòóôõöùúûüýÿāăąćčďēėęěğīįıķĺľłńňōőŕřśşšţťūůűųźżž"})


class DirectoryFileError(InvalidInput):
    code = "directory_file_invalid"


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    address: str
    mailbox_type: str
    national_id: str = ""       # RPPS/ADELI-based "Identification nationale PP"
    structure_id: str = ""
    service: str = ""
    civility: str = ""
    last_name: str = ""
    first_name: str = ""
    category: str = ""
    profession: str = ""
    speciality: str = ""
    structure: str = ""
    trade_name: str = ""
    street: str = ""
    town: str = ""
    postcode: str = ""
    department: str = ""

    @property
    def display_name(self) -> str:
        person = " ".join(p for p in (self.civility, self.first_name, self.last_name) if p)
        return person or self.structure or self.trade_name or self.address

    def search_text(self) -> str:
        """Folded words a search matches by prefix: name, profession, structure, town, address."""
        found: list[str] = []
        for value in (self.last_name, self.first_name, self.profession, self.speciality, self.category,
                      self.structure, self.trade_name, self.service, self.town, self.postcode):
            if value:
                found.extend(_field_words(value))
        found.extend(w for w in fold(self.address).split() if w not in _STOP)
        return " ".join(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    reason: str


def fold(text: str) -> str:
    """Lower case, accents removed, anything else than letters and digits a space."""
    lowered = text.lower().translate(_LATIN).replace("œ", "oe").replace("æ", "ae")
    if not lowered.isascii():
        decomposed = unicodedata.normalize("NFKD", lowered)
        lowered = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", lowered).strip()


@lru_cache(maxsize=65536)
def _field_words(text: str) -> tuple[str, ...]:
    # Directory fields repeat a lot (professions, towns, structures, first names): fold once.
    return tuple(w[:40] for w in fold(text).split() if w not in _STOP)


def words(text: str) -> list[str]:
    return [w[:40] for w in fold(text).split() if w]


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Lines of a byte stream ending in LF, CRLF or a lone CR, across chunk boundaries."""
    pending = b""
    for chunk in chunks:
        data = pending + chunk
        # A CR at the very end may be the first half of a CRLF: keep it for the next chunk.
        keep_cr = data.endswith(b"\r")
        if keep_cr:
            data = data[:-1]
        parts = re.split(rb"\r\n|\r|\n", data)
        pending = parts.pop() + (b"\r" if keep_cr else b"")
        yield from parts
    if pending:
        tail = re.split(rb"\r\n|\r|\n", pending)
        if tail[-1] == b"":
            tail.pop()
        yield from tail


def _header_matches(cells: list[str]) -> bool:
    expected = [fold(c) for c in COLUMNS]
    got = [fold(c) for c in cells]
    if len(got) == len(expected) + 1 and not got[-1]:
        got = got[:-1]
    return got == expected


def parse(lines: Iterable[bytes]) -> Iterator[DirectoryEntry | Rejected]:
    """One entry or one rejection per non-empty data line. Raises ``DirectoryFileError`` when
    the header is not the extraction's."""
    header_seen = False
    for number, raw in enumerate(lines, 1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        if not header_seen:
            try:
                header = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DirectoryFileError("directory_header_invalid") from exc
            if not _header_matches(header.split("|")):
                raise DirectoryFileError("directory_header_invalid")
            header_seen = True
            continue
        yield parse_line(number, raw)
    if not header_seen:
        raise DirectoryFileError("directory_header_invalid")


def parse_line(number: int, raw: bytes) -> DirectoryEntry | Rejected:
    if len(raw) > MAX_LINE:
        return Rejected(number, "line_too_long")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Rejected(number, "not_utf8")
    cells = text.split("|")
    if len(cells) == len(COLUMNS) + 1 and not cells[-1].strip():
        cells = cells[:-1]
    if len(cells) != len(COLUMNS):
        return Rejected(number, "column_count")
    if _UNSAFE.search(text):
        return Rejected(number, "field_invalid")
    cleaned = [c.strip() for c in cells]
    if max(map(len, cleaned)) > MAX_FIELD:
        return Rejected(number, "field_invalid")
    if "  " in text or "\t" in text:
        cleaned = [" ".join(c.split()) for c in cleaned]
    mailbox_type = cleaned[0].upper()
    if mailbox_type not in MAILBOX_TYPES:
        return Rejected(number, "mailbox_type")
    try:
        address = clean_address(cleaned[1])
    except InvalidInput:
        return Rejected(number, "address")
    street = " ".join(p for p in (cleaned[22], cleaned[23], cleaned[24], cleaned[25]) if p)
    return DirectoryEntry(
        address=address, mailbox_type=mailbox_type, national_id=cleaned[4][:40], structure_id=cleaned[6][:40],
        service=cleaned[7], civility=cleaned[8], last_name=cleaned[9], first_name=cleaned[10],
        category=cleaned[12], profession=cleaned[14], speciality=cleaned[16], structure=cleaned[18],
        trade_name=cleaned[19], street=street[:MAX_FIELD], town=_POSTCODE_PREFIX.sub("", cleaned[27]),
        postcode=cleaned[28][:10],
        department=cleaned[29][:40])


def merge(first: DirectoryEntry, later: DirectoryEntry) -> DirectoryEntry:
    """Same address twice: keep the first, fill its gaps from the later one."""
    filled = {f.name: getattr(later, f.name) for f in fields(DirectoryEntry)
              if not getattr(first, f.name) and getattr(later, f.name)}
    return replace(first, **filled) if filled else first


def query_words(query: str, max_words: int = 6) -> list[str]:
    """The folded words of a search box, stop words dropped (unless that leaves nothing)."""
    found = words(query[:200])
    kept = [w for w in found if w not in _STOP] or found
    # One-letter words match too much to be useful, and are not in the prefix index.
    kept = [w for w in kept if len(w) > 1]
    return list(dict.fromkeys(kept))[:max_words]

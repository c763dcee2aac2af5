"""The Annuaire Santé extraction parser: tolerant of the real file's quirks, strict about what
it keeps."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chevet.core.mssante.delivery import PermanentMailError, RetryPolicy, TransientMailError, classify_reply
from chevet.core.mssante.directory import (
    COLUMNS,
    DirectoryEntry,
    DirectoryFileError,
    Rejected,
    fold,
    merge,
    parse,
    query_words,
    split_lines,
)
from tests.mss_directory_data import header, line

HEADER = header().encode()


def row(**overrides: str) -> bytes:
    import random

    cells = line(1, random.Random(1)).split("|")
    names = {"type": 0, "address": 1, "last": 9, "first": 10, "profession": 14, "town": 27}
    for k, v in overrides.items():
        cells[names[k]] = v
    return "|".join(cells).encode()


def test_header_bom_and_line_endings() -> None:
    data = b"\xef\xbb\xbf" + HEADER + b"\r\n" + row(address="a@x.mssante.fr") + b"\r" + row(address="b@x.mssante.fr") \
        + b"\n\n" + row(address="c@x.mssante.fr")
    found = list(parse(split_lines([data])))
    assert [e.address for e in found if isinstance(e, DirectoryEntry)] == ["a@x.mssante.fr", "b@x.mssante.fr",
                                                                           "c@x.mssante.fr"]


def test_the_header_must_be_the_extraction() -> None:
    with pytest.raises(DirectoryFileError):
        list(parse([b"nom|prenom|adresse", row()]))
    with pytest.raises(DirectoryFileError):
        list(parse([]))


BROKEN = [
    (row(address="pas-une-adresse"), "address"),
    (row(type="XXX"), "mailbox_type"),
    (b"PER|a@b.fr|only three", "column_count"),
    (row(last="DUPONT\x07"), "field_invalid"),
    (row(last="D" * 300), "field_invalid"),
    (row(last="DUP\u202eONT"), "field_invalid"),
    (b"PER|\xff\xfe@x.fr" + b"|" * 29, "not_utf8"),
    (b"x" * 10000, "line_too_long"),
]


@pytest.mark.parametrize("raw,reason", BROKEN)
def test_broken_lines_are_rejected_with_their_reason(raw: bytes, reason: str) -> None:
    (result,) = list(parse([HEADER, raw]))
    assert result == Rejected(2, reason)


def test_quirks_that_are_accepted() -> None:
    trailing = row(address="Dr.Martin@Medecin.MSSante.fr") + b"|"
    spaces = row(address="x@y.mssante.fr", last="  LE   GALL ")
    empty = row(address="z@y.mssante.fr", last="", first="", profession="")
    a, b, c = parse([HEADER, trailing, spaces, empty])
    assert isinstance(a, DirectoryEntry) and a.address == "dr.martin@medecin.mssante.fr"
    assert isinstance(b, DirectoryEntry) and b.last_name == "LE GALL"
    assert isinstance(c, DirectoryEntry) and c.last_name == "" and c.mailbox_type == "PER"
    assert len(COLUMNS) == 31


def test_duplicates_merge_into_the_first() -> None:
    first = DirectoryEntry("a@x.fr", "PER", last_name="MARTIN", town="")
    later = DirectoryEntry("a@x.fr", "ORG", last_name="DURAND", town="BREST")
    merged = merge(first, later)
    assert (merged.mailbox_type, merged.last_name, merged.town) == ("PER", "MARTIN", "BREST")


def test_search_words_are_folded() -> None:
    e = DirectoryEntry("helene.lefevre@chu-brest.mssante.fr", "PER", last_name="LEFÈVRE", first_name="Hélène",
                       profession="Médecin", speciality="Gériatrie", structure="CHU de Brest", town="BREST")
    words = e.search_text().split()
    for w in ("lefevre", "helene", "medecin", "geriatrie", "chu", "brest"):
        assert w in words
    assert "de" not in words
    assert query_words("Hélène  LEFÈVRE, gériatrie") == ["helene", "lefevre", "geriatrie"]
    assert query_words("a") == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([b"ab", b"c", b"\r", b"\n", b"\r\n", b"|", b"\xc3\xa9"]), max_size=60),
       st.integers(min_value=1, max_value=7))
def test_line_splitting_does_not_depend_on_chunking(pieces: list[bytes], size: int) -> None:
    data = b"".join(pieces)
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    assert list(split_lines(chunks)) == list(split_lines([data]))
    import re

    expected = re.split(rb"\r\n|\r|\n", data)
    if expected and expected[-1] == b"":
        expected.pop()
    assert list(split_lines([data])) == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_line_is_an_entry_or_a_rejection(raw: bytes) -> None:
    (result,) = list(parse([HEADER, raw + b"x"]))
    if isinstance(result, DirectoryEntry):
        assert "@" in result.address and result.mailbox_type in ("PER", "ORG", "APP", "CAB")
        assert all(len(getattr(result, f)) <= 200 for f in DirectoryEntry.__dataclass_fields__)
    else:
        assert result.reason


@given(st.text(max_size=80))
def test_folding_is_stable(text: str) -> None:
    once = fold(text)
    assert fold(once) == once
    assert once == once.lower() and all(c.isascii() for c in once)


def test_an_operator_down_for_an_hour_is_not_a_dead_letter() -> None:
    from datetime import UTC, datetime, timedelta

    policy = RetryPolicy()
    created = datetime(2026, 1, 1, tzinfo=UTC)
    waited, attempts = timedelta(0), 0
    while waited < timedelta(hours=1):
        attempts += 1
        waited += policy.delay(attempts)
        assert not policy.gives_up(created, created + waited)
    assert attempts <= 8 and policy.delay(attempts) <= timedelta(hours=1)
    assert policy.gives_up(created, created + timedelta(days=3))
    assert isinstance(classify_reply(451), TransientMailError)
    assert isinstance(classify_reply(550), PermanentMailError)
    assert isinstance(classify_reply(535), TransientMailError)

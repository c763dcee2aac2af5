"""The staff CSV as a spreadsheet writes it: encodings, separators, headers, line-level problems."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chevet.core.roles import Role
from chevet.core.staff_file import MAX_BYTES, StaffFileRejected, parse, role_from_name

HEADER_FR = "nom;prénom;e-mail;rôle;équipes;rpps\r\n"


def test_french_excel_file_in_windows_1252_is_read() -> None:
    data = (HEADER_FR + "Lefèvre;Hélène;helene@ehpad.fr;Infirmière;Nuit;\r\n").encode("cp1252")
    result = parse(data)
    assert result.encoding == "windows-1252"
    assert result.rows[0].last_name == "Lefèvre"
    assert result.rows[0].role is Role.NURSE
    assert result.rows[0].teams == ("Nuit",)


def test_utf8_with_bom_and_comma_separator_and_english_header() -> None:
    data = "\ufefflast name,first name,email,role,teams\n" \
           'Martin,Paul,paul@x.fr,nurse,"Jour, Nuit"\n'
    result = parse(data.encode("utf-8"))
    assert result.separator == ","
    assert result.rows[0].teams == ("Jour", "Nuit")
    assert result.rows[0].email == "paul@x.fr"


@pytest.mark.parametrize("name, role", [("infirmière", Role.NURSE), ("Infirmier·e", Role.NURSE),
                                        ("nurse", Role.NURSE), ("Aide-soignante", Role.CARE_ASSISTANT),
                                        ("Médecin", Role.PHYSICIAN), ("Directeur·rice", Role.DIRECTOR)])
def test_roles_from_french_or_english_names(name: str, role: Role) -> None:
    assert role_from_name(name) is role


def test_every_bad_line_is_reported_with_its_line_number_and_good_lines_kept() -> None:
    data = (HEADER_FR
            + "A;B;a@x.fr;nurse;;\r\n"
            + "C;D;x@;nurse;;\r\n"
            + "E;F;a@x.fr;nurse;;\r\n"
            + "G;H;g@x.fr;plombier;;\r\n"
            + "=HYPERLINK(1);I;i@x.fr;nurse;;\r\n"
            + "J;K;known@x.fr;nurse;;\r\n").encode()
    result = parse(data, known_emails=["KNOWN@x.fr"])
    assert [r.line for r in result.rows] == [2]
    assert [(p.line, p.code) for p in result.problems] == [
        (3, "invalid_email"), (4, "duplicate_in_file"), (5, "unknown_role"), (6, "formula"),
        (7, "already_present")]


def test_quoted_cell_over_two_lines_keeps_later_line_numbers_true() -> None:
    data = (HEADER_FR + 'A;"B\nb";a@x.fr;nurse;;\n' + "C;D;x@;nurse;;\n").encode()
    assert parse(data).problems[0].line == 4


def test_oversized_file_and_missing_columns_are_refused_whole() -> None:
    with pytest.raises(StaffFileRejected) as too_big:
        parse(b"a" * (MAX_BYTES + 1))
    assert too_big.value.reason == "too_big"
    with pytest.raises(StaffFileRejected) as missing:
        parse(b"nom;prenom\nA;B\n")
    assert missing.value.reason == "missing_columns"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_a_report_or_the_typed_refusal(data: bytes) -> None:
    try:
        parse(data)
    except StaffFileRejected:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=0, max_size=8), st.sampled_from([";", ","]))
def test_any_text_after_a_valid_header_never_raises(cells: list[str], sep: str) -> None:
    text = sep.join(["nom", "prénom", "e-mail", "rôle"]) + "\n" + sep.join(cells) + "\n"
    for encoding in ("utf-8", "utf-8-sig", "cp1252"):
        try:
            parse(text.encode(encoding, errors="replace"))
        except StaffFileRejected:
            pass

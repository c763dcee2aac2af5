"""Exports opened in a spreadsheet never run a cell as a formula."""

import pytest

from chevet.core.spreadsheet import safe_cell


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_a_formula_stays_text(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["Équipe de nuit", "", "1 000", "a=b"])
def test_plain_text_is_left_as_it_is(text: str) -> None:
    assert safe_cell(text) == text

"""Cells a spreadsheet would run: text starting with = + - @ (or a tab or carriage return) is a
formula to Excel and LibreOffice, so a team named "=HYPERLINK(…)" in an export would act."""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def is_formula(text: str) -> bool:
    return text.startswith(FORMULA_START)


def safe_cell(text: str) -> str:
    """The text as a cell that stays text (a leading apostrophe)."""
    return "'" + text if is_formula(text) else text

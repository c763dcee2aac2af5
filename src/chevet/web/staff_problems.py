"""The words of a staff file's problems, for the console page and ``chevet people import``:
each refused line by its number, each refused file by its reason, in the reader's language."""

from __future__ import annotations

from chevet.core.staff_file import MAX_BYTES, LineProblem, StaffFileRejected
from chevet.web.formats import number
from chevet.web.i18n import gettext


def problem_text(lang: str, problem: LineProblem) -> str:
    value, first = problem.value, ""
    if problem.code == "duplicate_in_file":
        value, _, first = problem.value.rpartition("|")
    return gettext(f"staff.line.{problem.code}", lang, line=problem.line, value=value, first=first)


def rejected_text(lang: str, refused: StaffFileRejected) -> str:
    detail = refused.detail
    if refused.reason == "too_big":
        detail = number(MAX_BYTES // (1024 * 1024), lang)
    elif refused.reason == "too_many_lines" and refused.detail.isdigit():
        detail = number(int(refused.detail), lang)
    elif refused.reason == "missing_columns":
        detail = ", ".join(gettext(f"staff.column.{c}", lang) for c in refused.detail.split(", ") if c)
    return gettext(f"staff.rejected.{refused.reason}", lang, detail=detail)

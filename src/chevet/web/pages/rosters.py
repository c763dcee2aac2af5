"""Console: a team's duty roster (``/admin/plannings``). The week as a list by day (a phone's
screen first), a picture of each day's coverage, the forms to add and remove assignments, the
team's shifts and the organisation's role addresses; importing a CSV or iCalendar file with a
dry run first. Times are shown in Europe/Paris, in words; forms work without script."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup
from starlette.datastructures import FormData

from chevet.app.care import roster_import, rosters
from chevet.app.care.rosters import AssignmentView, RosterDay, RosterWeek
from chevet.core.care.roster import PARIS, DutyKind, format_clock, local_instant, parse_clock
from chevet.core.care.roster_import import MAX_BYTES, RosterFileRejected, RowProblem, parse_date
from chevet.core.errors import ChevetError, Forbidden, InvalidInput, NotFound, TooLarge
from chevet.core.ids import parse_id
from chevet.web import formats, staff_upload
from chevet.web.i18n import gettext
from chevet.web.pages.page import SignedInPage, check_csrf, field_of, read_form, signed_in, ui
from chevet.web.uploads import read_multipart

router = APIRouter(prefix="/admin/plannings", include_in_schema=False)
UPLOAD_FORM_PATH = re.compile(r"^/admin/plannings/[0-9a-fA-F-]{36}/import$")
UPLOAD_BODY_BYTES = MAX_BYTES + 65536
SHOWN_LINES = 300
BASE = "/admin/plannings"


async def _page(request: Request) -> SignedInPage:
    p = await signed_in(request)
    if not p.can("manage_teams"):
        raise Forbidden("forbidden")
    return p


def _id(value: str) -> uuid.UUID:
    try:
        return parse_id(value)
    except (ValueError, ChevetError):
        raise NotFound("not_found") from None


def _week_of(value: str | None, today: date) -> date:
    if not value:
        return today
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return today


def _back(team_id: uuid.UUID, week: date, notice: str | None = None) -> str:
    url = f"{BASE}?equipe={team_id}&semaine={week.isoformat()}"
    return url + (f"&notice={notice}" if notice else "")


# --- words and the coverage picture -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Line:
    """An assignment as one day's list shows it."""

    id: uuid.UUID
    who: str
    what: str  # « de service » / « d'astreinte (1er appel) »
    when: str  # « 19 h 00 → 7 h 00 le 25 octobre »
    role: str | None
    shift: str | None


def _clock(at: datetime, lang: str) -> str:
    return formats.clock(at, lang)


def _when(v: AssignmentView, day: date, lang: str) -> str:
    start, end = v.starts_at.astimezone(PARIS), v.ends_at.astimezone(PARIS)
    left = _clock(v.starts_at, lang) if start.date() == day else gettext(
        "roster.since", lang, day=formats.day(start.date(), lang, year=False), time=_clock(v.starts_at, lang))
    right = _clock(v.ends_at, lang) if end.date() == day else gettext(
        "roster.until_day", lang, day=formats.day(end.date(), lang, year=False), time=_clock(v.ends_at, lang))
    return f"{left} → {right}"


def _line(v: AssignmentView, day: date, lang: str) -> Line:
    what = gettext(f"roster.kind.{v.kind.value}", lang)
    if v.kind is DutyKind.ON_CALL:
        what = gettext("roster.kind.on_call_rank", lang, rank=v.rank)
    return Line(v.id, v.person_name, what, _when(v, day, lang), v.role_label, v.shift_name)


def coverage_svg(day: RosterDay, lang: str) -> Markup:
    """The day from 0 h to 24 h: who is on duty (solid) and on call (hatched, lower lane), with
    the hours written in the description for screen readers. No script, no style attribute."""
    lo, hi = local_instant(day.day, 0), local_instant(day.day + timedelta(days=1), 0)
    span = (hi - lo).total_seconds()  # 23, 24 or 25 hours on the days the clocks change
    width, lane = 240.0, 10
    parts: list[str] = []
    words: dict[DutyKind, list[str]] = {DutyKind.DUTY: [], DutyKind.ON_CALL: []}
    for v in day.assignments:
        s, e = max(v.starts_at, lo), min(v.ends_at, hi)
        x0, x1 = (s - lo).total_seconds() / span * width, (e - lo).total_seconds() / span * width
        y = 2 if v.kind is DutyKind.DUTY else 4 + lane
        cls = "cov-duty" if v.kind is DutyKind.DUTY else "cov-call"
        parts.append(f'<rect class="{cls}" x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" height="{lane}"/>')
        words[v.kind].append(f"{_clock(s, lang)}–{_clock(e, lang) if e < hi else '24 h' if lang == 'fr' else '24:00'}")
    ticks = "".join(f'<line class="cov-tick" x1="{width * h / 24:.1f}" y1="0" x2="{width * h / 24:.1f}" y2="26"/>'
                    for h in (6, 12, 18))
    title = gettext("roster.coverage.title", lang, day=formats.day(day.day, lang, year=False))
    desc_parts = [gettext("roster.coverage.duty", lang, hours=", ".join(words[DutyKind.DUTY]) or "—"),
                  gettext("roster.coverage.on_call", lang, hours=", ".join(words[DutyKind.ON_CALL]) or "—")]
    desc = " ; ".join(desc_parts) if lang == "fr" else "; ".join(desc_parts)
    return Markup(  # noqa: S704 - every text in it is escaped here
        f'<svg class="coverage" viewBox="0 0 {width:.0f} 26" preserveAspectRatio="none" role="img" '
        f"aria-label={quoteattr(title)}>"
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>"
        f'<rect class="cov-bg" x="0" y="0" width="{width:.0f}" height="26"/>{ticks}{"".join(parts)}</svg>')


@dataclass(frozen=True, slots=True)
class DayBlock:
    day: RosterDay
    heading: str
    lines: tuple[Line, ...]
    picture: Markup
    today: bool


def _blocks(week: RosterWeek, lang: str, today: date) -> list[DayBlock]:
    out = []
    for d in week.days:
        heading = formats.day(d.day, lang, year=False)
        weekday = gettext(f"roster.weekday.{d.day.weekday()}", lang)
        out.append(DayBlock(d, f"{weekday} {heading}", tuple(_line(v, d.day, lang) for v in d.assignments),
                            coverage_svg(d, lang), d.day == today))
    return out


# --- the week ------------------------------------------------------------------------------------

async def _render_week(p: SignedInPage, team_id: uuid.UUID | None, week_of: date, status: int = 200,
                       error: str | None = None) -> Response:
    today = p.services.clock.now().astimezone(PARIS).date()
    week = await rosters.week(p.services, p.actor, team_id, week_of)
    title = p.t("roster.title")
    if week is None:
        return p.render("care/roster.html", status=status, title=title, section="rosters", week=None, blocks=[],
                        error=error, notice=None)
    notice = p.request.query_params.get("notice")
    notice = notice if notice in NOTICES else None
    return p.render("care/roster.html", status=status, title=title, section="rosters", week=week,
                    blocks=_blocks(week, p.lang, today), error=error, notice=notice,
                    previous=week.monday - timedelta(days=7), following=week.monday + timedelta(days=7),
                    sunday=week.monday + timedelta(days=6), hhmm=format_clock)


NOTICES = {"assignment_added", "assignment_removed", "shift_added", "shift_changed", "shift_removed", "role_added",
           "role_changed", "role_removed"}


@router.get("")
@ui
async def week_page(request: Request) -> Response:
    p = await _page(request)
    q = request.query_params
    team = q.get("equipe")
    today = p.services.clock.now().astimezone(PARIS).date()
    return await _render_week(p, _id(team) if team else None, _week_of(q.get("semaine"), today))


async def _form_action(p: SignedInPage, team_id: uuid.UUID, week: date, form: FormData,
                       action: Awaitable[object]) -> Response:
    """Run one console action; its domain error shows the week again with the error in words."""
    try:
        await action
    except ChevetError as exc:
        if isinstance(exc, Forbidden):
            raise
        return await _render_week(p, team_id, week, 422, p.error_text(exc))
    return p.redirect(_back(team_id, week, field_of(form, "_notice", 40) or None))


def _week_field(p: SignedInPage, form: FormData) -> date:
    return _week_of(field_of(form, "semaine", 10), p.services.clock.now().astimezone(PARIS).date())


def _new_assignment(form: FormData) -> rosters.NewAssignment:
    person = _id(field_of(form, "person_id", 40))
    kind = rosters.parse_kind(field_of(form, "kind", 10))
    role = field_of(form, "role_id", 40)
    rank_text = field_of(form, "rank", 3) or "1"
    if not rank_text.isdigit():
        raise InvalidInput("roster_rank_invalid", max=rosters.MAX_RANK)
    day = parse_date(field_of(form, "day", 10))
    shift = field_of(form, "shift_id", 40)
    role_id, rank = (_id(role) if role else None), int(rank_text)
    if shift:
        return rosters.NewAssignment(person, kind, day=day, shift_id=_id(shift), role_id=role_id, rank=rank)
    start, end = parse_clock(field_of(form, "starts", 8)), parse_clock(field_of(form, "ends", 8))
    end_text = field_of(form, "end_day", 10)
    end_day = parse_date(end_text) if end_text else (day + timedelta(days=1) if end <= start else day)
    return rosters.NewAssignment(person, kind, starts_at=local_instant(day, start), ends_at=local_instant(end_day, end),
                                 role_id=role_id, rank=rank)


@router.post("/{team_id}/affectations")
@ui
async def add_assignment(team_id: str, request: Request) -> Response:
    p = await _page(request)
    form = await read_form(p)
    team, week = _id(team_id), _week_field(p, form)
    try:
        new = _new_assignment(form)
    except InvalidInput as exc:
        return await _render_week(p, team, week, 422, p.error_text(exc))
    return await _form_action(p, team, week, form, rosters.add_assignment(p.services, p.actor, team, new))


@router.post("/{team_id}/affectations/{assignment_id}/retirer")
@ui
async def remove_assignment(team_id: str, assignment_id: str, request: Request) -> Response:
    p = await _page(request)
    form = await read_form(p)
    return await _form_action(p, _id(team_id), _week_field(p, form), form,
                              rosters.remove_assignment(p.services, p.actor, _id(assignment_id)))


@router.post("/{team_id}/postes")
@ui
async def add_shift(team_id: str, request: Request) -> Response:
    p = await _page(request)
    form = await read_form(p)
    team = _id(team_id)
    return await _form_action(p, team, _week_field(p, form), form, rosters.add_shift(
        p.services, p.actor, team, field_of(form, "name", 200), field_of(form, "starts", 8),
        field_of(form, "ends", 8)))


@router.post("/{team_id}/postes/{shift_id}")
@ui
async def change_shift(team_id: str, shift_id: str, request: Request) -> Response:
    p = await _page(request)
    form = await read_form(p)
    return await _form_action(p, _id(team_id), _week_field(p, form), form, rosters.change_shift(
        p.services, p.actor, _id(shift_id), field_of(form, "name", 200), field_of(form, "starts", 8),
        field_of(form, "ends", 8)))


@router.post("/{team_id}/postes/{shift_id}/retirer")
@ui
async def remove_shift(team_id: str, shift_id: str, request: Request) -> Response:
    p = await _page(request)
    form = await read_form(p)
    return await _form_action(p, _id(team_id), _week_field(p, form), form,
                              rosters.remove_shift(p.services, p.actor, _id(shift_id)))


@router.post("/{team_id}/roles")
@ui
async def add_role(team_id: str, request: Request) -> Response:
    p = await _page(request)
    form = await read_form(p)
    return await _form_action(p, _id(team_id), _week_field(p, form), form, rosters.add_role(
        p.services, p.actor, field_of(form, "slug", 80), field_of(form, "label", 200)))


@router.post("/{team_id}/roles/{role_id}")
@ui
async def rename_role(team_id: str, role_id: str, request: Request) -> Response:
    p = await _page(request)
    form = await read_form(p)
    return await _form_action(p, _id(team_id), _week_field(p, form), form, rosters.rename_role(
        p.services, p.actor, _id(role_id), field_of(form, "label", 200)))


@router.post("/{team_id}/roles/{role_id}/retirer")
@ui
async def remove_role(team_id: str, role_id: str, request: Request) -> Response:
    p = await _page(request)
    form = await read_form(p)
    return await _form_action(p, _id(team_id), _week_field(p, form), form,
                              rosters.remove_role(p.services, p.actor, _id(role_id)))


# --- import --------------------------------------------------------------------------------------

def problem_text(lang: str, problem: RowProblem) -> str:
    known = f"roster.line.{problem.code}"
    text = gettext(known, lang, line=problem.line, value=problem.value)
    if text == known:
        detail = gettext(problem.code, lang)
        return gettext("roster.line.other", lang, line=problem.line, detail=detail)
    return text


def rejected_text(lang: str, refused: RosterFileRejected) -> str:
    return gettext(f"roster.rejected.{refused.reason}", lang, detail=refused.detail)


async def _render_import(p: SignedInPage, team_id: uuid.UUID, status: int = 200, **context: object) -> Response:
    week = await rosters.week(p.services, p.actor, team_id, p.services.clock.now().astimezone(PARIS).date())
    if week is None:
        raise NotFound("team_not_found")
    values: dict[str, object] = {"error": None, "preview": None, "result": None, "token": None, "problems": [],
                                 **context}
    return p.render("care/roster_import.html", status=status, title=p.t("roster.import.title"), section="rosters",
                    week=week, shown_lines=SHOWN_LINES, moment=p.short_moment, **values)


@router.get("/{team_id}/import")
@ui
async def import_page(team_id: str, request: Request) -> Response:
    p = await _page(request)
    return await _render_import(p, _id(team_id))


@router.post("/{team_id}/import")
@ui
async def check_file(team_id: str, request: Request) -> Response:
    """The dry run: nothing changes; the file is kept for « Importer » under a token."""
    p = await _page(request)
    team = _id(team_id)
    try:
        form = await read_multipart(request, UPLOAD_BODY_BYTES, 1, frozenset({"csrf"}), 4096)
    except TooLarge:
        return await _render_import(p, team, 413, error=rejected_text(p.lang, RosterFileRejected(
            "too_big", str(MAX_BYTES // 1024))))
    except InvalidInput:
        return await _render_import(p, team, 422, error=p.t("roster.rejected.no_file"))
    check_csrf(p, form.one("csrf"))
    if not form.files or not form.files[0].data:
        return await _render_import(p, team, 422, error=p.t("roster.rejected.no_file"))
    data = form.files[0].data
    try:
        seen = await roster_import.preview(p.services, p.actor, team, data)
    except RosterFileRejected as refused:
        return await _render_import(p, team, 422, error=rejected_text(p.lang, refused))
    token = staff_upload.keep(p.request.app.state.settings, p.actor.id, data) if seen.lines else None
    return await _render_import(p, team, preview=seen, token=token,
                                problems=[problem_text(p.lang, x) for x in seen.problems])


@router.post("/{team_id}/import/appliquer")
@ui
async def apply_file(team_id: str, request: Request) -> Response:
    p = await _page(request)
    team = _id(team_id)
    form = await read_form(p)
    data = staff_upload.take(p.request.app.state.settings, p.actor.id, field_of(form, "token", 64))
    if data is None:
        return await _render_import(p, team, 410, error=p.t("roster.rejected.expired"))
    try:
        done = await roster_import.apply(p.services, p.actor, team, data)
    except RosterFileRejected as refused:
        return await _render_import(p, team, 422, error=rejected_text(p.lang, refused))
    return await _render_import(p, team, result=done, problems=[problem_text(p.lang, x) for x in done.problems])

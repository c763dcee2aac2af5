"""Handover pages: « À reprendre » (the incoming shift's notes to confirm, one tap each), writing a
note in a care case from the team's templates, the nurse manager's late notes, and the
templates each team edits. Server-rendered, usable without JavaScript, phone first."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypedDict

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.care import handovers
from chevet.core.care.handover import MAX_FIELD, MAX_PROMPT, MAX_TARGET, MAX_TEMPLATE_NAME, MAX_TEMPLATES
from chevet.core.errors import InvalidInput
from chevet.core.ids import parse_id
from chevet.core.roles import Permission
from chevet.web import formats
from chevet.web.pages.page import SignedInPage, field_of, read_form, signed_in, ui, wants_json
from chevet.web.responses import Json

router = APIRouter(include_in_schema=False)
NOTICES = ("confirmed", "written", "templates_saved")
EMPTY_ROWS = 2


class ConfirmedView(TypedDict):
    id: str
    text: str  # « Reprise par Inès Moreau, le 12 janvier à 19 h 10 »


def when(p: SignedInPage, at: datetime) -> str:
    return formats.moment(at, p.lang, year=False)


def shift_text(p: SignedInPage, name: str, starts_at: datetime) -> str:
    """« Nuit, 12 janvier à 19 h 00 »."""
    return p.t("ho.shift", name=name, at=when(p, starts_at))


def _notice(p: SignedInPage) -> str | None:
    n = p.request.query_params.get("notice")
    return p.t(f"ho.notice.{n}") if n in NOTICES else None


@router.get("/transmissions")
@ui
async def to_resume(request: Request) -> Response:
    p = await signed_in(request)
    notes = await handovers.to_resume(p.services, p.actor)
    return p.render("care/handovers.html", notes=notes, notice=_notice(p), when=lambda at: when(p, at),
                    shift=lambda h: shift_text(p, h.shift_name, h.shift_starts_at),
                    manager=p.can(Permission.MANAGE_TEAMS.value))


@router.post("/transmissions/{handover_id}/confirmer")
@ui
async def confirm(request: Request, handover_id: str) -> Response:
    p = await signed_in(request)
    await read_form(p)
    view = await handovers.confirm(p.services, p.actor, parse_id(handover_id))
    if wants_json(request):  # the list's script confirms without leaving the page
        at = view.confirmed_at or p.services.clock.now()
        return p.finish(Json(ConfirmedView(id=str(view.id), text=p.t(
            "ho.confirmed_by", name=view.confirmed_by_name or "?", at=when(p, at)))))
    return p.redirect(f"/transmissions?notice=confirmed#ho-{handover_id}")


async def _write_page(p: SignedInPage, cid: uuid.UUID, *, status: int = 200, error: str | None = None,
                      values: dict[str, str] | None = None) -> Response:
    form = await handovers.write_form(p.services, p.actor, cid)
    chosen_team = (values or {}).get("team") or p.request.query_params.get("equipe") or ""
    team = next((t for t in form.teams if t.team and str(t.team.id) == chosen_team), form.teams[0])
    picked = p.request.query_params.get("modele", "")
    template = next((t for n, t in enumerate(team.templates) if str(n) == picked), None)
    shown = values or {"target": template.target if template else "", "data": "", "actions": "", "results": "",
                       "team": str(team.team.id) if team.team else ""}
    return p.render("care/handover_write.html", status=status, form=form, team=team, picked=template,
                    values=shown, error=error, notice=_notice(p), max_field=MAX_FIELD, max_target=MAX_TARGET,
                    shift=shift_text(p, form.shift.name, form.shift.starts_at), when=lambda at: when(p, at),
                    note_shift=lambda h: shift_text(p, h.shift_name, h.shift_starts_at))


@router.get("/c/{conversation_id}/transmission")
@ui
async def write_page(request: Request, conversation_id: str) -> Response:
    p = await signed_in(request)
    cid = parse_id(conversation_id)
    return await p.care_case_page(cid, lambda: _write_page(p, cid), "handover.only_care_case")


@router.post("/c/{conversation_id}/transmission")
@ui
async def write(request: Request, conversation_id: str) -> Response:
    p = await signed_in(request)
    cid = parse_id(conversation_id)
    form = await read_form(p)
    values = {k: field_of(form, k, MAX_FIELD + 100) for k in ("target", "data", "actions", "results", "team")}
    try:
        team_id = parse_id(values["team"]) if values["team"] else None
        await handovers.write(p.services, p.actor, cid, target=values["target"], data=values["data"],
                              actions=values["actions"], results=values["results"], team_id=team_id)
    except InvalidInput as exc:
        return await _write_page(p, cid, status=422, error=p.error_text(exc), values=values)
    return p.redirect(f"/c/{cid}/transmission?notice=written")


@router.get("/transmissions/en-retard")
@ui
async def late(request: Request) -> Response:
    p = await signed_in(request)
    if not p.can(Permission.MANAGE_TEAMS.value):
        return p.render("error.html", status=403, message=p.t("ho.late.forbidden"))
    notes = await handovers.late(p.services, p.actor)
    return p.render("care/handover_late.html", notes=notes, when=lambda at: when(p, at),
                    shift=lambda h: shift_text(p, h.shift_name, h.shift_starts_at))


async def _templates_page(p: SignedInPage, *, status: int = 200, error: str | None = None,
                          error_team: str | None = None) -> Response:
    teams = await handovers.team_templates(p.services, p.actor)
    return p.render("care/handover_templates.html", status=status, teams=teams, error=error, error_team=error_team,
                    notice=_notice(p), empty_rows=EMPTY_ROWS, max_templates=MAX_TEMPLATES,
                    max_name=MAX_TEMPLATE_NAME, max_target=MAX_TARGET, max_prompt=MAX_PROMPT)


@router.get("/transmissions/modeles")
@ui
async def templates_page(request: Request) -> Response:
    p = await signed_in(request)
    if not p.can(Permission.MANAGE_TEAMS.value):
        return p.render("error.html", status=403, message=p.t("ho.templates.forbidden"))
    return await _templates_page(p)


@router.post("/transmissions/modeles/{team_id}")
@ui
async def save_templates(request: Request, team_id: str) -> Response:
    p = await signed_in(request)
    tid = parse_id(team_id)
    form = await read_form(p)
    rows: list[tuple[str, str, str, str, str]] = []
    if form.get("reset") is None:
        for n in range(MAX_TEMPLATES + EMPTY_ROWS):
            row = tuple(field_of(form, f"{k}-{n}", 400) for k in ("name", "target", "data", "actions", "results"))
            if any(v.strip() for v in row):
                rows.append((row[0], row[1], row[2], row[3], row[4]))
    try:
        await handovers.set_templates(p.services, p.actor, tid, rows)
    except InvalidInput as exc:
        return await _templates_page(p, status=422, error=p.error_text(exc), error_team=str(tid))
    return p.redirect(f"/transmissions/modeles?notice=templates_saved#team-{tid}")

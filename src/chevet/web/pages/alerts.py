"""Urgent alerts on screen: the block of a conversation (its alerts, their timelines, the two
buttons), the acknowledgement form (also what the service worker posts from a notification),
and the console's pages: open and late alerts, and the teams' escalation ladders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.care import alert_policy, alerts
from chevet.app.care.alerts import AlertView, TargetChoice
from chevet.core.care.alert import AckKind, EventKind, LadderStep, StepKind, TargetKind, parse_ack
from chevet.core.errors import Conflict, Forbidden, InvalidInput
from chevet.core.ids import parse_id
from chevet.web import formats
from chevet.web.pages.page import Page, SignedInPage, field_of, read_form, signed_in, ui, wants_json
from chevet.web.problems import status_of
from chevet.web.responses import Json

router = APIRouter(include_in_schema=False)
RECENT_CLOSED = 3  # acknowledged alerts still shown in the conversation, latest first


@dataclass(frozen=True, slots=True)
class Line:
    time: str
    text: str


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One alert as a page shows it, every text in words and every time in Paris."""

    id: str
    conversation_id: str
    message_seq: int
    state: str          # open, late, exhausted, taken, seen
    status: str
    target: str
    raised: str
    may_acknowledge: bool
    lines: tuple[Line, ...]


def _names(names: tuple[str, ...], p: Page) -> str:
    shown = [n for n in names if n]
    return ", ".join(shown) if shown else p.t("alert.nobody")


def _line(p: Page, view: AlertView, kind: EventKind, people: tuple[str, ...], actor: str | None,
          ack: AckKind | None, step: int) -> str:
    if kind is EventKind.RAISED:
        return p.t("alert.line.raised", name=actor or "?", target=_target(p, view))
    if kind is EventKind.NOTIFIED:
        return p.t("alert.line.notified", names=_names(people, p))
    if kind is EventKind.ESCALATED:
        return p.t("alert.line.escalated", step=step, names=_names(people, p))
    if kind is EventKind.NOBODY:
        return p.t("alert.line.nobody", step=step)
    if kind is EventKind.EXHAUSTED:
        return p.t("alert.line.exhausted")
    return p.t(f"alert.line.ack.{(ack or AckKind.TAKEN).value}", name=actor or "?")


def _target(p: Page, view: AlertView) -> str:
    if view.target_kind is TargetKind.ON_CALL:
        return p.t("alert.target.on_call", team=view.target_name)
    return view.target_name or "?"


def _state(view: AlertView) -> str:
    if not view.open:
        return (view.ack or AckKind.TAKEN).value
    return "exhausted" if view.exhausted else "late" if view.late else "open"


def _status(p: Page, view: AlertView) -> str:
    state = _state(view)
    if state in ("taken", "seen"):
        at = formats.clock(view.acknowledged_at, p.lang) if view.acknowledged_at else ""
        return p.t(f"alert.status.{state}", name=view.acknowledged_by or "?", time=at)
    if state == "open" and view.due_at is not None:
        return p.t("alert.status.open", names=_names(view.current, p), time=formats.clock(view.due_at, p.lang))
    if state == "late" and view.due_at is not None:
        return p.t("alert.status.late", names=_names(view.current, p), time=formats.clock(view.due_at, p.lang))
    return p.t("alert.status.exhausted")


def rows(p: Page, views: list[AlertView]) -> list[AlertRow]:
    return [AlertRow(str(v.id), str(v.conversation_id), v.message_seq, _state(v), _status(p, v), _target(p, v),
                     p.moment(v.raised_at, year=False), v.may_acknowledge,
                     tuple(Line(formats.clock(line.at, p.lang),
                                _line(p, v, line.kind, line.people, line.actor, line.ack, line.step))
                           for line in v.timeline))
            for v in views]


def shown_in_conversation(p: Page, views: list[AlertView]) -> list[AlertRow]:
    """Open alerts, then the latest few acknowledged ones."""
    opened = [v for v in views if v.open]
    closed = [v for v in views if not v.open][:RECENT_CLOSED]
    return rows(p, opened + closed)


def choice_groups(p: Page, choices: list[TargetChoice]) -> list[tuple[str, list[TargetChoice]]]:
    groups = [(p.t(f"alert.for.group.{k.value}"), [c for c in choices if c.kind is k]) for k in TargetKind]
    return [(label, items) for label, items in groups if items]


async def conversation_block(p: SignedInPage, conversation_id: uuid.UUID) -> dict[str, object]:
    """What the conversation page adds for alerts: its alerts and the composer's choices."""
    views = await alerts.of_conversation(p.services, p.actor, conversation_id)
    choices = await alerts.choices(p.services, p.actor, conversation_id)
    return {"alerts": shown_in_conversation(p, views), "alert_choices": choice_groups(p, choices)}


@router.get("/c/{conversation_id}/alertes")
@ui
async def conversation_alerts(conversation_id: str, request: Request) -> Response:
    """The conversation's alert block alone, for the page's script to refresh it in place."""
    p = await signed_in(request)
    cid = parse_id(conversation_id)
    views = await alerts.of_conversation(p.services, p.actor, cid)
    return p.render("care/alerts.html", alerts=shown_in_conversation(p, views), conversation_id=str(cid))


@router.post("/alertes/{alert_id}/prise-en-charge")
@ui
async def acknowledge(alert_id: str, request: Request) -> Response:
    """« Je m'en occupe » / « Vu, pas d'action », from the conversation or from a notification
    (the service worker posts this form with the page's token). A second acknowledgement is
    answered in words and changes nothing."""
    p = await signed_in(request)
    aid = parse_id(alert_id)
    form = await read_form(p)
    try:
        done = await alerts.acknowledge(p.services, p.actor, aid, parse_ack(field_of(form, "ack", 10)))
    except (Conflict, Forbidden, InvalidInput) as exc:
        if wants_json(request):
            raise
        # Answered beside a way back to the conversation (she may see the alert, so it exists).
        view = await alerts.alert_view(p.services, p.actor, aid)
        return p.render("care/alert_answer.html", status=status_of(exc), message=p.error_text(exc),
                        back=f"/c/{view.conversation_id}#alert-{aid}")
    if wants_json(request):
        return Json({"alert_id": str(aid), "ack": done.ack.value, "detail": p.t(f"alert.done.{done.ack.value}")})
    return p.redirect(f"/c/{done.view.conversation_id}#alert-{aid}")


# --- console ---------------------------------------------------------------------------------
@router.get("/console/alertes")
@ui
async def console_alerts(request: Request) -> Response:
    p = await signed_in(request)
    views = await alerts.open_alerts(p.services, p.actor)
    shown = rows(p, views)
    return p.render("care/alerts_console.html", title=p.t("alert.console.title"), section="alerts", alerts=shown,
                    late=[r for r in shown if r.state in ("late", "exhausted")],
                    waiting=[r for r in shown if r.state == "open"])


STEP_CHOICES = ("next_on_call", "manager", "address:astreinte-medicale", "address:garde")


def _step_label(p: Page, step: LadderStep) -> str:
    if step.kind is StepKind.ADDRESS:
        return p.t("alert.step.address", address=f"@{step.address}")
    return p.t(f"alert.step.{step.kind.value}")


async def _ladders_page(p: SignedInPage, status: int = 200, error: str | None = None,
                        notice: str | None = None) -> Response:
    views = await alert_policy.ladders(p.services, p.actor)
    steps = {code: _step_label(p, LadderStep.parse(code)) for code in STEP_CHOICES}
    for v in views:
        for s in v.steps:
            steps.setdefault(s.encode(), _step_label(p, s))
    return p.render("care/alert_ladders.html", status=status, title=p.t("alert.ladder.title"), section="alerts",
                    ladders=views, steps=steps, labels={v.scope_id: [_step_label(p, s) for s in v.steps]
                                                        for v in views},
                    error=error, notice=notice, org_id=p.actor.org_id)


@router.get("/console/alertes/echelles")
@ui
async def ladders(request: Request) -> Response:
    p = await signed_in(request)
    return await _ladders_page(p, notice=request.query_params.get("notice"))


@router.post("/console/alertes/echelles/{scope_id}")
@ui
async def set_ladder(scope_id: str, request: Request) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    try:
        ladder = alert_policy.parse_ladder(
            day_minutes=field_of(form, "day_minutes", 5), night_minutes=field_of(form, "night_minutes", 5),
            night_starts=field_of(form, "night_starts", 5), night_ends=field_of(form, "night_ends", 5),
            steps=[v for v in form.getlist("steps") if isinstance(v, str)][:10])
        await alert_policy.set_ladder(p.services, p.actor, parse_id(scope_id), ladder)
    except InvalidInput as exc:
        return await _ladders_page(p, status=422, error=p.error_text(exc))
    return p.redirect("/console/alertes/echelles?notice=ladder_saved")

"""Urgent alerts that someone must acknowledge, and their escalation, sans-I/O.

An urgent message may name who must act: a person, a role address (``@garde``), or the on-call
person of a team. That makes an ``Alert``: it is *open* and its first step's people are notified;
if nobody acknowledges within the ladder's delay (shorter at night), it goes to the ladder's next
step, whose people are notified at once, and so on. One acknowledgement closes it: « Je m'en
occupe » (she takes it) or « Vu, pas d'action » (seen, nothing to do). Past the ladder's last step
it stays open, flagged late, with nothing more due ("exhausted").

Everything here is pure: whom a step names is resolved by the application (rosters, roles), which
passes the people in; the clock is passed in too. Each change returns the new alert and the
timeline events it adds; ``version`` rises with each change, so the store can refuse a change
made from a stale read (two processes escalating the same alert: only one wins).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from chevet.core.care.roster import clean_slug
from chevet.core.errors import Conflict, Forbidden, InvalidInput

LOCAL_TIME = ZoneInfo("Europe/Paris")
MIN_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=2)
MAX_STEPS = 6


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


class AckKind(StrEnum):
    TAKEN = "taken"  # « Je m'en occupe »
    SEEN = "seen"    # « Vu, pas d'action »


def parse_ack(value: str) -> AckKind:
    try:
        return AckKind(value)
    except ValueError:
        raise InvalidInput("alert_ack_invalid") from None


class TargetKind(StrEnum):
    PERSON = "person"
    ROLE = "role"        # a role address, resolved to whoever holds it now
    ON_CALL = "on_call"  # the on-call person of a team


def _address(text: str, refusal: str) -> str:
    """A role address as the rosters store it (one folding for rosters, mentions and alerts)."""
    try:
        return clean_slug(text)
    except InvalidInput:
        raise InvalidInput(refusal) from None


@dataclass(frozen=True, slots=True)
class AlertTarget:
    """Who an urgent message names as the one who must act."""

    kind: TargetKind
    person_id: uuid.UUID | None = None
    address: str | None = None
    team_id: uuid.UUID | None = None

    def encode(self) -> str:
        if self.kind is TargetKind.PERSON:
            return f"person:{self.person_id}"
        if self.kind is TargetKind.ROLE:
            return f"role:{self.address}"
        return f"on_call:{self.team_id}"

    @staticmethod
    def parse(value: str) -> AlertTarget:
        """``person:<id>``, ``role:<address>`` or ``on_call:<team id>`` (the composer's choices)."""
        kind, _, rest = (value or "").strip().partition(":")
        try:
            if kind == TargetKind.PERSON:
                return AlertTarget(TargetKind.PERSON, person_id=uuid.UUID(rest))
            if kind == TargetKind.ON_CALL:
                return AlertTarget(TargetKind.ON_CALL, team_id=uuid.UUID(rest))
        except ValueError:
            raise InvalidInput("alert_target_invalid") from None
        if kind == TargetKind.ROLE:
            return AlertTarget(TargetKind.ROLE, address=_address(rest, "alert_target_invalid"))
        raise InvalidInput("alert_target_invalid")


class StepKind(StrEnum):
    NEXT_ON_CALL = "next_on_call"  # the team's on-call people not yet notified, first on call first
    MANAGER = "manager"            # the nurse manager: people of the team (else organisation) with role manager
    ADDRESS = "address"            # whoever holds a role address now (e.g. the on-call physician)


@dataclass(frozen=True, slots=True)
class LadderStep:
    kind: StepKind
    address: str | None = None

    def encode(self) -> str:
        return f"address:{self.address}" if self.kind is StepKind.ADDRESS else self.kind.value

    @staticmethod
    def parse(value: str) -> LadderStep:
        kind, _, rest = (value or "").strip().partition(":")
        if kind == StepKind.ADDRESS:
            return LadderStep(StepKind.ADDRESS, _address(rest, "alert_step_invalid"))
        if kind in (StepKind.NEXT_ON_CALL, StepKind.MANAGER) and not rest:
            return LadderStep(StepKind(kind))
        raise InvalidInput("alert_step_invalid")


DEFAULT_STEPS = (LadderStep(StepKind.NEXT_ON_CALL), LadderStep(StepKind.MANAGER),
                 LadderStep(StepKind.ADDRESS, "astreinte-medicale"))


@dataclass(frozen=True, slots=True)
class Ladder:
    """A team's escalation: how long an alert waits for an acknowledgement (by day, by night, in
    Europe/Paris hours) and the steps it goes through after its first people."""

    day_delay: timedelta = timedelta(minutes=10)
    night_delay: timedelta = timedelta(minutes=5)
    night_starts: int = 21 * 60  # minutes after local midnight
    night_ends: int = 7 * 60
    steps: tuple[LadderStep, ...] = DEFAULT_STEPS

    def __post_init__(self) -> None:
        for delay in (self.day_delay, self.night_delay):
            if not MIN_DELAY <= delay <= MAX_DELAY:
                raise InvalidInput("alert_delay_invalid", min=int(MIN_DELAY.total_seconds() // 60),
                                   max=int(MAX_DELAY.total_seconds() // 60))
        for minute in (self.night_starts, self.night_ends):
            if not 0 <= minute < 24 * 60:
                raise InvalidInput("alert_night_invalid")
        if len(self.steps) > MAX_STEPS:
            raise InvalidInput("alert_steps_too_many", max=MAX_STEPS)

    def is_night(self, at: datetime) -> bool:
        local = at.astimezone(LOCAL_TIME)
        minute = local.hour * 60 + local.minute
        if self.night_starts == self.night_ends:
            return False
        if self.night_starts < self.night_ends:
            return self.night_starts <= minute < self.night_ends
        return minute >= self.night_starts or minute < self.night_ends

    def delay_at(self, at: datetime) -> timedelta:
        """The wait for an acknowledgement of a step notified at ``at`` (night or day there)."""
        return self.night_delay if self.is_night(at) else self.day_delay


class EventKind(StrEnum):
    RAISED = "raised"              # the urgent message named who must act
    NOTIFIED = "notified"          # a step's people notified (step 0: the named people)
    ESCALATED = "escalated"        # nobody acknowledged in time: the next step
    NOBODY = "nobody"              # a step named nobody (nobody on call, no manager): the next one at once
    ACKNOWLEDGED = "acknowledged"
    EXHAUSTED = "exhausted"        # past the last step: stays open, late


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One line of an alert's timeline."""

    id: uuid.UUID
    alert_id: uuid.UUID
    org_id: uuid.UUID
    at: datetime
    kind: EventKind
    step: int
    people: tuple[uuid.UUID, ...] = ()
    actor_id: uuid.UUID | None = None
    ack: AckKind | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    id: uuid.UUID
    org_id: uuid.UUID
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    message_seq: int
    team_id: uuid.UUID | None
    raised_by: uuid.UUID
    raised_at: datetime
    target: AlertTarget
    state: AlertState
    step: int                        # 0: the named people; n: the ladder's n-th step
    due_at: datetime | None          # when the next step is due; None once acknowledged or exhausted
    targeted: tuple[uuid.UUID, ...]  # everyone notified so far (any of them may acknowledge)
    current: tuple[uuid.UUID, ...]   # the people of the current step
    late: bool = False               # nobody acknowledged within the first delay
    acknowledged_by: uuid.UUID | None = None
    acknowledged_at: datetime | None = None
    ack: AckKind | None = None
    version: int = 0

    @property
    def exhausted(self) -> bool:
        return self.state is AlertState.OPEN and self.due_at is None

    def is_due(self, now: datetime) -> bool:
        return self.state is AlertState.OPEN and self.due_at is not None and self.due_at <= now

    def may_acknowledge(self, person_id: uuid.UUID) -> bool:
        return person_id in self.targeted


def _event(alert: Alert, at: datetime, kind: EventKind, new_id: uuid.UUID, *, people: tuple[uuid.UUID, ...] = (),
           actor: uuid.UUID | None = None, ack: AckKind | None = None) -> AlertEvent:
    return AlertEvent(new_id, alert.id, alert.org_id, at, kind, alert.step, people, actor, ack)


def _merge(a: tuple[uuid.UUID, ...], b: tuple[uuid.UUID, ...]) -> tuple[uuid.UUID, ...]:
    return tuple(dict.fromkeys((*a, *b)))


def raise_alert(*, alert_id: uuid.UUID, org_id: uuid.UUID, conversation_id: uuid.UUID, message_id: uuid.UUID,
                message_seq: int, team_id: uuid.UUID | None, raised_by: uuid.UUID, target: AlertTarget,
                people: tuple[uuid.UUID, ...], ladder: Ladder, now: datetime,
                ids: list[uuid.UUID]) -> tuple[Alert, list[AlertEvent]]:
    """A new alert notifying ``people`` (its step 0). Named nobody (no one holds the role now):
    its first ladder step is due at once. ``ids`` gives the new events' ids (two are used)."""
    people = tuple(p for p in dict.fromkeys(people) if p != raised_by) or tuple(dict.fromkeys(people))
    alert = Alert(alert_id, org_id, conversation_id, message_id, message_seq, team_id, raised_by, now, target,
                  AlertState.OPEN, 0, now + ladder.delay_at(now) if people else now, people, people)
    events = [_event(alert, now, EventKind.RAISED, ids[0], actor=raised_by),
              _event(alert, now, EventKind.NOTIFIED if people else EventKind.NOBODY, ids[1], people=people)]
    return alert, events


def escalate(alert: Alert, ladder: Ladder, people: tuple[uuid.UUID, ...], now: datetime,
             new_id: uuid.UUID) -> tuple[Alert, AlertEvent]:
    """The alert's next step, notifying ``people`` (resolved by the caller for
    ``next_step(alert, ladder)``); past the last step the alert is exhausted. A step naming
    nobody is due again at once, so the caller goes on to the following step."""
    if not alert.is_due(now):
        raise Conflict("alert_not_due")
    step = alert.step + 1
    if step > len(ladder.steps):
        done = replace(alert, due_at=None, late=True, version=alert.version + 1)
        return done, _event(done, now, EventKind.EXHAUSTED, new_id)
    fresh = tuple(p for p in dict.fromkeys(people) if p not in alert.current)
    moved = replace(alert, step=step, current=fresh or alert.current, targeted=_merge(alert.targeted, fresh),
                    due_at=now + ladder.delay_at(now) if fresh else now, late=True, version=alert.version + 1)
    kind = EventKind.ESCALATED if fresh else EventKind.NOBODY
    return moved, _event(moved, now, kind, new_id, people=fresh)


def next_step(alert: Alert, ladder: Ladder) -> LadderStep | None:
    """The ladder step an escalation of this alert goes to; None past the last one."""
    return ladder.steps[alert.step] if alert.step < len(ladder.steps) else None


class AlreadyAcknowledged(Conflict):
    """A second acknowledgement: answered in words (by whom, when), nothing changed."""


def acknowledge(alert: Alert, person_id: uuid.UUID, kind: AckKind, now: datetime,
                new_id: uuid.UUID) -> tuple[Alert, AlertEvent]:
    """Whoever the alert has notified so far may acknowledge it, once for all."""
    if alert.state is AlertState.ACKNOWLEDGED:
        raise AlreadyAcknowledged("alert_already_acknowledged")
    if not alert.may_acknowledge(person_id):
        raise Forbidden("alert_not_yours")
    done = replace(alert, state=AlertState.ACKNOWLEDGED, due_at=None, acknowledged_by=person_id,
                   acknowledged_at=now, ack=kind, version=alert.version + 1)
    return done, _event(done, now, EventKind.ACKNOWLEDGED, new_id, actor=person_id, ack=kind)

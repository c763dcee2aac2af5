"""Urgent alerts: raised with their message, acknowledged in one tap, escalated when due.

An urgent message that names who must act (a person, a role address, a team's on-call person)
raises an alert in the message's own transaction (``raise_with``, called by the send). Whoever
it notifies and is not yet a member of the conversation is brought in, seeing it from the
alert's message on (not its earlier history): the on-call physician must be able to read what
she is called for, and acknowledge it.

Who may acknowledge: anyone the alert has notified so far, at any step (the nurse first named
may be free after all once it went up to the manager), and nobody else. A member of the
conversation who was not called is not asked to act, and a « Vu » from her would stop the
escalation without anyone on duty having seen it. A second acknowledgement changes nothing and
says who took it and when.

Escalation (``escalate_due``) runs in every server process (``jobs/alerts.py``): each due alert
is escalated in its own transaction, written only if its version is still the one read, so one
process wins and the others write nothing. Every step is audited in its transaction; its
notifications are pushed after commit by whichever process claims the step first
(``alert_push``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from chevet.app.access import Access, conversation_access
from chevet.app.care import alert_policy, duty
from chevet.app.messaging.conversations import append_entry
from chevet.app.messaging.notifications import ALERT_PUSH
from chevet.app.messaging.views import entry_event
from chevet.app.services import Actor, Services, Unit
from chevet.core.care import alert as core
from chevet.core.care.alert import (
    AckKind,
    Alert,
    AlertEvent,
    AlertTarget,
    EventKind,
    Ladder,
    LadderStep,
    StepKind,
    TargetKind,
)
from chevet.core.conversation import ConversationKind
from chevet.core.entities import Conversation, Entry, Membership, PersonStatus, RealtimeEvent
from chevet.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chevet.core.ids import new_id
from chevet.core.message import EntryKind
from chevet.core.roles import Role
from chevet.ports import Transaction

log = logging.getLogger("chevet.app")
ALERT_CHANGED = "care.alert.changed"  # to the conversation's members: its alert block changed
CONSOLE_ROLES = frozenset({Role.DIRECTOR, Role.MANAGER, Role.ADMIN})
NO_ALERT_KINDS = (ConversationKind.DIRECT, ConversationKind.EXTERNAL)


# --- views ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TimelineLine:
    at: datetime
    kind: EventKind
    step: int
    people: tuple[str, ...]      # names
    actor: str | None
    ack: AckKind | None


@dataclass(frozen=True, slots=True)
class AlertView:
    id: uuid.UUID
    conversation_id: uuid.UUID
    message_seq: int
    target_kind: TargetKind
    target_name: str             # a person's name, a role address, a team's name
    raised_by: str
    raised_at: datetime
    open: bool
    late: bool
    exhausted: bool
    step: int
    due_at: datetime | None
    current: tuple[str, ...]
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    ack: AckKind | None
    may_acknowledge: bool        # the viewer may acknowledge it now
    timeline: tuple[TimelineLine, ...]


@dataclass(frozen=True, slots=True)
class TargetChoice:
    value: str                   # AlertTarget.encode()
    kind: TargetKind
    label: str


@dataclass(frozen=True, slots=True)
class Acknowledged:
    view: AlertView
    ack: AckKind


# --- resolution ----------------------------------------------------------------------------
async def _active(tx: Transaction, org_id: uuid.UUID, people: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    if not people:
        return []
    kept = {p.id for p in await tx.people.many(org_id, list(people)) if p.status is PersonStatus.ACTIVE}
    return [p for p in dict.fromkeys(people) if p in kept]


async def _target_people(tx: Transaction, org_id: uuid.UUID, target: AlertTarget, at: datetime) -> list[uuid.UUID]:
    if target.kind is TargetKind.PERSON:
        assert target.person_id is not None
        person = await tx.people.get(org_id, target.person_id)
        if person is None or person.status is not PersonStatus.ACTIVE:
            raise NotFound("alert_person_not_found")
        return [person.id]
    if target.kind is TargetKind.ROLE:
        assert target.address is not None
        return await _active(tx, org_id, await duty.holders(tx, org_id, target.address, at))
    assert target.team_id is not None
    if await tx.teams.get(org_id, target.team_id) is None:
        raise NotFound("team_not_found")
    return (await _active(tx, org_id, await duty.on_call(tx, org_id, target.team_id, at)))[:1]


async def _team_of(tx: Transaction, org_id: uuid.UUID, target: AlertTarget, conv: Conversation) -> uuid.UUID | None:
    if target.kind is TargetKind.ON_CALL:
        return target.team_id
    if target.kind is TargetKind.ROLE and target.address:
        role = await tx.rosters.role_by_slug(org_id, target.address)
        if role is not None and role.team_id is not None:
            return role.team_id
    return conv.team_id


async def _managers(tx: Transaction, org_id: uuid.UUID, team_id: uuid.UUID | None) -> list[uuid.UUID]:
    """The nurse managers: the team's people with the manager role, else the organisation's."""
    if team_id is not None:
        members = await tx.people.many(org_id, await tx.teams.member_ids(team_id))
        found = [p.id for p in members if p.role is Role.MANAGER and p.status is PersonStatus.ACTIVE]
        if found:
            return found
    return [p.id for p in await tx.people.search(org_id, "", 500)
            if p.role is Role.MANAGER and p.status is PersonStatus.ACTIVE]


async def _step_people(tx: Transaction, alert: Alert, step: LadderStep, at: datetime) -> list[uuid.UUID]:
    if step.kind is StepKind.NEXT_ON_CALL:
        if alert.team_id is None:
            return []
        ladder = await _active(tx, alert.org_id, await duty.on_call(tx, alert.org_id, alert.team_id, at))
        return [p for p in ladder if p not in alert.targeted][:1]
    if step.kind is StepKind.MANAGER:
        return await _managers(tx, alert.org_id, alert.team_id)
    assert step.address is not None
    return await _active(tx, alert.org_id, await duty.holders(tx, alert.org_id, step.address, at))


async def _bring_in(u: Unit, conv: Conversation, a: Access | None, alert: Alert, people: Sequence[uuid.UUID],
                    names: dict[uuid.UUID, str]) -> Conversation:
    """Make the notified people who are not members of the conversation members of it, seeing
    it from the alert's message on."""
    for person_id in people:
        if await u.tx.conversations.membership(conv.id, person_id) is not None:
            continue
        if a is not None:
            key = a.key
        else:
            wrapped = await u.tx.conversations.wrapped_key(conv.id)
            if wrapped is None:
                continue
            key = await u.services.unwrap_key(conv.org_id, conv.id, wrapped)
        conv, e = await append_entry(u, conv, key, kind=EntryKind.MEMBER_ADDED, author=None, subject_id=person_id)
        await u.tx.conversations.add_member(Membership(
            conv.id, person_id, is_owner=False, visible_from_seq=alert.message_seq,
            read_seq=alert.message_seq - 1, joined_at=u.services.clock.now()))
        await u.audit(conv.org_id, "conversation.member_added", None, "conversation", conv.id,
                      person=str(person_id), history=False, reason="alert", alert=str(alert.id))
        u.publish(entry_event(conv, key, e, None, names, user_ids=(person_id,)))
    return conv


def _push(u: Unit, alert: Alert, event: AlertEvent) -> None:
    """After commit, the step's people are notified (``alert_push``), each once."""
    if event.people:
        u.publish(RealtimeEvent(alert.org_id, alert.conversation_id, None,
                                {"type": ALERT_PUSH, "alert_id": str(alert.id), "event_id": str(event.id),
                                 "step": event.step, "kind": event.kind.value},
                                user_ids=event.people, private=True))


def _changed(u: Unit, alert: Alert) -> None:
    """After commit, the conversation's open pages draw the alert's block again."""
    u.publish(RealtimeEvent(alert.org_id, alert.conversation_id, None,
                            {"type": ALERT_CHANGED, "conversation_id": str(alert.conversation_id),
                             "alert_id": str(alert.id)}))


# --- raising, with the message ---------------------------------------------------------------
def parse_target(value: str | None) -> AlertTarget | None:
    """The composer's « Qui doit agir ? » field; empty: an urgent message without an alert."""
    value = (value or "").strip()
    return AlertTarget.parse(value) if value else None


async def raise_with(u: Unit, a: Access, author: Actor, entry: Entry, target: AlertTarget) -> Alert:
    """The alert of an urgent message just appended (same transaction)."""
    conv = a.conversation
    if conv.kind in NO_ALERT_KINDS:
        raise InvalidInput("alert_not_here")
    now = u.services.clock.now()
    people = await _target_people(u.tx, author.org_id, target, now)
    team_id = await _team_of(u.tx, author.org_id, target, conv)
    ladder = await alert_policy.ladder_for(u.tx, author.org_id, team_id)
    alert, events = core.raise_alert(
        alert_id=new_id(), org_id=author.org_id, conversation_id=conv.id, message_id=entry.id,
        message_seq=entry.seq, team_id=team_id, raised_by=author.id, target=target, people=tuple(people),
        ladder=ladder, now=now, ids=[new_id(), new_id()])
    await u.tx.alerts.add(alert)
    await u.tx.alerts.add_events(events)
    await u.audit(author.org_id, "alert.raised", author.id, "alert", alert.id, conversation=str(conv.id),
                  seq=entry.seq, target=target.kind.value, step=0, notified=len(alert.current))
    names = {p.id: p.name for p in await u.tx.people.many(author.org_id, list(alert.current))}
    await _bring_in(u, conv, a, alert, alert.current, names)
    _push(u, alert, events[1])
    if alert.is_due(now):  # named nobody now: straight to the ladder
        await _escalate(u, alert, ladder, now)
    _changed(u, alert)
    return alert


# --- escalation ------------------------------------------------------------------------------
async def _escalate(u: Unit, alert: Alert, ladder: Ladder, now: datetime) -> bool:
    """Escalate while due (a step naming nobody gives way to the next at once). False when
    another process changed the alert first: then this one wrote nothing."""
    conv = await u.tx.conversations.get(alert.org_id, alert.conversation_id)
    moved = False
    while alert.is_due(now):
        step = core.next_step(alert, ladder)
        people = tuple(await _step_people(u.tx, alert, step, now)) if step is not None else ()
        new, event = core.escalate(alert, ladder, people, now, new_id())
        if not await u.tx.alerts.save(new, alert.version):
            return moved
        moved = True
        await u.tx.alerts.add_events([event])
        await u.audit(alert.org_id, f"alert.{event.kind.value}", None, "alert", alert.id, step=new.step,
                      notified=len(event.people), conversation=str(alert.conversation_id))
        if event.people and conv is not None:
            names = {p.id: p.name for p in await u.tx.people.many(alert.org_id, list(event.people))}
            conv = await _bring_in(u, conv, None, new, event.people, names)
        _push(u, new, event)
        alert = new
    if moved:
        _changed(u, alert)
    return moved


async def escalate_due(services: Services, limit: int = 50) -> int:
    """Escalate every alert whose delay ran out, each in its own transaction; returns how many
    this process escalated (a step another process took first is not counted)."""
    now = services.clock.now()
    async with services.db.transaction() as tx:
        due = [(a.org_id, a.id) for a in await tx.alerts.due(now, limit)]
    done = 0
    for org_id, alert_id in due:
        try:
            async with services.unit() as u:
                alert = await u.tx.alerts.get(org_id, alert_id)
                if alert is None or not alert.is_due(now):
                    continue
                ladder = await alert_policy.ladder_for(u.tx, org_id, alert.team_id)
                if await _escalate(u, alert, ladder, now):
                    done += 1
        except (InvalidInput, NotFound, Conflict) as exc:  # one alert's trouble never stops the others
            log.warning("alert not escalated", extra={"error": exc.code})
    return done


# --- acknowledging ---------------------------------------------------------------------------
async def acknowledge(services: Services, actor: Actor, alert_id: uuid.UUID, kind: AckKind) -> Acknowledged:
    """« Je m'en occupe » or « Vu, pas d'action », by someone the alert notified. An unknown
    alert, one of another organisation or of a conversation she is not in: not found. Already
    acknowledged: refused in words (by whom, at what time), nothing changed."""
    for _ in range(3):
        async with services.unit(actor.ip) as u:
            alert = await u.tx.alerts.get(actor.org_id, alert_id)
            if alert is None:
                raise NotFound("alert_not_found")
            try:
                await conversation_access(services, u.tx, actor, alert.conversation_id)
            except NotFound:
                raise NotFound("alert_not_found") from None
            now = services.clock.now()
            try:
                done, event = core.acknowledge(alert, actor.id, kind, now, new_id())
            except core.AlreadyAcknowledged:
                by = await u.tx.people.get(actor.org_id, alert.acknowledged_by) if alert.acknowledged_by else None
                at = alert.acknowledged_at or now
                raise Conflict("alert_already_acknowledged", name=by.name if by else "",
                               at=at.astimezone(core.LOCAL_TIME).strftime("%H:%M")) from None
            if not await u.tx.alerts.save(done, alert.version):
                continue  # escalated meanwhile: read it again
            await u.tx.alerts.add_events([event])
            await u.audit(actor.org_id, "alert.acknowledged", actor.id, "alert", alert.id, ack=kind.value,
                          step=done.step, conversation=str(done.conversation_id))
            _changed(u, done)
            return Acknowledged((await _views(u.tx, actor, [done]))[0], kind)
    raise Conflict("alert_busy")


# --- reading ---------------------------------------------------------------------------------
async def _target_name(tx: Transaction, org_id: uuid.UUID, target: AlertTarget, names: dict[uuid.UUID, str]) -> str:
    if target.kind is TargetKind.PERSON and target.person_id is not None:
        return names.get(target.person_id, "")
    if target.kind is TargetKind.ROLE:
        return f"@{target.address}"
    team = await tx.teams.get(org_id, target.team_id) if target.team_id else None
    return team.name if team else ""


async def _views(tx: Transaction, actor: Actor, alerts: Sequence[Alert]) -> list[AlertView]:
    events = await tx.alerts.events_of([a.id for a in alerts])
    ids: set[uuid.UUID] = set()
    for a in alerts:
        ids |= {a.raised_by, *a.targeted, *([a.acknowledged_by] if a.acknowledged_by else []),
                *([a.target.person_id] if a.target.person_id else [])}
    for e in events:
        ids |= set(e.people) | ({e.actor_id} if e.actor_id else set())
    names = {p.id: p.name for p in await tx.people.many(actor.org_id, list(ids))}
    out = []
    for a in alerts:
        lines = tuple(TimelineLine(e.at, e.kind, e.step, tuple(names.get(p, "") for p in e.people),
                                   names.get(e.actor_id) if e.actor_id else None, e.ack)
                      for e in events if e.alert_id == a.id)
        target_name = await _target_name(tx, actor.org_id, a.target, names)
        out.append(AlertView(
            a.id, a.conversation_id, a.message_seq, a.target.kind, target_name,
            names.get(a.raised_by, ""), a.raised_at, a.state is core.AlertState.OPEN, a.late, a.exhausted, a.step,
            a.due_at, tuple(names.get(p, "") for p in a.current),
            names.get(a.acknowledged_by) if a.acknowledged_by else None, a.acknowledged_at, a.ack,
            a.state is core.AlertState.OPEN and a.may_acknowledge(actor.id), lines))
    return out


async def of_conversation(services: Services, actor: Actor, conversation_id: uuid.UUID) -> list[AlertView]:
    """The conversation's alerts with their timelines, latest first (members only)."""
    async with services.db.transaction() as tx:
        await conversation_access(services, tx, actor, conversation_id)
        return await _views(tx, actor, await tx.alerts.of_conversation(actor.org_id, conversation_id))


async def alert_view(services: Services, actor: Actor, alert_id: uuid.UUID) -> AlertView:
    async with services.db.transaction() as tx:
        alert = await tx.alerts.get(actor.org_id, alert_id)
        if alert is None:
            raise NotFound("alert_not_found")
        try:
            await conversation_access(services, tx, actor, alert.conversation_id)
        except NotFound:
            raise NotFound("alert_not_found") from None
        return (await _views(tx, actor, [alert]))[0]


async def open_alerts(services: Services, actor: Actor) -> list[AlertView]:
    """The organisation's open alerts, late ones included, for the director and the nurse
    managers' console page (no conversation title: a care case's names a patient). Audited."""
    if actor.person.role not in CONSOLE_ROLES:
        raise Forbidden("alert_console_only")
    async with services.unit(actor.ip) as u:
        found = await u.tx.alerts.open_in(actor.org_id)
        await u.audit(actor.org_id, "alert.list_viewed", actor.id, "organisation", actor.org_id, count=len(found))
        return await _views(u.tx, actor, found)


async def choices(services: Services, actor: Actor, conversation_id: uuid.UUID) -> list[TargetChoice]:
    """Whom the composer offers as the one who must act: the conversation's other members, the
    role addresses, and each team's on-call person. None in a conversation that takes no alert."""
    async with services.db.transaction() as tx:
        a = await conversation_access(services, tx, actor, conversation_id)
        if a.conversation.kind in NO_ALERT_KINDS:
            return []
        members = [m.person_id for m in await tx.conversations.members(conversation_id) if m.person_id != actor.id]
        people = sorted((p for p in await tx.people.many(actor.org_id, members) if p.status is PersonStatus.ACTIVE),
                        key=lambda p: p.name.lower())
        out = [TargetChoice(AlertTarget(TargetKind.PERSON, person_id=p.id).encode(), TargetKind.PERSON, p.name)
               for p in people]
        out += [TargetChoice(AlertTarget(TargetKind.ROLE, address=r.slug).encode(), TargetKind.ROLE,
                             f"@{r.slug} — {r.label}") for r in await duty.role_addresses(tx, actor.org_id)]
        out += [TargetChoice(AlertTarget(TargetKind.ON_CALL, team_id=t.id).encode(), TargetKind.ON_CALL, t.name)
                for t in sorted(await tx.teams.all(actor.org_id), key=lambda t: t.name.lower())]
        return out

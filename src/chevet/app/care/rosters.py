"""Editing a team's duty roster in the console: shift patterns, assignments, role addresses.

Whoever may manage teams (administrator, manager, director) edits rosters. Every change is one
transaction with its audit entry; nothing of it is care content. An organisation starts with the
two usual role addresses (``garde`` « Infirmière de garde », ``astreinte-medicale`` « Astreinte
médicale »), made the first time its rosters are looked at or changed; they can be renamed,
removed, and others added.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from chevet.app.access import require
from chevet.app.services import Actor, Services, Unit
from chevet.core.care import roster
from chevet.core.care.roster import (
    DEFAULT_ROLES,
    MAX_SHIFTS_PER_TEAM,
    ROLE_LABEL_MAX,
    SHIFT_NAME_MAX,
    Assignment,
    DutyKind,
    RoleAddress,
    ShiftPattern,
)
from chevet.core.entities import Person, PersonStatus, Team
from chevet.core.errors import Conflict, InvalidInput, NotFound
from chevet.core.ids import new_id
from chevet.core.roles import Permission
from chevet.ports import Transaction

MAX_RANK = 9


@dataclass(frozen=True, slots=True)
class AssignmentView:
    id: uuid.UUID
    person_id: uuid.UUID
    person_name: str
    kind: DutyKind
    starts_at: datetime
    ends_at: datetime
    shift_name: str | None
    role_slug: str | None
    role_label: str | None
    rank: int


@dataclass(frozen=True, slots=True)
class RosterDay:
    day: date
    assignments: tuple[AssignmentView, ...]
    shifts: tuple[roster.ShiftOccurrence, ...]  # the team's shift occurrences starting that day


@dataclass(frozen=True, slots=True)
class PersonChoice:
    id: uuid.UUID
    name: str


@dataclass(frozen=True, slots=True)
class RosterWeek:
    """A team's week for the console: each local day's assignments, the team's shifts, the
    role addresses and the people one may assign."""

    team: Team
    teams: tuple[Team, ...]
    monday: date
    days: tuple[RosterDay, ...]
    shifts: tuple[ShiftPattern, ...]
    roles: tuple[RoleAddress, ...]
    people: tuple[PersonChoice, ...]
    on_shift_now: tuple[str, ...]  # names of who is on duty or on call now
    shift_now: str | None


async def _team(tx: Transaction, org_id: uuid.UUID, team_id: uuid.UUID) -> Team:
    team = await tx.teams.get(org_id, team_id)
    if team is None:
        raise NotFound("team_not_found")
    return team


async def ensure_default_roles(u: Unit, org_id: uuid.UUID, actor_id: uuid.UUID | None) -> list[RoleAddress]:
    """The organisation's role addresses; the two usual ones are made when it has none."""
    roles = await u.tx.rosters.roles(org_id)
    if roles:
        return roles
    now = u.services.clock.now()
    for slug, label in DEFAULT_ROLES:
        role = RoleAddress(new_id(), org_id, slug, label, None, now)
        await u.tx.rosters.add_role(role)
        await u.audit(org_id, "roster.role_added", actor_id, "roster_role", role.id, slug=slug, default=True)
    return await u.tx.rosters.roles(org_id)


# --- the week -------------------------------------------------------------------------------

async def week(services: Services, actor: Actor, team_id: uuid.UUID | None, week_of: date) -> RosterWeek | None:
    """The week (Monday to Sunday, Europe/Paris) of ``week_of`` for the team; the first team
    when none is named; None when the organisation has no team yet."""
    require(actor, Permission.MANAGE_TEAMS)
    now = services.clock.now()
    async with services.unit(actor.ip) as u:
        roles = await ensure_default_roles(u, actor.org_id, actor.id)
        teams = sorted(await u.tx.teams.all(actor.org_id), key=lambda t: t.name.casefold())
        if not teams:
            return None
        team = await _team(u.tx, actor.org_id, team_id) if team_id else teams[0]
        monday = roster.week_start(week_of)
        start = roster.local_instant(monday, 0)
        end = roster.local_instant(monday + timedelta(days=7), 0)
        shifts = await u.tx.rosters.shifts(actor.org_id, team.id)
        rows = await u.tx.rosters.between(actor.org_id, team.id, start, end)
        people = [p for p in await u.tx.people.search(actor.org_id, "", 1000)]
        names = {p.id: p.name for p in people}
        missing = [a.person_id for a in rows if a.person_id not in names]
        names.update({p.id: p.name for p in await u.tx.people.many(actor.org_id, missing)})
        now_rows = await u.tx.rosters.at(actor.org_id, team.id, now)
        shift_now = roster.shift_at(shifts, now)
    by_role = {r.id: r for r in roles}
    by_shift = {s.id: s.name for s in shifts}
    views = [AssignmentView(a.id, a.person_id, names.get(a.person_id, ""), a.kind, a.starts_at, a.ends_at,
                            by_shift.get(a.shift_id) if a.shift_id else None,
                            by_role[a.role_id].slug if a.role_id in by_role else None,
                            by_role[a.role_id].label if a.role_id in by_role else None, a.rank) for a in rows]
    days = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        lo, hi = roster.local_instant(day, 0), roster.local_instant(day + timedelta(days=1), 0)
        mine = tuple(sorted((v for v in views if v.starts_at < hi and v.ends_at > lo),
                            key=lambda v: (v.starts_at, v.kind is not DutyKind.DUTY, v.rank, v.person_name)))
        days.append(RosterDay(day, mine, tuple(s.occurrence(day) for s in shifts)))
    choices = tuple(PersonChoice(p.id, p.name) for p in sorted(people, key=lambda p: p.name.casefold())
                    if p.status is not PersonStatus.DEACTIVATED)
    return RosterWeek(team, tuple(teams), monday, tuple(days), tuple(shifts), tuple(roles), choices,
                      tuple(names.get(p, "") for p in roster.on_shift_people(now_rows, now)),
                      shift_now.name if shift_now else None)


# --- shift patterns -----------------------------------------------------------------------------

async def add_shift(services: Services, actor: Actor, team_id: uuid.UUID, name: str, starts: str,
                    ends: str) -> ShiftPattern:
    """A shift of the team in Paris wall-clock time; an end at or before the start is the next day."""
    require(actor, Permission.MANAGE_TEAMS)
    clean = roster.clean_label(name, "shift_name_invalid", SHIFT_NAME_MAX)
    start, end = roster.parse_clock(starts), roster.parse_clock(ends)
    async with services.unit(actor.ip) as u:
        await _team(u.tx, actor.org_id, team_id)
        existing = await u.tx.rosters.shifts(actor.org_id, team_id)
        if any(s.name.casefold() == clean.casefold() for s in existing):
            raise Conflict("shift_exists")
        if len(existing) >= MAX_SHIFTS_PER_TEAM:
            raise InvalidInput("too_many_shifts", max=MAX_SHIFTS_PER_TEAM)
        shift = ShiftPattern(new_id(), actor.org_id, team_id, clean, start, end, services.clock.now())
        await u.tx.rosters.add_shift(shift)
        await u.audit(actor.org_id, "roster.shift_added", actor.id, "roster_shift", shift.id, team=str(team_id),
                      starts=roster.format_clock(start), ends=roster.format_clock(end))
    return shift


async def change_shift(services: Services, actor: Actor, shift_id: uuid.UUID, name: str, starts: str,
                       ends: str) -> ShiftPattern:
    """New name or hours for the shift, from its next use on; assignments already made keep theirs."""
    require(actor, Permission.MANAGE_TEAMS)
    clean = roster.clean_label(name, "shift_name_invalid", SHIFT_NAME_MAX)
    start, end = roster.parse_clock(starts), roster.parse_clock(ends)
    async with services.unit(actor.ip) as u:
        shift = await u.tx.rosters.get_shift(actor.org_id, shift_id)
        if shift is None:
            raise NotFound("shift_not_found")
        others = [s for s in await u.tx.rosters.shifts(actor.org_id, shift.team_id) if s.id != shift.id]
        if any(s.name.casefold() == clean.casefold() for s in others):
            raise Conflict("shift_exists")
        changed = ShiftPattern(shift.id, shift.org_id, shift.team_id, clean, start, end, shift.created_at)
        await u.tx.rosters.update_shift(changed)
        await u.audit(actor.org_id, "roster.shift_changed", actor.id, "roster_shift", shift.id,
                      team=str(shift.team_id), starts=roster.format_clock(start), ends=roster.format_clock(end))
    return changed


async def remove_shift(services: Services, actor: Actor, shift_id: uuid.UUID) -> None:
    """The shift goes; assignments made from it keep their hours."""
    require(actor, Permission.MANAGE_TEAMS)
    async with services.unit(actor.ip) as u:
        shift = await u.tx.rosters.get_shift(actor.org_id, shift_id)
        if shift is None or not await u.tx.rosters.remove_shift(actor.org_id, shift_id):
            raise NotFound("shift_not_found")
        await u.audit(actor.org_id, "roster.shift_removed", actor.id, "roster_shift", shift_id,
                      team=str(shift.team_id))


# --- assignments --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NewAssignment:
    """What the console's form or an import line asks for. Either ``shift_id`` and ``day`` (the
    shift's occurrence starting that local day) or ``starts_at`` and ``ends_at`` (with the shift
    they match, if any)."""

    person_id: uuid.UUID
    kind: DutyKind
    day: date | None = None
    shift_id: uuid.UUID | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    role_id: uuid.UUID | None = None
    rank: int = 1


def parse_kind(value: str) -> DutyKind:
    try:
        return DutyKind(value)
    except ValueError:
        raise InvalidInput("duty_kind_invalid") from None


async def _person(tx: Transaction, org_id: uuid.UUID, person_id: uuid.UUID) -> Person:
    person = await tx.people.get(org_id, person_id)
    if person is None or person.status is PersonStatus.DEACTIVATED:
        raise NotFound("person_not_found")
    return person


async def _overlapping(tx: Transaction, a: Assignment) -> Assignment | None:
    return next((x for x in await tx.rosters.between(a.org_id, a.team_id, a.starts_at, a.ends_at)
                 if x.person_id == a.person_id), None)


async def assign_in(u: Unit, actor_id: uuid.UUID | None, org_id: uuid.UUID, team_id: uuid.UUID,
                    new: NewAssignment, *, via: str = "console") -> Assignment:
    """Check and add one assignment inside an open unit of work (the console, an import)."""
    now = u.services.clock.now()
    if not 1 <= new.rank <= MAX_RANK:
        raise InvalidInput("roster_rank_invalid", max=MAX_RANK)
    await _person(u.tx, org_id, new.person_id)
    shift_id = None
    if new.shift_id is not None:
        shift = await u.tx.rosters.get_shift(org_id, new.shift_id)
        if shift is None or shift.team_id != team_id or (new.day is None and new.starts_at is None):
            raise NotFound("shift_not_found")
        shift_id = shift.id
        if new.day is not None:
            occ = shift.occurrence(new.day)
            starts_at, ends_at = occ.starts_at, occ.ends_at
    if shift_id is None or new.day is None:
        if new.starts_at is None or new.ends_at is None:
            raise InvalidInput("roster_period_invalid")
        starts_at, ends_at = new.starts_at, new.ends_at
    roster.check_period(starts_at, ends_at, now)
    if new.role_id is not None and await u.tx.rosters.get_role(org_id, new.role_id) is None:
        raise NotFound("role_not_found")
    a = Assignment(new_id(), org_id, team_id, new.person_id, new.kind, starts_at, ends_at, shift_id, new.role_id,
                   new.rank, now, actor_id)
    if await _overlapping(u.tx, a) is not None:
        raise Conflict("assignment_overlaps")
    await u.tx.rosters.add_assignment(a)
    await u.audit(org_id, "roster.assignment_added", actor_id, "roster_assignment", a.id, team=str(team_id),
                  person=str(a.person_id), kind=a.kind.value, starts_at=a.starts_at.isoformat(),
                  ends_at=a.ends_at.isoformat(), role=str(a.role_id) if a.role_id else None, rank=a.rank, via=via)
    return a


async def add_assignment(services: Services, actor: Actor, team_id: uuid.UUID, new: NewAssignment) -> Assignment:
    require(actor, Permission.MANAGE_TEAMS)
    async with services.unit(actor.ip) as u:
        await _team(u.tx, actor.org_id, team_id)
        await ensure_default_roles(u, actor.org_id, actor.id)
        return await assign_in(u, actor.id, actor.org_id, team_id, new)


async def remove_assignment(services: Services, actor: Actor, assignment_id: uuid.UUID) -> Assignment:
    require(actor, Permission.MANAGE_TEAMS)
    async with services.unit(actor.ip) as u:
        a = await u.tx.rosters.get_assignment(actor.org_id, assignment_id)
        if a is None or not await u.tx.rosters.remove_assignment(actor.org_id, assignment_id):
            raise NotFound("assignment_not_found")
        await u.audit(actor.org_id, "roster.assignment_removed", actor.id, "roster_assignment", a.id,
                      team=str(a.team_id), person=str(a.person_id), kind=a.kind.value,
                      starts_at=a.starts_at.isoformat(), ends_at=a.ends_at.isoformat())
    return a


# --- role addresses -----------------------------------------------------------------------------

async def add_role(services: Services, actor: Actor, slug: str, label: str,
                   team_id: uuid.UUID | None = None) -> RoleAddress:
    require(actor, Permission.MANAGE_TEAMS)
    clean = roster.clean_slug(slug)
    text = roster.clean_label(label, "role_label_invalid", ROLE_LABEL_MAX)
    async with services.unit(actor.ip) as u:
        await ensure_default_roles(u, actor.org_id, actor.id)
        if team_id is not None:
            await _team(u.tx, actor.org_id, team_id)
        if await u.tx.rosters.role_by_slug(actor.org_id, clean) is not None:
            raise Conflict("role_exists")
        role = RoleAddress(new_id(), actor.org_id, clean, text, team_id, services.clock.now())
        await u.tx.rosters.add_role(role)
        await u.audit(actor.org_id, "roster.role_added", actor.id, "roster_role", role.id, slug=clean)
    return role


async def rename_role(services: Services, actor: Actor, role_id: uuid.UUID, label: str) -> RoleAddress:
    require(actor, Permission.MANAGE_TEAMS)
    text = roster.clean_label(label, "role_label_invalid", ROLE_LABEL_MAX)
    async with services.unit(actor.ip) as u:
        role = await u.tx.rosters.get_role(actor.org_id, role_id)
        if role is None:
            raise NotFound("role_not_found")
        renamed = RoleAddress(role.id, role.org_id, role.slug, text, role.team_id, role.created_at)
        await u.tx.rosters.update_role(renamed)
        await u.audit(actor.org_id, "roster.role_changed", actor.id, "roster_role", role.id, slug=role.slug)
    return renamed


async def remove_role(services: Services, actor: Actor, role_id: uuid.UUID) -> None:
    """The address goes; the assignments that held it keep their hours, without the role."""
    require(actor, Permission.MANAGE_TEAMS)
    async with services.unit(actor.ip) as u:
        role = await u.tx.rosters.get_role(actor.org_id, role_id)
        if role is None or not await u.tx.rosters.remove_role(actor.org_id, role_id):
            raise NotFound("role_not_found")
        await u.audit(actor.org_id, "roster.role_removed", actor.id, "roster_role", role_id, slug=role.slug)


async def role_choices(services: Services, actor: Actor) -> list[RoleAddress]:
    """The role addresses anyone may write to (a new conversation's picker)."""
    async with services.db.transaction() as tx:
        return await tx.rosters.roles(actor.org_id)

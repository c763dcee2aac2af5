"""Who receives the organisation's reports: the administrator's view of the designations (with
who counts by role), and the count by role that the report form turns into a sentence.
Reading changes nothing, so neither writes an audit entry."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from chevet.app.services import Actor, Services
from chevet.core.entities import Person, PersonStatus
from chevet.core.errors import Forbidden
from chevet.core.roles import Permission, Role, can
from chevet.core.signalement.recipients import Receivers, receivers_of
from chevet.core.signalement.report import ReportFunction

_EVERYONE = 5000  # an organisation's people, all of them (the largest groups have a few thousand)


@dataclass(frozen=True, slots=True)
class Recipient:
    """One person who receives reports, and why: ``designated`` (removable), or by ``role``."""

    person_id: uuid.UUID
    name: str
    role: Role
    designated: bool
    active: bool


@dataclass(frozen=True, slots=True)
class Candidate:
    person_id: uuid.UUID
    name: str
    role: Role


@dataclass(frozen=True, slots=True)
class RecipientsView:
    quality_leads: tuple[Recipient, ...]
    directors: tuple[Recipient, ...]
    candidates: tuple[Candidate, ...]  # who may be designated: active members of the staff
    receivers: Receivers


def _by_name(people: list[Person]) -> list[Person]:
    return sorted(people, key=lambda p: (p.name.casefold(), str(p.id)))


async def recipients(services: Services, actor: Actor) -> RecipientsView:
    """The administrators' page: quality leads, directors (by role or designation), candidates."""
    if not can(actor.person.role, Permission.MANAGE_ORGANISATION):
        raise Forbidden("forbidden")
    async with services.db.transaction() as tx:
        people = _by_name(await tx.people.search(actor.org_id, "", _EVERYONE))
        designations = await tx.reports.designations(actor.org_id)
    chosen: dict[uuid.UUID, set[ReportFunction]] = {}
    for pid, fn in designations:
        chosen.setdefault(pid, set()).add(fn)

    def line(p: Person, designated: bool) -> Recipient:
        return Recipient(p.id, p.name, p.role, designated, p.status is PersonStatus.ACTIVE)

    qls = tuple(line(p, True) for p in people if ReportFunction.QUALITY_LEAD in chosen.get(p.id, set()))
    directors = tuple(line(p, ReportFunction.DIRECTOR in chosen.get(p.id, set()) and p.role not in
                           (Role.ADMIN, Role.DIRECTOR))
                      for p in people
                      if (p.role in (Role.ADMIN, Role.DIRECTOR) and p.status is PersonStatus.ACTIVE)
                      or ReportFunction.DIRECTOR in chosen.get(p.id, set()))
    candidates = tuple(Candidate(p.id, p.name, p.role) for p in people
                       if p.status is PersonStatus.ACTIVE and p.role is not Role.EXTERNAL)
    return RecipientsView(qls, directors, candidates, receivers_of(people, designations))


async def receivers(services: Services, actor: Actor) -> Receivers:
    """How many people of each function would receive a report filed now (for the form)."""
    async with services.db.transaction() as tx:
        people = await tx.people.search(actor.org_id, "", _EVERYONE)
        designations = await tx.reports.designations(actor.org_id)
    return receivers_of(people, designations)

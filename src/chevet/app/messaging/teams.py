"""Teams and units ("Unité Alzheimer", "Nuit"): who works together, for team channels."""

from __future__ import annotations

import uuid

from typing_extensions import TypedDict

from chevet.app.access import require
from chevet.app.services import Actor, Services
from chevet.core.entities import TEAM_NAME_MAX, PersonStatus, Team
from chevet.core.errors import Conflict, InvalidInput, NotFound
from chevet.core.ids import new_id
from chevet.core.roles import Permission

MAX_NAME = TEAM_NAME_MAX


class TeamView(TypedDict):
    id: str
    name: str
    member_ids: list[str]
    created_at: str


def team_view(team: Team, member_ids: list[uuid.UUID]) -> TeamView:
    return {"id": str(team.id), "name": team.name, "member_ids": [str(m) for m in member_ids],
            "created_at": team.created_at.isoformat()}


async def create_team(services: Services, actor: Actor, name: str,
                      member_ids: list[uuid.UUID] | None = None) -> TeamView:
    require(actor, Permission.MANAGE_TEAMS)
    clean = " ".join((name or "").split())
    if not clean or len(clean) > MAX_NAME:
        raise InvalidInput("team_name_invalid", max=MAX_NAME)
    ids = list(dict.fromkeys(member_ids or []))
    async with services.unit(actor.ip) as u:
        if any(t.name.casefold() == clean.casefold() for t in await u.tx.teams.all(actor.org_id)):
            raise Conflict("team_exists")
        people = await u.tx.people.many(actor.org_id, ids)
        if len(people) != len(ids) or any(p.status is PersonStatus.DEACTIVATED for p in people):
            raise InvalidInput("unknown_member")
        team = Team(id=new_id(), org_id=actor.org_id, name=clean, created_at=services.clock.now())
        await u.tx.teams.add(team)
        for pid in ids:
            await u.tx.teams.add_member(team.id, pid)
        await u.audit(actor.org_id, "team.created", actor.id, "team", team.id, members=len(ids))
    return team_view(team, ids)


async def list_teams(services: Services, actor: Actor) -> list[TeamView]:
    async with services.db.transaction() as tx:
        return [team_view(t, await tx.teams.member_ids(t.id)) for t in await tx.teams.all(actor.org_id)]


async def add_team_member(services: Services, actor: Actor, team_id: uuid.UUID, person_id: uuid.UUID) -> None:
    require(actor, Permission.MANAGE_TEAMS)
    async with services.unit(actor.ip) as u:
        team = await u.tx.teams.get(actor.org_id, team_id)
        person = await u.tx.people.get(actor.org_id, person_id)
        if team is None:
            raise NotFound("team_not_found")
        if person is None or person.status is PersonStatus.DEACTIVATED:
            raise NotFound("person_not_found")
        if person_id in await u.tx.teams.member_ids(team_id):
            raise InvalidInput("already_member")
        await u.tx.teams.add_member(team_id, person_id)
        await u.audit(actor.org_id, "team.member_added", actor.id, "team", team_id, person=str(person_id))


async def remove_team_member(services: Services, actor: Actor, team_id: uuid.UUID, person_id: uuid.UUID) -> None:
    require(actor, Permission.MANAGE_TEAMS)
    async with services.unit(actor.ip) as u:
        if await u.tx.teams.get(actor.org_id, team_id) is None:
            raise NotFound("team_not_found")
        if person_id not in await u.tx.teams.member_ids(team_id):
            raise NotFound("person_not_found")
        await u.tx.teams.remove_member(team_id, person_id)
        await u.audit(actor.org_id, "team.member_removed", actor.id, "team", team_id, person=str(person_id))

"""The organisation's teams and their members inside one unit of work, for provisioning many
people at once (a staff file, a directory sync): a team is found by its name (case and spacing
aside) or created, a person joins or leaves it once, and every change leaves its audit entry."""

from __future__ import annotations

import uuid

from chevet.app.services import Unit
from chevet.core.entities import TEAM_NAME_MAX, Team
from chevet.core.ids import new_id


def team_key(name: str) -> str:
    return " ".join(name.split()).casefold()


class TeamRoster:
    def __init__(self, u: Unit, org_id: uuid.UUID, actor_id: uuid.UUID | None, via: str) -> None:
        self.u, self.org_id, self.actor_id, self.via = u, org_id, actor_id, via
        self.teams: dict[str, Team] = {}
        self.members: dict[uuid.UUID, set[uuid.UUID]] = {}
        self.created = 0

    @classmethod
    async def load(cls, u: Unit, org_id: uuid.UUID, actor_id: uuid.UUID | None, via: str) -> TeamRoster:
        roster = cls(u, org_id, actor_id, via)
        for t in await u.tx.teams.all(org_id):
            roster.teams[team_key(t.name)] = t
            roster.members[t.id] = set(await u.tx.teams.member_ids(t.id))
        return roster

    def exists(self, name: str) -> bool:
        return team_key(name) in self.teams

    def teams_of(self, person_id: uuid.UUID) -> frozenset[str]:
        """The names of the teams the person is in, as they are written."""
        return frozenset(t.name for t in self.teams.values() if person_id in self.members[t.id])

    async def team(self, name: str) -> Team:
        """The team of that name, created (and audited) when there is none."""
        team = self.teams.get(team_key(name))
        if team is None:
            team = Team(id=new_id(), org_id=self.org_id, name=" ".join(name.split())[:TEAM_NAME_MAX],
                        created_at=self.u.services.clock.now())
            await self.u.tx.teams.add(team)
            self.teams[team_key(name)], self.members[team.id] = team, set()
            self.created += 1
            await self.u.audit(self.org_id, "team.created", self.actor_id, "team", team.id, members=0, via=self.via)
        return team

    async def join(self, name: str, person_id: uuid.UUID) -> None:
        team = await self.team(name)
        if person_id not in self.members[team.id]:
            await self.u.tx.teams.add_member(team.id, person_id)
            self.members[team.id].add(person_id)
            await self.u.audit(self.org_id, "team.member_added", self.actor_id, "team", team.id,
                               person=str(person_id), via=self.via)

    async def leave(self, name: str, person_id: uuid.UUID) -> None:
        team = self.teams.get(team_key(name))
        if team is not None and person_id in self.members[team.id]:
            await self.u.tx.teams.remove_member(team.id, person_id)
            self.members[team.id].discard(person_id)
            await self.u.audit(self.org_id, "team.member_removed", self.actor_id, "team", team.id,
                               person=str(person_id), via=self.via)

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import Field, StrictStr

from chevet.app.messaging import teams
from chevet.app.messaging.teams import TeamView
from chevet.core.ids import parse_id
from chevet.web.api.models import Body, Id
from chevet.web.api.openapi import refusals
from chevet.web.deps import ActorDep, ServicesDep

router = APIRouter(tags=["teams"])


class TeamIn(Body):
    name: StrictStr = Field(max_length=200)
    member_ids: list[Id] = Field(default_factory=list, max_length=1000)


class TeamMemberIn(Body):
    person_id: Id


@router.get("/teams")
async def list_teams(actor: ActorDep, svc: ServicesDep) -> list[TeamView]:
    return await teams.list_teams(svc, actor)


@router.post("/teams", status_code=201, responses=refusals(409))
async def create_team(body: TeamIn, actor: ActorDep, svc: ServicesDep) -> TeamView:
    return await teams.create_team(svc, actor, body.name, body.member_ids)


@router.post("/teams/{team_id}/members", status_code=204)
async def add_member(team_id: str, body: TeamMemberIn, actor: ActorDep, svc: ServicesDep) -> Response:
    await teams.add_team_member(svc, actor, parse_id(team_id), body.person_id)
    return Response(status_code=204)


@router.delete("/teams/{team_id}/members/{person_id}", status_code=204)
async def remove_member(team_id: str, person_id: str, actor: ActorDep, svc: ServicesDep) -> Response:
    await teams.remove_team_member(svc, actor, parse_id(team_id), parse_id(person_id))
    return Response(status_code=204)

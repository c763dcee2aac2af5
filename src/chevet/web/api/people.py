from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field, StrictInt

from chevet.app.identity import people
from chevet.app.messaging.views import PersonView, person_view
from chevet.core.ids import parse_id
from chevet.web.api.models import Digits, InviteIn, RoleIn
from chevet.web.api.openapi import refusals
from chevet.web.deps import ActorDep, ServicesDep
from chevet.web.invitation_mail import invitation_mail

router = APIRouter(tags=["people"])


class InvitedView(PersonView):
    invitation_token: str
    mailed: bool  # the link's e-mail is queued for the installation's relay ([mail_relay])


@router.get("/users")
async def users(actor: ActorDep, svc: ServicesDep, q: str = Query("", max_length=100),
                limit: Annotated[StrictInt, Field(ge=1, le=200), Digits, Query()] = 50) -> list[PersonView]:
    """People of the caller's own organisation only."""
    return [person_view(p) for p in await people.search_people(svc, actor, q, limit)]


@router.post("/users/invitations", status_code=201, responses=refusals(409))
async def invite(body: InviteIn, request: Request, actor: ActorDep, svc: ServicesDep) -> InvitedView:
    """The one-time link's e-mail to the invitee is queued with the invitation when the relay is
    configured (``mailed``: it leaves from the server's outbox in a moment, with retries); the
    token is returned either way."""
    days = max(1, round(svc.policy.invitation_lifetime.total_seconds() / 86400))
    invited = await people.invite_person(svc, actor.organisation, actor, email=body.email, name=body.name,
                                         role=body.role, rpps=body.rpps,
                                         mail=invitation_mail(request.app.state.settings.origin,
                                                              actor.organisation.name, days))
    return {**person_view(invited.person), "invitation_token": invited.token, "mailed": invited.mail_queued}


@router.put("/users/{person_id}/role")
async def set_role(person_id: str, body: RoleIn, actor: ActorDep, svc: ServicesDep) -> PersonView:
    return person_view(await people.set_role(svc, actor, parse_id(person_id), body.role))


@router.post("/users/{person_id}/deactivate", status_code=204)
async def deactivate(person_id: str, actor: ActorDep, svc: ServicesDep) -> Response:
    await people.deactivate(svc, actor, parse_id(person_id))
    return Response(status_code=204)

"""Request-scoped dependencies: the installation's services and the signed-in actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from chevet.app import auth
from chevet.app.services import Actor, Services
from chevet.core.errors import AuthenticationFailed

SESSION_COOKIE = "chevet_session"


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def bearer_token(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


async def actor(request: Request, svc: Annotated[Services, Depends(services)]) -> Actor:
    token = bearer_token(request.headers.get("authorization")) or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise AuthenticationFailed("authentication_required")
    return await auth.authenticate(svc, token, client_ip(request))


ServicesDep = Annotated[Services, Depends(services)]
ActorDep = Annotated[Actor, Depends(actor)]

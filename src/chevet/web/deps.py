"""Request-scoped dependencies: the installation's services and the signed-in actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from chevet.app.identity import auth
from chevet.app.services import Actor, Services
from chevet.core.errors import AuthenticationFailed, LockedOut
from chevet.web.sessioncache import SessionCache

SESSION_COOKIE = "chevet_session"


async def services(request: Request) -> Services:
    # Async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, a thread
    # hop on every request for a dictionary lookup.
    svc: Services = request.app.state.services
    return svc


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def limit_attempts(request: Request, bucket: str) -> None:
    """Per-address limit on guessing endpoints (sign-in, invitations, follow-up codes…), shared
    by the API and the pages: the same window for both."""
    wait = request.app.state.login_limiter.allow(f"{bucket}:{client_ip(request) or '?'}")
    if wait:
        raise LockedOut("rate_limited", retry_after=wait)


def bearer_token(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


async def actor(request: Request, svc: Annotated[Services, Depends(services)]) -> Actor:
    token = bearer_token(request.headers.get("authorization")) or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise AuthenticationFailed("authentication_required")
    ip = client_ip(request)
    cache: SessionCache | None = getattr(request.app.state, "session_cache", None)
    if cache is None:
        return await auth.authenticate(svc, token, ip)
    if cache.may_change_access(request.method, request.scope["path"]):  # ForgetOnChange emptied the cache
        return await auth.authenticate(svc, token, ip)
    if (known := cache.get(token, ip)) is not None:
        return known
    found = await auth.authenticate(svc, token, ip)
    cache.put(token, found)
    return found


ServicesDep = Annotated[Services, Depends(services)]
ActorDep = Annotated[Actor, Depends(actor)]

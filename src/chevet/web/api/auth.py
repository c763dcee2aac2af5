from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from typing_extensions import TypedDict

from chevet.app.identity import auth, people
from chevet.app.messaging.views import PersonView, SessionView, person_view, session_view
from chevet.core.ids import parse_id
from chevet.web.api.models import AcceptIn, ConfirmIn, LoginIn
from chevet.web.api.openapi import refusals
from chevet.web.deps import ActorDep, ServicesDep, client_ip, limit_attempts
from chevet.web.qr import qr_svg

router = APIRouter(tags=["authentication"])


class LoginView(TypedDict):
    token: str
    expires_at: str
    session_id: str
    user: PersonView


class InvitationView(TypedDict):
    email: str
    name: str
    role: str


class EnrolmentView(TypedDict):
    totp_secret: str
    otpauth_uri: str
    qr_svg: str


@router.post("/auth/login", responses=refusals(401, 429))
async def login(body: LoginIn, request: Request, svc: ServicesDep) -> LoginView:
    """Sign in with e-mail, password and the current TOTP code. Returns a bearer token."""
    limit_attempts(request, "login")
    signed = await auth.login(svc, body.email, body.password, body.otp, ip=client_ip(request),
                              user_agent=request.headers.get("user-agent", ""))
    return {"token": signed.token, "expires_at": signed.session.expires_at.isoformat(),
            "session_id": str(signed.session.id), "user": person_view(signed.person, signed.organisation)}


@router.post("/auth/logout", status_code=204)
async def logout(actor: ActorDep, svc: ServicesDep) -> Response:
    await auth.logout(svc, actor)
    return Response(status_code=204)


@router.get("/auth/sessions")
async def list_sessions(actor: ActorDep, svc: ServicesDep) -> list[SessionView]:
    return [session_view(s, actor.session_id) for s in await auth.sessions(svc, actor)]


@router.delete("/auth/sessions/{session_id}", status_code=204)
async def revoke_session(session_id: str, actor: ActorDep, svc: ServicesDep) -> Response:
    await auth.revoke_session(svc, actor, parse_id(session_id))
    return Response(status_code=204)


@router.get("/invitations/{token}", responses=refusals(429))
async def invitation(token: str, request: Request, svc: ServicesDep) -> InvitationView:
    limit_attempts(request, "invitation")
    person = await people.invitation_person(svc, token)
    return {"email": person.email, "name": person.name, "role": person.role.value}


@router.post("/invitations/{token}/accept", responses=refusals(409, 429))
async def accept(token: str, body: AcceptIn, request: Request, svc: ServicesDep) -> EnrolmentView:
    """Choose a password; the answer carries the TOTP secret and its QR code (SVG)."""
    limit_attempts(request, "invitation")
    enrolment = await people.accept_invitation(svc, token, body.password, client_ip(request))
    return {"totp_secret": enrolment.totp_secret, "otpauth_uri": enrolment.otpauth_uri,
            "qr_svg": qr_svg(enrolment.otpauth_uri)}


@router.post("/invitations/{token}/confirm", responses=refusals(401, 429))
async def confirm(token: str, body: ConfirmIn, request: Request, svc: ServicesDep) -> PersonView:
    limit_attempts(request, "invitation")
    person = await people.confirm_invitation(svc, token, body.otp, client_ip(request))
    return person_view(person)


@router.get("/me")
async def me(actor: ActorDep) -> PersonView:
    return person_view(actor.person, actor.organisation)

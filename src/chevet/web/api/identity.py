"""Identity endpoints: passkeys, recovery codes, re-authentication, devices, the organisation's
session policy, and Pro Santé Connect for API clients (browsers use /auth/psc/start)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import Field, StrictBool, StrictInt, StrictStr
from typing_extensions import TypedDict

from chevet.app.identity import auth, passkeys, psc
from chevet.app.identity.passkeys import CeremonyView
from chevet.app.messaging.views import PersonView, person_view
from chevet.core.identity import Passkey, SessionPolicy
from chevet.core.ids import parse_id
from chevet.web.api.models import Body
from chevet.web.api.openapi import refusals
from chevet.web.deps import ActorDep, ServicesDep, client_ip, limit_attempts

router = APIRouter(tags=["identity"])


class ReauthIn(Body):
    password: StrictStr = Field(max_length=256)
    otp: StrictStr = Field(max_length=32)


class SignOutAllIn(Body):
    keep_current: StrictBool = False


class SessionPolicyIn(Body):
    idle_minutes: StrictInt
    absolute_minutes: StrictInt
    reauth_minutes: StrictInt


class CredentialIn(Body):
    challenge_id: StrictStr = Field(max_length=64)
    credential: dict[str, Any]


class NewPasskeyIn(CredentialIn):
    name: StrictStr = Field(max_length=100)


class PscSessionIn(Body):
    code: StrictStr = Field(max_length=2000)
    state: StrictStr = Field(max_length=200)
    flow: StrictStr = Field(max_length=2000)


class PasskeyView(TypedDict):
    id: str
    name: str
    created_at: str
    last_used_at: str | None
    transports: list[str]


class SignedInView(TypedDict):
    token: str
    expires_at: str
    session_id: str
    method: str
    user: PersonView


class RevokedView(TypedDict):
    revoked: int


class SessionPolicyView(TypedDict):
    idle_minutes: int
    absolute_minutes: int
    reauth_minutes: int


class RecoveryCodesLeftView(TypedDict):
    remaining: int


class RecoveryCodesView(TypedDict):
    codes: list[str]


class PscInfoView(TypedDict):
    enabled: bool
    start: str


class PscAuthorizationView(TypedDict):
    authorization_url: str
    flow: str


def passkey_view(p: Passkey) -> PasskeyView:
    return {"id": str(p.id), "name": p.name, "created_at": p.created_at.isoformat(),
            "last_used_at": p.last_used_at.isoformat() if p.last_used_at else None,
            "transports": [t for t in p.transports.split(",") if t]}


def signed_in_view(signed: auth.SignedIn) -> SignedInView:
    return {"token": signed.token, "expires_at": signed.session.expires_at.isoformat(),
            "session_id": str(signed.session.id), "method": signed.session.method,
            "user": person_view(signed.person, signed.organisation)}


def _policy_view(policy: SessionPolicy) -> SessionPolicyView:
    minutes = policy.minutes()
    return {"idle_minutes": minutes["idle_minutes"], "absolute_minutes": minutes["absolute_minutes"],
            "reauth_minutes": minutes["reauth_minutes"]}


@router.post("/auth/reauthenticate", status_code=204, responses=refusals(429))
async def reauthenticate(body: ReauthIn, request: Request, actor: ActorDep, svc: ServicesDep) -> Response:
    """Prove again with the password and a TOTP or recovery code, before a sensitive action."""
    limit_attempts(request, "login")
    await auth.reauthenticate(svc, actor, body.password, body.otp)
    return Response(status_code=204)


@router.post("/auth/sessions/revoke-all")
async def sign_out_everywhere(body: SignOutAllIn, actor: ActorDep, svc: ServicesDep) -> RevokedView:
    """Sign out on every device (optionally keeping this one)."""
    return {"revoked": await auth.sign_out_everywhere(svc, actor, keep_current=body.keep_current)}


@router.get("/organisation/session-policy")
async def get_session_policy(actor: ActorDep, svc: ServicesDep) -> SessionPolicyView:
    return _policy_view(await auth.get_session_policy(svc, actor))


@router.put("/organisation/session-policy")
async def set_session_policy(body: SessionPolicyIn, actor: ActorDep, svc: ServicesDep) -> SessionPolicyView:
    """Administrators only, after a recent authentication."""
    policy = await auth.set_session_policy(svc, actor, idle_minutes=body.idle_minutes,
                                           absolute_minutes=body.absolute_minutes, reauth_minutes=body.reauth_minutes)
    return _policy_view(policy)


@router.get("/auth/passkeys")
async def list_passkeys(actor: ActorDep, svc: ServicesDep) -> list[PasskeyView]:
    return [passkey_view(p) for p in await passkeys.list_passkeys(svc, actor)]


@router.post("/auth/passkeys/options")
async def passkey_registration_options(actor: ActorDep, svc: ServicesDep) -> CeremonyView:
    """Options for navigator.credentials.create(); needs a recent authentication."""
    return await passkeys.begin_registration(svc, actor)


@router.post("/auth/passkeys", status_code=201)
async def register_passkey(body: NewPasskeyIn, actor: ActorDep, svc: ServicesDep) -> PasskeyView:
    return passkey_view(await passkeys.finish_registration(svc, actor, parse_id(body.challenge_id),
                                                           body.credential, body.name))


@router.delete("/auth/passkeys/{passkey_id}", status_code=204)
async def revoke_passkey(passkey_id: str, actor: ActorDep, svc: ServicesDep) -> Response:
    await passkeys.revoke_passkey(svc, actor, parse_id(passkey_id))
    return Response(status_code=204)


@router.post("/auth/passkey/login/options", responses=refusals(429))
async def passkey_login_options(request: Request, svc: ServicesDep) -> CeremonyView:
    limit_attempts(request, "login")
    return await passkeys.begin_login(svc)


@router.post("/auth/passkey/login", responses=refusals(401, 429))
async def passkey_login(body: CredentialIn, request: Request, svc: ServicesDep) -> SignedInView:
    """Sign in with a passkey (user verification required): returns a bearer token."""
    limit_attempts(request, "login")
    signed = await passkeys.finish_login(svc, parse_id(body.challenge_id), body.credential, ip=client_ip(request),
                                         user_agent=request.headers.get("user-agent", ""))
    return signed_in_view(signed)


@router.post("/auth/passkey/reauth/options")
async def passkey_reauth_options(actor: ActorDep, svc: ServicesDep) -> CeremonyView:
    return await passkeys.begin_reauthentication(svc, actor)


@router.post("/auth/passkey/reauth", status_code=204, responses=refusals(429))
async def passkey_reauth(body: CredentialIn, request: Request, actor: ActorDep, svc: ServicesDep) -> Response:
    limit_attempts(request, "login")
    await passkeys.finish_reauthentication(svc, actor, parse_id(body.challenge_id), body.credential)
    return Response(status_code=204)


@router.get("/auth/recovery-codes")
async def recovery_codes_left(actor: ActorDep, svc: ServicesDep) -> RecoveryCodesLeftView:
    return {"remaining": await passkeys.recovery_codes_left(svc, actor)}


@router.post("/auth/recovery-codes", status_code=201)
async def new_recovery_codes(actor: ActorDep, svc: ServicesDep) -> RecoveryCodesView:
    """Ten new codes, shown this once; earlier codes stop working. Needs a recent authentication."""
    return {"codes": await passkeys.new_recovery_codes(svc, actor)}


@router.get("/auth/psc")
async def psc_info(svc: ServicesDep) -> PscInfoView:
    return {"enabled": svc.psc is not None, "start": "/auth/psc/start"}


@router.get("/auth/psc/authorize", responses=refusals(429))
async def psc_authorize(request: Request, svc: ServicesDep,
                        org: str | None = Query(None, max_length=63)) -> PscAuthorizationView:
    """For API clients: where to send the person, and the sealed flow to give back afterwards."""
    limit_attempts(request, "login")
    url, flow = psc.begin(svc, org=org)
    return {"authorization_url": url, "flow": flow}


@router.post("/auth/psc/session", responses=refusals(401, 429))
async def psc_session(body: PscSessionIn, request: Request, svc: ServicesDep) -> SignedInView:
    limit_attempts(request, "login")
    flow = psc.open_flow(svc, body.flow, body.state)
    signed = await psc.finish(svc, flow, body.code, ip=client_ip(request),
                              user_agent=request.headers.get("user-agent", ""))
    assert signed is not None
    return signed_in_view(signed)


@router.post("/auth/psc/backchannel-logout", response_class=Response,
             responses={200: {"description": "The sessions are ended (no body)"}, **refusals(401)})
async def psc_backchannel_logout(svc: ServicesDep, logout_token: str = Form(..., max_length=10_000)) -> Response:
    """OpenID Connect back-channel logout: the provider ends the sessions a PSC session opened."""
    await psc.backchannel_logout(svc, logout_token)
    return Response(status_code=200, headers={"Cache-Control": "no-store"})

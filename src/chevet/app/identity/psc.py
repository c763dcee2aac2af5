"""Signing in with Pro Santé Connect (CPS card or e-CPS app).

The national identifier (``SubjectNameID``: RPPS or ADELI) links a PSC login to a Chevet
person: either an administrator recorded the number on the person, or the person was invited
with it and this is their first login (the invitation is then used up and the account becomes
active). Nobody self-registers: an unknown number is refused. A PSC login at level ``eidas1``
is strong authentication by itself: no TOTP is asked on top.

The flow's secrets (state, nonce, PKCE verifier) travel in a short-lived blob sealed with an
installation key, held by the browser in a cookie (or by an API client): any server process can
finish a flow another one started, and a login can only be finished by the browser that began it.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

import orjson

from chevet.app.identity.auth import SignedIn, mark_reauthenticated, start_session
from chevet.app.identity.people import open_credential
from chevet.app.services import Actor, Services
from chevet.core import envelope, identity
from chevet.core.entities import PersonStatus
from chevet.core.errors import AuthenticationFailed, IntegrityError, InvalidInput, NotFound
from chevet.ports import IdentityProvider

FLOW_SECONDS = 600
_FLOW_AAD = b"psc-flow"


@dataclass(frozen=True, slots=True)
class Flow:
    state: str
    nonce: str
    verifier: str
    org: str | None
    purpose: str  # "login" or "reauth"
    session_id: str | None
    expires: float


def _provider(services: Services) -> IdentityProvider:
    if services.psc is None:
        raise NotFound("psc_disabled")
    return services.psc


def begin(services: Services, *, org: str | None = None, actor: Actor | None = None) -> tuple[str, str]:
    """(URL to send the browser to, sealed flow to keep until the callback)."""
    provider = _provider(services)
    if org is not None and (not isinstance(org, str) or len(org) > 63):
        raise InvalidInput("organisation_invalid")
    flow = Flow(state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24), verifier=secrets.token_urlsafe(48),
                org=org, purpose="reauth" if actor else "login",
                session_id=str(actor.session_id) if actor and actor.session_id else None,
                expires=time.time() + FLOW_SECONDS)
    return (provider.authorization_url(flow.state, flow.nonce, flow.verifier),
            seal_flow(services, "psc_flow", _FLOW_AAD, _as_dict(flow)))


def _as_dict(flow: Flow) -> dict[str, object]:
    return {name: getattr(flow, name) for name in Flow.__slots__}


def seal_flow(services: Services, label: str, aad: bytes, fields: dict[str, object]) -> str:
    """A PSC login's secrets (``state``, ``nonce``, ``verifier``, ``expires``…) as the short-lived
    blob the browser keeps until it comes back, sealed with the installation key ``label``."""
    sealed = envelope.seal(services.keys.derive(label), orjson.dumps(fields), aad)
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def open_flow_fields(services: Services, label: str, aad: bytes, blob: str | None, state: str | None,
                     refusal: str) -> dict[str, Any]:
    """The fields of a blob from ``seal_flow``, if it opens under any version of the key, has not
    expired and belongs to this ``state``; else ``AuthenticationFailed(refusal)``."""
    if not blob or not state or len(blob) > 2000 or len(state) > 200:
        raise AuthenticationFailed(refusal)
    try:
        sealed = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
        data = None
        for key in services.keys.derive_all(label):
            try:
                data = envelope.open_sealed(key, sealed, aad)
                break
            except IntegrityError:
                continue
        if data is None:
            raise AuthenticationFailed(refusal)
        fields = orjson.loads(data)
        if not isinstance(fields, dict) or not isinstance(fields.get("state"), str):
            raise AuthenticationFailed(refusal)
        if not float(fields["expires"]) > time.time() or not hmac.compare_digest(fields["state"].encode(),
                                                                                  state.encode()):
            raise AuthenticationFailed(refusal)
        return fields
    except (ValueError, TypeError, KeyError) as exc:
        raise AuthenticationFailed(refusal) from exc


def open_flow(services: Services, blob: str | None, state: str | None) -> Flow:
    fields = open_flow_fields(services, "psc_flow", _FLOW_AAD, blob, state, "psc_flow_invalid")
    try:
        return Flow(**fields)
    except TypeError as exc:
        raise AuthenticationFailed("psc_flow_invalid") from exc


async def finish(services: Services, flow: Flow, code: str, *, ip: str | None = None, user_agent: str = "",
                 actor: Actor | None = None) -> SignedIn | None:
    """Complete a login (returns the new session) or a re-authentication (returns None)."""
    provider = _provider(services)
    if not code or len(code) > 2000:
        raise AuthenticationFailed("psc_refused")
    login = await provider.complete(code, flow.verifier, flow.nonce)
    try:
        identity.check_psc_acr(login.claims)
    except AuthenticationFailed:
        async with services.unit(ip) as u:
            await u.audit(None, "auth.psc_refused", None, "person", None, reason="acr")
        raise
    number = identity.national_number(login.claims.get("SubjectNameID"))
    if number is None:
        raise AuthenticationFailed("psc_identifier_missing")
    if flow.purpose == "reauth":
        if actor is None or flow.session_id != str(actor.session_id) or actor.person.rpps != number:
            raise AuthenticationFailed("psc_not_linked")
        async with services.unit(actor.ip) as u:
            await mark_reauthenticated(u, actor, "psc")
        return None
    now = services.clock.now()
    async with services.unit(ip) as u:
        candidates = [p for p in await u.tx.session_security.people_by_rpps(number)
                      if p.status is not PersonStatus.DEACTIVATED]
        if flow.org is not None:
            slugs = {}
            for p in candidates:
                org = await u.tx.organisations.get(p.org_id)
                slugs[p.id] = org.slug if org else ""
            candidates = [p for p in candidates if slugs[p.id] == flow.org]
        invitations: dict[uuid.UUID, uuid.UUID] = {}
        usable = []
        for p in candidates:
            if p.status is PersonStatus.ACTIVE:
                usable.append(p)
            elif (inv := await u.tx.session_security.open_invitation_of(p.id, now)) is not None:
                invitations[p.id] = inv
                usable.append(p)
        if not usable:
            await u.audit(None, "auth.psc_refused", None, "person", None, reason="not_linked")
    if not usable:
        raise AuthenticationFailed("psc_not_linked")
    if len(usable) > 1:
        async with services.db.transaction() as tx:
            orgs = [await tx.organisations.get(p.org_id) for p in usable]
        raise InvalidInput("psc_choose_organisation", organisations=sorted(o.slug for o in orgs if o))
    person = usable[0]
    async with services.unit(ip) as u:
        if person.id in invitations:
            await u.tx.session_security.close_invitation(invitations[person.id], now)
            await u.tx.people.set_status(person.org_id, person.id, PersonStatus.ACTIVE)
            await u.audit(person.org_id, "person.activated", person.id, "person", person.id, via="psc")
            person = replace(person, status=PersonStatus.ACTIVE)
        signed = await start_session(services, u, person, "psc", ip, user_agent, psc_sid=login.sid)
        sealed = envelope.seal(services.credential_key(), login.id_token.encode(),
                               envelope.aad("psc_id_token", signed.session.id))
        await u.tx.session_security.store_psc_id_token(signed.session.id, sealed)
    return signed


async def logout(services: Services, actor: Actor) -> str | None:
    """End the session; for a PSC session, the URL that ends the PSC session too (RP-initiated
    logout), so that the next person at a shared workstation does not inherit it."""
    from chevet.app.identity import auth

    id_token: str | None = None
    was_psc = False
    if actor.session_id is not None and services.psc is not None:
        async with services.db.transaction() as tx:
            sealed = await tx.session_security.psc_id_token(actor.session_id)
        if sealed is not None:
            was_psc = True
            try:
                id_token = open_credential(services, sealed, envelope.aad("psc_id_token", actor.session_id)).decode()
            except IntegrityError:
                id_token = None
    await auth.logout(services, actor)
    if not was_psc or services.psc is None:
        return None
    return services.psc.logout_url(id_token, secrets.token_urlsafe(16))


async def backchannel_logout(services: Services, token: str) -> int:
    """The provider says a PSC session ended: end every Chevet session it opened."""
    if not token or len(token) > 10_000:
        raise AuthenticationFailed("psc_token_invalid")
    _sub, sid = await _provider(services).verify_logout_token(token)
    if sid is None:
        raise AuthenticationFailed("psc_token_invalid")
    now = services.clock.now()
    count = 0
    async with services.unit() as u:
        for session_id, person_id in await u.tx.session_security.sessions_with_psc_sid(sid):
            if await u.tx.sessions.revoke(person_id, session_id, now):
                count += 1
                await u.audit(None, "auth.psc_logout", person_id, "session", session_id)
                for ended in await u.tx.sessions.for_person(person_id):
                    if ended.id == session_id:
                        u.sessions_ended(ended.org_id, person_id, [session_id])
    return count

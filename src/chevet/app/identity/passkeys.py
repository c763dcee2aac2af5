"""Passkeys (WebAuthn, with py_webauthn): registration, sign-in, re-authentication, revocation,
and recovery codes.

A passkey is phishing-resistant: the browser binds its answer to the origin, which must be the
installation's public URL. Chevet asks for user verification (PIN or biometrics on the
device), so one passkey gesture is two factors (possession and knowledge/inherence) and
replaces the password + TOTP pair. Passkeys are discoverable (resident) credentials: signing in
needs no e-mail, and the server never tells whether an e-mail exists.

Every challenge serves once and lives five minutes. Recovery codes are shown once and stored
hashed; one code replaces the TOTP code at sign-in.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from typing_extensions import TypedDict

from chevet.app.identity.auth import (
    SignedIn,
    mark_reauthenticated,
    open_session,
    record_failure,
    refusal,
    sign_in_source,
)
from chevet.app.identity.session_policy import require_recent_authentication
from chevet.app.services import Actor, Services
from chevet.core import identity
from chevet.core.entities import PersonStatus
from chevet.core.errors import AuthenticationFailed, InvalidInput, NotFound
from chevet.core.identity import Challenge, Passkey
from chevet.core.ids import new_id

# py_webauthn and its ASN.1 and CBOR stack (about 6 MiB) are imported by the functions that need
# them, on the first passkey operation, rather than in every server process at start-up.


@dataclass(frozen=True, slots=True)
class RelyingParty:
    id: str
    origin: str
    name: str


def relying_party(services: Services) -> RelyingParty:
    """The WebAuthn relying party is the configured public URL, never the request's Host
    header: a proxy on another name must not be able to collect valid answers."""
    parts = urlsplit(services.policy.public_url)
    host = parts.hostname or "localhost"
    origin = f"{parts.scheme}://{parts.netloc}"
    return RelyingParty(id=host, origin=origin, name=services.policy.issuer)


def _credential_id(credential: dict[str, Any]) -> bytes:
    import webauthn

    raw = credential.get("rawId") or credential.get("id") if isinstance(credential, dict) else None
    if not isinstance(raw, str) or len(raw) > 1400:
        raise InvalidInput("passkey_response_invalid")
    try:
        return webauthn.base64url_to_bytes(raw)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("passkey_response_invalid") from exc


async def _new_challenge(services: Services, purpose: str, actor: Actor | None) -> Challenge:
    challenge = Challenge(id=new_id(), challenge=os.urandom(32), purpose=purpose,
                          person_id=actor.id if actor else None, org_id=actor.org_id if actor else None,
                          expires_at=services.clock.now() + identity.CHALLENGE_LIFETIME)
    async with services.db.transaction() as tx:
        await tx.challenges.add(challenge)
    return challenge


class CeremonyView(TypedDict):
    """A WebAuthn ceremony begun: the challenge to give back, and the options for the browser
    (``PublicKeyCredentialCreationOptions`` or ``…RequestOptions``, as JSON)."""

    challenge_id: str
    options: dict[str, object]


# --- registration ----------------------------------------------------------------------------

async def begin_registration(services: Services, actor: Actor) -> CeremonyView:
    """Options for ``navigator.credentials.create()``. Adding a way to sign in is a sensitive
    action: it needs a recent authentication."""
    import webauthn
    from webauthn.helpers import options_to_json_dict
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    await require_recent_authentication(services, actor)
    async with services.db.transaction() as tx:
        existing = await tx.passkeys.for_person(actor.org_id, actor.id)
    if len(existing) >= identity.MAX_PASSKEYS:
        raise InvalidInput("passkey_limit", max=identity.MAX_PASSKEYS)
    challenge = await _new_challenge(services, "register", actor)
    rp = relying_party(services)
    options = webauthn.generate_registration_options(
        rp_id=rp.id, rp_name=rp.name, user_id=actor.id.bytes, user_name=actor.person.email,
        user_display_name=actor.person.name, challenge=challenge.challenge, timeout=300_000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.REQUIRED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=p.credential_id) for p in existing])
    return {"challenge_id": str(challenge.id), "options": options_to_json_dict(options)}


async def finish_registration(services: Services, actor: Actor, challenge_id: uuid.UUID,
                              credential: dict[str, Any], name: str) -> Passkey:
    import webauthn
    from webauthn.helpers.exceptions import WebAuthnException
    from webauthn.helpers.structs import AuthenticatorTransport

    transport_names = {t.value for t in AuthenticatorTransport}
    label = identity.clean_passkey_name(name)
    now = services.clock.now()
    rp = relying_party(services)
    async with services.unit(actor.ip) as u:
        challenge = await u.tx.challenges.take(challenge_id, now)
        if challenge is None or challenge.purpose != "register" or challenge.person_id != actor.id:
            raise InvalidInput("passkey_challenge_invalid")
        try:
            verified = webauthn.verify_registration_response(
                credential=credential, expected_challenge=challenge.challenge, expected_rp_id=rp.id,
                expected_origin=rp.origin, require_user_verification=True)
        except (WebAuthnException, ValueError, TypeError, KeyError) as exc:  # any malformed answer
            raise InvalidInput("passkey_response_invalid") from exc
        if await u.tx.passkeys.by_credential_id(verified.credential_id) is not None:
            raise InvalidInput("passkey_already_registered")
        transports = credential.get("response", {}).get("transports") if isinstance(credential, dict) else None
        kinds = ",".join(t for t in (transports or []) if isinstance(t, str) and t in transport_names)[:100]
        passkey = Passkey(id=new_id(), org_id=actor.org_id, person_id=actor.id,
                          credential_id=verified.credential_id, public_key=verified.credential_public_key,
                          sign_count=verified.sign_count, name=label, transports=kinds, created_at=now,
                          last_used_at=None, revoked_at=None)
        await u.tx.passkeys.add(passkey)
        await u.audit(actor.org_id, "passkey.registered", actor.id, "passkey", passkey.id)
    return passkey


# --- sign-in and re-authentication -------------------------------------------------------------

async def begin_login(services: Services) -> CeremonyView:
    """Options for ``navigator.credentials.get()`` with no e-mail asked: the device offers the
    person's discoverable passkeys for this site."""
    import webauthn
    from webauthn.helpers import options_to_json_dict
    from webauthn.helpers.structs import UserVerificationRequirement

    challenge = await _new_challenge(services, "login", None)
    options = webauthn.generate_authentication_options(
        rp_id=relying_party(services).id, challenge=challenge.challenge, timeout=300_000,
        user_verification=UserVerificationRequirement.REQUIRED)
    return {"challenge_id": str(challenge.id), "options": options_to_json_dict(options)}


async def begin_reauthentication(services: Services, actor: Actor) -> CeremonyView:
    import webauthn
    from webauthn.helpers import options_to_json_dict
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor, UserVerificationRequirement

    async with services.db.transaction() as tx:
        mine = await tx.passkeys.for_person(actor.org_id, actor.id)
    if not mine:
        raise NotFound("passkey_not_found")
    challenge = await _new_challenge(services, "reauth", actor)
    options = webauthn.generate_authentication_options(
        rp_id=relying_party(services).id, challenge=challenge.challenge, timeout=300_000,
        allow_credentials=[PublicKeyCredentialDescriptor(id=p.credential_id) for p in mine],
        user_verification=UserVerificationRequirement.REQUIRED)
    return {"challenge_id": str(challenge.id), "options": options_to_json_dict(options)}


async def finish_login(services: Services, challenge_id: uuid.UUID, credential: dict[str, Any], *,
                       ip: str | None = None, user_agent: str = "", device: str | None = None) -> SignedIn:
    """Check the signed answer; the session opens with method ``passkey``. Every failure reads
    the same from outside and is audited. The lock-out is the password sign-in's
    (``auth.refusal``, ``auth.record_failure``): failures are counted per source (``device``, the
    device cookie, else the address) and for the account, and the owner's known device is spared
    the account's lock."""
    now = services.clock.now()
    failed: Exception | None = None
    signed: SignedIn | None = None
    async with services.unit(ip) as u:
        challenge = await u.tx.challenges.take(challenge_id, now)
        passkey = await u.tx.passkeys.by_credential_id(_credential_id(credential), for_update=True)
        person = await u.tx.people.get(passkey.org_id, passkey.person_id) if passkey else None
        if challenge is None or challenge.purpose != "login" or passkey is None or passkey.revoked_at is not None \
                or person is None or person.status is not PersonStatus.ACTIVE:
            await u.audit(person.org_id if person else None, "auth.login_failed", person.id if person else None,
                          "person", person.id if person else None, reason="passkey")
            failed = AuthenticationFailed("login_failed")
        else:
            creds = await u.tx.people.credentials(person.id, for_update=True)
            source, known = sign_in_source(services, device, person.id, ip)
            failed = await refusal(u, person, creds, source, known, now)
            if failed is None:
                count = _verify_assertion(services, passkey, challenge, credential)
                if count is None:
                    failed = await record_failure(u, person, creds, now, source, reason="passkey")
                else:
                    await u.tx.sign_in_failures.clear(person.id, source)
                    signed = await open_session(services, u, person, creds, None, ip, user_agent, "passkey")
                    await u.tx.passkeys.used(passkey.id, count, now)
    if failed is not None:
        raise failed
    assert signed is not None
    return signed


def _verify_assertion(services: Services, passkey: Passkey, challenge: Challenge,
                      credential: dict[str, Any]) -> int | None:
    """The authenticator's new signature counter when the answer is valid, else None. A counter
    that goes backwards (a cloned authenticator) is refused by py_webauthn."""
    import webauthn
    from webauthn.helpers.exceptions import WebAuthnException

    rp = relying_party(services)
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential, expected_challenge=challenge.challenge, expected_rp_id=rp.id,
            expected_origin=rp.origin, credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count, require_user_verification=True)
    except (WebAuthnException, ValueError, TypeError, KeyError):  # any malformed answer
        return None
    return int(verified.new_sign_count)


async def finish_reauthentication(services: Services, actor: Actor, challenge_id: uuid.UUID,
                                  credential: dict[str, Any]) -> None:
    now = services.clock.now()
    ok = False
    async with services.unit(actor.ip) as u:
        challenge = await u.tx.challenges.take(challenge_id, now)
        passkey = await u.tx.passkeys.by_credential_id(_credential_id(credential), for_update=True)
        count = None
        if challenge is not None and challenge.purpose == "reauth" and challenge.person_id == actor.id \
                and passkey is not None and passkey.person_id == actor.id and passkey.revoked_at is None:
            count = _verify_assertion(services, passkey, challenge, credential)
        if count is not None and passkey is not None:
            await u.tx.passkeys.used(passkey.id, count, now)
            await mark_reauthenticated(u, actor, "passkey")
            ok = True
        else:
            await u.audit(actor.org_id, "auth.reauthentication_failed", actor.id, "session", actor.session_id,
                          method="passkey")
    if not ok:
        raise AuthenticationFailed("login_failed")


# --- managing one's passkeys and recovery codes ------------------------------------------------

async def list_passkeys(services: Services, actor: Actor) -> list[Passkey]:
    async with services.db.transaction() as tx:
        return await tx.passkeys.for_person(actor.org_id, actor.id)


async def revoke_passkey(services: Services, actor: Actor, passkey_id: uuid.UUID) -> None:
    """Revoking needs no fresh authentication: removing a lost device must stay easy."""
    async with services.unit(actor.ip) as u:
        if not await u.tx.passkeys.revoke(actor.org_id, actor.id, passkey_id, services.clock.now()):
            raise NotFound("passkey_not_found")
        await u.audit(actor.org_id, "passkey.revoked", actor.id, "passkey", passkey_id)


async def new_recovery_codes(services: Services, actor: Actor) -> list[str]:
    """Ten fresh codes, replacing any earlier ones; shown once, stored hashed."""
    codes = [identity.new_recovery_code() for _ in range(identity.RECOVERY_CODES)]
    hashes = [identity.recovery_code_hash(identity.normalise_recovery_code(c) or "") for c in codes]
    async with services.unit(actor.ip) as u:
        await require_recent_authentication(services, actor, u.tx)
        await u.tx.recovery_codes.replace(actor.org_id, actor.id, hashes, services.clock.now())
        await u.audit(actor.org_id, "recovery_codes.generated", actor.id, "person", actor.id, count=len(codes))
    return codes


async def recovery_codes_left(services: Services, actor: Actor) -> int:
    async with services.db.transaction() as tx:
        return await tx.recovery_codes.remaining(actor.id)

"""Signing in with a password and a TOTP code, sessions, lockout.

Both factors are always checked, and a failure never says which one was wrong. After
``lockout_threshold`` failures from one source (a known device, else the client address) that
source is refused for ``lockout_duration``; the account itself is refused to unknown devices only
after ``account_lockout_threshold`` failures from many sources (``core/lockout.py``). A TOTP code
is accepted once: replaying it fails.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chevet.app.identity.people import confirm_invitation_in, open_totp, token_hash
from chevet.app.identity.session_policy import (
    POLICY_CACHE,
    default_session_policy,
    require_recent_authentication,
    session_policy,
    shared_device_refusal,
    shared_device_session_ends,
)
from chevet.app.services import Actor, Services, Unit
from chevet.core import identity, lockout, totp
from chevet.core.entities import Credentials, Organisation, Person, PersonStatus, Session
from chevet.core.errors import AuthenticationFailed, Forbidden, LockedOut, NotFound
from chevet.core.ids import new_id
from chevet.core.roles import Permission, can

TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str
    session: Session
    person: Person
    organisation: Organisation


DEVICE_MACS = 8  # people remembered on one device (a ward's shared phone)


def _device_mac(services: Services, device_id: str, person_id: uuid.UUID) -> str:
    mac = hmac.new(services.keys.derive("device"), f"{device_id}:{person_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:12]).decode()


def _device_parts(device: str | None) -> tuple[str | None, list[str]]:
    parts = (device or "")[:400].split(".")
    if len(parts) < 2 or not 16 <= len(parts[0]) <= 32:
        return None, []
    return parts[0], parts[1:]


def known_device(services: Services, device: str | None, person_id: uuid.UUID) -> str | None:
    """The device id when ``device`` (the device cookie) shows a successful sign-in of this
    person on this device; None otherwise. A forged cookie cannot name a device: it must carry
    the installation's MAC of this person on it."""
    device_id, macs = _device_parts(device)
    if device_id is None:
        return None
    mine = _device_mac(services, device_id, person_id)
    return device_id if any(hmac.compare_digest(mine, m) for m in macs) else None


def remember_device(services: Services, device: str | None, person_id: uuid.UUID) -> str:
    """The device cookie after this person signed in on it: the same device id, this person's
    MAC added (the oldest forgotten beyond ``DEVICE_MACS``)."""
    device_id, macs = _device_parts(device)
    if device_id is None:
        device_id, macs = secrets.token_urlsafe(16), []
    mine = _device_mac(services, device_id, person_id)
    kept = [m for m in macs if m != mine and len(m) == 16][-(DEVICE_MACS - 1):]
    return ".".join([device_id, *kept, mine])


def sign_in_source(services: Services, device: str | None, person_id: uuid.UUID, ip: str | None) -> tuple[str, bool]:
    """The source that failures are counted for, and whether it is this person's known device."""
    known = known_device(services, device, person_id)
    return (f"device:{known}", True) if known else (f"address:{ip or '?'}", False)


async def login(services: Services, email: str, password: str, otp: str, *, ip: str | None = None,
                user_agent: str = "", device: str | None = None) -> SignedIn:
    """``device`` is the device cookie, if the browser has one (see ``remember_device``)."""
    now = services.clock.now()
    email = (email or "").strip().lower()[:254]
    async with services.db.transaction() as tx:
        person = await tx.people.by_email(email)
        creds = await tx.people.credentials(person.id) if person else None
    password_ok = await services.passwords.verify(creds.password_hash if creds else None, password or "")
    if person is None or creds is None or person.status is not PersonStatus.ACTIVE:
        async with services.unit(ip) as u:
            await u.audit(person.org_id if person else None, "auth.login_failed",
                          person.id if person else None, "person", person.id if person else None,
                          reason="unknown_or_inactive")
        raise AuthenticationFailed("login_failed")

    source, known = sign_in_source(services, device, person.id, ip)
    failure: Exception | None = None
    signed_in: SignedIn | None = None
    async with services.unit(ip) as u:
        creds = await u.tx.people.credentials(person.id, for_update=True)
        failure = await refusal(u, person, creds, source, known, now)
        if failure is None:
            checked = await _second_factor(services, u, person, creds, password_ok, otp, now)
            if checked is None:
                failure = await record_failure(u, person, creds, now, source)
            else:
                method, step = checked
                await u.tx.sign_in_failures.clear(person.id, source)
                signed_in = await open_session(services, u, person, creds, step, ip, user_agent, method)
    if failure is not None:
        raise failure
    assert signed_in is not None
    return signed_in


async def refusal(u: Unit, person: Person, creds: Credentials, source: str, known: bool,
                  now: datetime) -> LockedOut | None:
    """The refusal of this attempt before checking anything (audited with its scope, "source"
    or "account"), or None. The owner's known device is never refused for the account's lock,
    only for its own. For every way of signing in (password, passkey)."""
    count = await u.tx.sign_in_failures.get(person.id, source)
    wait = lockout.refused_for(u.services.policy.lockout, count, now.timestamp())
    refused: tuple[str, LockedOut] | None = None
    if wait > 0:
        refused = "source", LockedOut("account_locked", retry_after=int(wait) + 1)
    elif not known and creds.locked_until is not None and creds.locked_until > now:
        refused = "account", LockedOut("account_locked",
                                       retry_after=int((creds.locked_until - now).total_seconds()) + 1)
    if refused is None:
        return None
    await u.audit(person.org_id, "auth.login_refused", person.id, "person", person.id, reason="locked",
                  scope=refused[0])
    return refused[1]


async def _second_factor(services: Services, u: Unit, person: Person, creds: Credentials, password_ok: bool,
                         otp: str, now: datetime) -> tuple[str, int | None] | None:
    """("password+totp", step) or ("password+recovery", None) when the password was right and the
    code is the current TOTP code or an unused recovery code; None otherwise."""
    if not password_ok:
        return None
    if creds.totp_sealed is not None:
        step = totp.verify(open_totp(services, person.id, creds.totp_sealed), otp or "", now.timestamp(),
                           creds.totp_last_step)
        if step is not None:
            return "password+totp", step
    canonical = identity.normalise_recovery_code(otp or "")
    if canonical is not None and await u.tx.recovery_codes.use(person.id, identity.recovery_code_hash(canonical), now):
        await u.audit(person.org_id, "auth.recovery_code_used", person.id, "person", person.id,
                      remaining=await u.tx.recovery_codes.remaining(person.id))
        return "password+recovery", None
    return None


async def record_failure(u: Unit, person: Person, creds: Credentials, now: datetime, source: str,
                         reason: str = "bad_credentials") -> Exception:
    """One failure, counted for its source (which it may lock out of this account) and for the
    account (which many failures from many sources lock for unknown devices), in the database:
    every server process sees the same counts, and a restart forgets none."""
    policy = u.services.policy.lockout
    await u.audit(person.org_id, "auth.login_failed", person.id, "person", person.id, reason=reason)
    at = now.timestamp()
    count = lockout.after_failure(policy, await u.tx.sign_in_failures.get(person.id, source), at)
    await u.tx.sign_in_failures.put(person.id, source, count, count.ends(policy), at)
    source_locked = count.locked_until is not None
    failed = creds.failed_logins + 1
    if failed >= policy.account_threshold:
        await u.tx.people.save_credentials(replace(creds, failed_logins=0,
                                                   locked_until=now + timedelta(seconds=policy.account_seconds)))
        await u.audit(person.org_id, "auth.locked", person.id, "person", person.id, failures=failed, scope="account")
    else:
        await u.tx.people.save_credentials(replace(creds, failed_logins=failed))
    if source_locked:
        if failed < policy.account_threshold:
            await u.audit(person.org_id, "auth.locked", person.id, "person", person.id,
                          failures=policy.source_threshold, scope="source")
        return LockedOut("account_locked", retry_after=int(policy.source_seconds))
    if failed >= policy.account_threshold:
        return LockedOut("account_locked", retry_after=int(policy.account_seconds))
    return AuthenticationFailed("login_failed")


async def open_session(services: Services, u: Unit, person: Person, creds: Credentials, step: int | None,
                        ip: str | None, user_agent: str, method: str = "password+totp") -> SignedIn:
    # The owner's known device may sign in while the account is locked for unknown devices:
    # her success does not lift that lock for whoever caused it.
    now = services.clock.now()
    locked_until = creds.locked_until if creds.locked_until is not None and creds.locked_until > now else None
    await u.tx.people.save_credentials(replace(creds, failed_logins=0, locked_until=locked_until,
                                               totp_last_step=creds.totp_last_step if step is None else step))
    return await start_session(services, u, person, method, ip, user_agent)


async def start_session(services: Services, u: Unit, person: Person, method: str, ip: str | None,
                        user_agent: str, *, psc_id_token_sealed: bytes | None = None,
                        psc_sid: str | None = None) -> SignedIn:
    """Open a session for a person who just proved who they are (by whatever strong means),
    inside the caller's unit; audited as ``auth.login``."""
    now = services.clock.now()
    token = secrets.token_urlsafe(32)
    session = Session(id=new_id(), person_id=person.id, org_id=person.org_id, created_at=now, last_used_at=now,
                      expires_at=now + services.policy.session_lifetime, revoked_at=None,
                      user_agent=(user_agent or "")[:200], ip=ip, method=method)
    await u.tx.sessions.add(session, token_hash(token))
    await u.tx.session_security.record(session.id, person.org_id, now, psc_id_token_sealed, psc_sid)
    org = await u.tx.organisations.get(person.org_id)
    assert org is not None
    await u.audit(person.org_id, "auth.login", person.id, "session", session.id, method=session.method)
    return SignedIn(token, session, person, org)


async def finish_enrolment(services: Services, token: str, otp: str, *, ip: str | None = None,
                           user_agent: str = "") -> SignedIn:
    """Step 2 of an invitation, and signed in at once: the password was chosen at step 1 and
    the TOTP code just proved the authenticator, which is what a sign-in checks. The session
    is opened and audited (``auth.login``) in the same transaction as the activation."""
    async with services.unit(ip) as u:
        person, _ = await confirm_invitation_in(u, token, otp)
        return await start_session(services, u, person, "password+totp", ip, user_agent)


async def authenticate(services: Services, token: str, ip: str | None = None, *, touch: bool = True) -> Actor:
    """The actor behind a bearer token or session cookie, or AuthenticationFailed.

    ``touch=False`` leaves the session's last-use time alone: an anonymous report must not
    leave a timestamp on its reporter's session that could be matched with it."""
    if not token or len(token) > 200:
        raise AuthenticationFailed("session_invalid")
    now = services.clock.now()
    async with services.db.transaction() as tx:
        session = await tx.sessions.by_token_hash(token_hash(token))
        if session is None or not session.active_at(now):
            raise AuthenticationFailed("session_invalid")
        person = await tx.people.get(session.org_id, session.person_id)
        org = await tx.organisations.get(session.org_id)
        if person is None or org is None or person.status is not PersonStatus.ACTIVE:
            raise AuthenticationFailed("session_invalid")
        policy = await session_policy(services, tx, session.org_id)
        if identity.session_expired(policy, session.created_at, session.last_used_at, now, TOUCH_EVERY):
            raise AuthenticationFailed("session_expired")
        if await shared_device_refusal(tx, session, now, TOUCH_EVERY) is not None:
            raise AuthenticationFailed("device_locked")
        if touch and now - session.last_used_at > TOUCH_EVERY:
            await tx.sessions.touch(session.id, now)
    return Actor(person=person, organisation=org, session_id=session.id, ip=ip)


async def session_ends_at(services: Services, actor: Actor) -> datetime | None:
    """When the actor's session ends under its organisation's policy if not used before (a
    realtime stream closes then), or None if it has already ended."""
    if actor.session_id is None:
        return None
    now = services.clock.now()
    async with services.db.transaction() as tx:
        session = next((s for s in await tx.sessions.for_person(actor.id) if s.id == actor.session_id), None)
        person = await tx.people.get(actor.org_id, actor.id)
        if session is None or not session.active_at(now) or person is None or person.status is not PersonStatus.ACTIVE:
            return None
        policy = await session_policy(services, tx, actor.org_id)
        shared_ends = await shared_device_session_ends(tx, session, TOUCH_EVERY)
    ends = min(session.expires_at, identity.session_ends_at(policy, session.created_at, session.last_used_at,
                                                             TOUCH_EVERY))
    if shared_ends is not None:
        ends = min(ends, shared_ends)
    return ends if ends > now else None


async def logout(services: Services, actor: Actor) -> None:
    if actor.session_id is None:
        return
    async with services.unit(actor.ip) as u:
        await u.tx.sessions.revoke(actor.id, actor.session_id, services.clock.now())
        await u.audit(actor.org_id, "auth.logout", actor.id, "session", actor.session_id)
        u.sessions_ended(actor.org_id, actor.id, [actor.session_id])


async def sessions(services: Services, actor: Actor) -> list[Session]:
    async with services.db.transaction() as tx:
        return await tx.sessions.for_person(actor.id)


async def open_sessions(services: Services, actor: Actor) -> list[Session]:
    """The person's sessions still open (neither revoked nor expired), the latest used first:
    what her account and security pages list."""
    now = services.clock.now()
    return sorted((s for s in await sessions(services, actor) if s.active_at(now)),
                  key=lambda s: s.last_used_at, reverse=True)


async def revoke_session(services: Services, actor: Actor, session_id: uuid.UUID) -> None:
    async with services.unit(actor.ip) as u:
        if not await u.tx.sessions.revoke(actor.id, session_id, services.clock.now()):
            raise NotFound("session_not_found")
        await u.audit(actor.org_id, "auth.session_revoked", actor.id, "session", session_id)
        u.sessions_ended(actor.org_id, actor.id, [session_id])


# --- session policy, re-authentication, devices ----------------------------------------------

async def get_session_policy(services: Services, actor: Actor) -> identity.SessionPolicy:
    async with services.db.transaction() as tx:
        return await tx.session_security.policy(actor.org_id) or default_session_policy(services)


async def set_session_policy(services: Services, actor: Actor, *, idle_minutes: int, absolute_minutes: int,
                             reauth_minutes: int) -> identity.SessionPolicy:
    if not can(actor.person.role, Permission.MANAGE_ORGANISATION):
        raise Forbidden("forbidden")
    policy = identity.SessionPolicy.of_minutes(idle_minutes, absolute_minutes, reauth_minutes)
    async with services.unit(actor.ip) as u:
        await require_recent_authentication(services, actor, u.tx)
        await u.tx.session_security.set_policy(actor.org_id, policy)
        await u.audit(actor.org_id, "organisation.session_policy_changed", actor.id, "organisation", actor.org_id,
                      **policy.minutes())
    POLICY_CACHE.pop(actor.org_id, None)
    return policy


async def reauthenticate(services: Services, actor: Actor, password: str, otp: str) -> None:
    """Prove again, within a session, with the password and a TOTP or recovery code. Failures
    count towards the account lockout like failed logins."""
    if actor.session_id is None:
        raise AuthenticationFailed("session_invalid")
    now = services.clock.now()
    async with services.db.transaction() as tx:
        creds = await tx.people.credentials(actor.id)
    password_ok = await services.passwords.verify(creds.password_hash, password or "")
    source = f"address:{actor.ip or '?'}"
    failure: Exception | None = None
    async with services.unit(actor.ip) as u:
        creds = await u.tx.people.credentials(actor.id, for_update=True)
        failure = await refusal(u, actor.person, creds, source, False, now)
        if failure is None:
            checked = await _second_factor(services, u, actor.person, creds, password_ok, otp, now)
            if checked is None:
                failure = await record_failure(u, actor.person, creds, now, source)
            else:
                method, step = checked
                await u.tx.people.save_credentials(replace(
                    creds, failed_logins=0, locked_until=None,
                    totp_last_step=creds.totp_last_step if step is None else step))
                await mark_reauthenticated(u, actor, method)
    if failure is not None:
        raise failure


async def mark_reauthenticated(u: Unit, actor: Actor, method: str) -> None:
    assert actor.session_id is not None
    await u.tx.session_security.reauthenticated(actor.session_id, u.services.clock.now())
    await u.audit(actor.org_id, "auth.reauthenticated", actor.id, "session", actor.session_id, method=method)


async def sign_out_everywhere(services: Services, actor: Actor, *, keep_current: bool = False) -> int:
    """Revoke every session of the actor (all devices), possibly except the current one."""
    now = services.clock.now()
    async with services.unit(actor.ip) as u:
        ended = []
        for s in await u.tx.sessions.for_person(actor.id):
            if keep_current and s.id == actor.session_id:
                continue
            if s.revoked_at is None and await u.tx.sessions.revoke(actor.id, s.id, now):
                ended.append(s.id)
        count = len(ended)
        u.sessions_ended(actor.org_id, actor.id, ended)
        await u.audit(actor.org_id, "auth.signed_out_everywhere", actor.id, "person", actor.id, sessions=count,
                      kept_current=keep_current)
    return count

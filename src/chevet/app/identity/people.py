"""People: added by the operator or invited by an administrator; nobody self-registers."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from hashlib import sha256

from chevet.app.identity import invitation_mail
from chevet.app.identity.invitation_mail import InvitationText
from chevet.app.identity.session_policy import require_recent_authentication
from chevet.app.services import Actor, Services, Unit
from chevet.core import envelope, totp
from chevet.core.entities import Credentials, Invitation, Organisation, Person, PersonStatus
from chevet.core.errors import Conflict, Forbidden, IntegrityError, InvalidInput, NotFound
from chevet.core.ids import new_id
from chevet.core.roles import Permission, Role, can, parse_role

_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
_RPPS = re.compile(r"^(\d{9}|\d{11})$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
LANGUAGES = ("fr", "en")


def clean_email(email: str) -> str:
    value = email.strip().lower() if isinstance(email, str) else ""
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidInput("email_invalid")
    return value


def clean_name(name: str) -> str:
    value = " ".join(name.split()) if isinstance(name, str) else ""
    if not value or len(value) > 200:
        raise InvalidInput("name_invalid")
    return value


def clean_rpps(rpps: str | None) -> str | None:
    if rpps is None or not rpps.strip():
        return None
    value = rpps.strip()
    if not _RPPS.match(value):
        raise InvalidInput("rpps_invalid")
    return value


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInput("password_too_short", min=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        raise InvalidInput("password_too_long", max=MAX_PASSWORD)
    return password


def token_hash(token: str) -> bytes:
    return sha256(token.encode()).digest()


def seal_totp(services: Services, person_id: uuid.UUID, secret: str) -> bytes:
    return envelope.seal(services.credential_key(), secret.encode(), envelope.aad("totp", person_id))


def open_totp(services: Services, person_id: uuid.UUID, sealed: bytes) -> str:
    return open_credential(services, sealed, envelope.aad("totp", person_id)).decode()


def open_credential(services: Services, sealed: bytes, aad: bytes) -> bytes:
    """Open a secret sealed with the credentials key, under the current master key or one not
    yet retired (during a rotation, before it was re-sealed)."""
    for key in services.credential_keys():
        try:
            return envelope.open_sealed(key, sealed, aad)
        except IntegrityError:
            continue
    raise IntegrityError("ciphertext_invalid")


@dataclass(frozen=True, slots=True)
class NewPerson:
    person: Person
    totp_secret: str


async def _new_person(u: Unit, org: Organisation, email: str, name: str, role: Role, rpps: str | None,
                      status: PersonStatus, credentials: Credentials | None) -> Person:
    if await u.tx.people.by_email(email):
        raise Conflict("email_taken")
    person = Person(id=new_id(), org_id=org.id, email=email, name=name, role=role, status=status, rpps=rpps,
                    language="fr", created_at=u.services.clock.now())
    creds = credentials or Credentials(person.id, None, None, None, 0, None)
    await u.tx.people.add(person, replace(creds, person_id=person.id))
    return person


async def add_person(services: Services, org: Organisation, *, email: str, name: str, role: str,
                     password: str, rpps: str | None = None) -> NewPerson:
    """The operator's way (CLI) to create an active account with its password and TOTP secret."""
    email, name, parsed_role, rpps = clean_email(email), clean_name(name), parse_role(role), clean_rpps(rpps)
    password_hash = await services.passwords.hash(check_password(password))
    secret = totp.new_secret()
    async with services.unit() as u:
        person = await _new_person(u, org, email, name, parsed_role, rpps, PersonStatus.ACTIVE, None)
        await u.tx.people.save_credentials(Credentials(person.id, password_hash, seal_totp(services, person.id, secret),
                                                       None, 0, None))
        await u.audit(org.id, "person.added", None, "person", person.id, role=parsed_role.value, by="operator")
    return NewPerson(person, secret)


@dataclass(frozen=True, slots=True)
class NewInvitation:
    person: Person
    token: str
    mail_queued: bool = False  # the link's e-mail is in the outbox (a relay is configured)


async def invite_person(services: Services, org: Organisation, actor: Actor | None, *, email: str, name: str,
                        role: str, rpps: str | None = None,
                        mail: Callable[[Person, str], InvitationText] | None = None) -> NewInvitation:
    """An administrator invites someone; the one-time link lets them choose a password and enrol TOTP.
    With ``mail`` (the mail's words from the person and the token), the link's e-mail is queued
    in the same transaction."""
    if actor is not None and (actor.org_id != org.id or not can(actor.person.role, Permission.MANAGE_PEOPLE)):
        raise Forbidden("forbidden")
    email, name, parsed_role, rpps = clean_email(email), clean_name(name), parse_role(role), clean_rpps(rpps)
    async with services.unit(actor.ip if actor else None) as u:
        return await invite_in(u, org, actor.id if actor else None, email=email, name=name, role=parsed_role,
                               rpps=rpps, mail=mail)


async def invite_in(u: Unit, org: Organisation, actor_id: uuid.UUID | None, *, email: str, name: str, role: Role,
                    rpps: str | None, mail: Callable[[Person, str], InvitationText] | None,
                    **audit_details: str) -> NewInvitation:
    """The invitation inside the caller's unit, for values already cleaned (a staff import
    invites many people per transaction): the person, the link, its audit entry and its mail."""
    person = await _new_person(u, org, email, name, role, rpps, PersonStatus.INVITED, None)
    token = await _issue_invitation(u, person)
    await u.audit(org.id, "person.invited", actor_id, "person", person.id, role=role.value, **audit_details)
    queued = mail is not None and await invitation_mail.queue_invitation(u, person, mail(person, token))
    return NewInvitation(person, token, queued)


async def _issue_invitation(u: Unit, person: Person) -> str:
    """A one-time enrolment link for this person; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    inv = Invitation(id=new_id(), person_id=person.id, org_id=person.org_id,
                     expires_at=u.services.clock.now() + u.services.policy.invitation_lifetime,
                     used_at=None, pending_password_hash=None, pending_totp_sealed=None)
    await u.tx.invitations.add(inv, token_hash(token))
    return token


async def reissue_enrolment(services: Services, org: Organisation, actor: Actor | None, email: str) -> NewInvitation:
    """A new enrolment link for someone who already exists: after an import (credentials never
    travel in export archives), or when a phone is lost. Their password, TOTP secret, recovery
    codes, passkeys and sessions stop working at once; the link lets them choose new ones."""
    if actor is not None and (actor.org_id != org.id or not can(actor.person.role, Permission.MANAGE_PEOPLE)):
        raise Forbidden("forbidden")
    email = clean_email(email)
    now = services.clock.now()
    async with services.unit(actor.ip if actor else None) as u:
        person = await u.tx.people.by_email(email)
        if person is None or person.org_id != org.id:
            raise NotFound("person_not_found")
        if person.status is PersonStatus.DEACTIVATED:
            raise InvalidInput("person_deactivated")
        await u.tx.people.save_credentials(Credentials(person.id, None, None, None, 0, None))
        await u.tx.people.set_status(org.id, person.id, PersonStatus.INVITED)
        sessions = await u.tx.sessions.for_person(person.id)
        for s in sessions:
            await u.tx.sessions.revoke(person.id, s.id, now)
        u.sessions_ended(org.id, person.id, [s.id for s in sessions if s.revoked_at is None])
        for key in await u.tx.passkeys.for_person(org.id, person.id):
            await u.tx.passkeys.revoke(org.id, person.id, key.id, now)
        await u.tx.recovery_codes.replace(org.id, person.id, [], now)
        token = await _issue_invitation(u, person)
        await u.audit(org.id, "person.reenrolment_issued", actor.id if actor else None, "person", person.id)
    return NewInvitation(replace(person, status=PersonStatus.INVITED), token)


async def _open_invitation(u: Unit, token: str) -> tuple[Invitation, Person]:
    inv = await u.tx.invitations.by_token_hash(token_hash(token), for_update=True)
    if inv is None or inv.used_at is not None or inv.expires_at <= u.services.clock.now():
        raise NotFound("invitation_invalid")
    person = await u.tx.people.get(inv.org_id, inv.person_id)
    if person is None or person.status is not PersonStatus.INVITED:
        raise NotFound("invitation_invalid")
    return inv, person


async def invitation_person(services: Services, token: str) -> Person:
    async with services.unit() as u:
        _, person = await _open_invitation(u, token)
    return person


@dataclass(frozen=True, slots=True)
class Enrolment:
    person: Person
    totp_secret: str
    otpauth_uri: str


async def accept_invitation(services: Services, token: str, password: str, ip: str | None = None) -> Enrolment:
    """Step 1: choose a password; receive the TOTP secret to enrol in an authenticator app."""
    password_hash = await services.passwords.hash(check_password(password))
    secret = totp.new_secret()
    async with services.unit(ip) as u:
        inv, person = await _open_invitation(u, token)
        if inv.pending_password_hash is not None or not await u.tx.invitations.accept(
                inv.org_id, inv.id, password_hash, seal_totp(services, person.id, secret)):
            # Accepted already (by this person on another device, or by whoever else holds the
            # link): the first one keeps it; an administrator can send a new invitation.
            raise Conflict("invitation_already_accepted")
        await u.audit(person.org_id, "invitation.accepted", person.id, "person", person.id)
    return Enrolment(person, secret, totp.provisioning_uri(secret, person.email, services.policy.issuer))


async def pending_enrolment(services: Services, token: str) -> Enrolment | None:
    """The secret chosen at step 1, to show again while step 2 is not done (a mistyped code, a
    reloaded page). The page shows it only to the browser that chose the password. None before
    step 1."""
    async with services.unit() as u:
        inv, person = await _open_invitation(u, token)
    if inv.pending_totp_sealed is None:
        return None
    secret = open_totp(services, person.id, inv.pending_totp_sealed)
    return Enrolment(person, secret, totp.provisioning_uri(secret, person.email, services.policy.issuer))


async def confirm_invitation(services: Services, token: str, otp: str, ip: str | None = None) -> Person:
    """Step 2: prove the authenticator works; the account becomes active."""
    async with services.unit(ip) as u:
        person, _ = await confirm_invitation_in(u, token, otp)
    return person


async def confirm_invitation_in(u: Unit, token: str, otp: str) -> tuple[Person, int]:
    """Step 2 inside the caller's unit (signing in at once, see ``auth.finish_enrolment``):
    the activated person and the TOTP step the code used."""
    services = u.services
    inv, person = await _open_invitation(u, token)
    if inv.pending_password_hash is None or inv.pending_totp_sealed is None:
        raise InvalidInput("invitation_not_accepted")
    secret = open_totp(services, person.id, inv.pending_totp_sealed)
    step = totp.verify(secret, otp, services.clock.now().timestamp(), None)
    if step is None:
        raise InvalidInput("otp_invalid")
    await u.tx.people.save_credentials(Credentials(person.id, inv.pending_password_hash,
                                                   inv.pending_totp_sealed, step, 0, None))
    await u.tx.people.set_status(person.org_id, person.id, PersonStatus.ACTIVE)
    if not await u.tx.invitations.use(inv.org_id, inv.id, services.clock.now()):
        raise NotFound("invitation_invalid")
    await u.audit(person.org_id, "person.activated", person.id, "person", person.id)
    return replace(person, status=PersonStatus.ACTIVE), step


async def person_id_by_email(services: Services, org_id: uuid.UUID, email: str) -> uuid.UUID:
    """The operator's way to name a person of an organisation (command line): by e-mail."""
    async with services.db.transaction() as tx:
        person = await tx.people.by_email(clean_email(email))
    if person is None or person.org_id != org_id:
        raise NotFound("person_not_found")
    return person.id


async def search_people(services: Services, actor: Actor, query: str, limit: int = 50) -> list[Person]:
    if not can(actor.person.role, Permission.LIST_PEOPLE):
        raise Forbidden("forbidden")
    async with services.db.transaction() as tx:
        return await tx.people.search(actor.org_id, (query or "").strip()[:100], max(1, min(limit, 200)))


async def active_people(services: Services, actor: Actor, limit: int = 1000) -> list[Person]:
    """The active people of the actor's organisation, to choose from (a report's readers). The
    page that offers the choice decides who sees it (the report's managers)."""
    async with services.db.transaction() as tx:
        return [p for p in await tx.people.search(actor.org_id, "", max(1, min(limit, 1000)))
                if p.status is PersonStatus.ACTIVE]


async def _managed_person(u: Unit, actor: Actor, person_id: uuid.UUID, self_refusal: str) -> Person:
    """Someone else of the actor's organisation, whom an administrator may manage."""
    if not can(actor.person.role, Permission.MANAGE_PEOPLE):
        raise Forbidden("forbidden")
    person = await u.tx.people.get(actor.org_id, person_id)
    if person is None:
        raise NotFound("person_not_found")
    if person.id == actor.id:
        raise InvalidInput(self_refusal)
    return person


async def set_role(services: Services, actor: Actor, person_id: uuid.UUID, role: str) -> Person:
    parsed = parse_role(role)
    async with services.unit(actor.ip) as u:
        person = await _managed_person(u, actor, person_id, "cannot_change_own_role")
        await require_recent_authentication(services, actor, u.tx)
        await u.tx.people.set_role(actor.org_id, person_id, parsed)
        await u.audit(actor.org_id, "person.role_changed", actor.id, "person", person_id,
                      old=person.role.value, new=parsed.value)
    return replace(person, role=parsed)


async def deactivate(services: Services, actor: Actor, person_id: uuid.UUID) -> None:
    """The person can no longer sign in; every open session ends now."""
    async with services.unit(actor.ip) as u:
        await _managed_person(u, actor, person_id, "cannot_deactivate_self")
        await deactivate_in(u, actor.org_id, person_id, actor.id)


async def deactivate_in(u: Unit, org_id: uuid.UUID, person_id: uuid.UUID, actor_id: uuid.UUID | None,
                        **audit_details: str) -> None:
    """Inside the caller's unit (a directory sync deactivates its leavers together): the status,
    every session revoked, the live streams told to end after commit, the audit entry."""
    await u.tx.people.set_status(org_id, person_id, PersonStatus.DEACTIVATED)
    sessions = await u.tx.sessions.for_person(person_id)
    for s in sessions:
        await u.tx.sessions.revoke(person_id, s.id, u.services.clock.now())
    u.sessions_ended(org_id, person_id, [s.id for s in sessions if s.revoked_at is None])
    await u.audit(org_id, "person.deactivated", actor_id, "person", person_id, **audit_details)

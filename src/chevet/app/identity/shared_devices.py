"""Shared devices of care units: registering one, a person's period on it, switching with a
PIN, locking, and revoking.

A device is registered by an administrator and holds a long random credential (a cookie);
each person signs in on it with her full strong authentication, which opens her *period*
there (``core/shared_device.py``), then chooses a PIN. Within the period she unlocks the
device with that PIN; each unlock opens a session of her own, and only one session may act on
the device at a time: unlocking, locking or revoking ends the previous one at once (its
realtime streams too). Every step is audited with the person and the device.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from chevet.app.identity.auth import SignedIn, start_session
from chevet.app.identity.session_policy import (
    SHARED_POLICY_CACHE,
    require_recent_authentication,
    shared_device_policy,
)
from chevet.app.services import Actor, Services, Unit
from chevet.core import shared_device as rules
from chevet.core.entities import PersonStatus
from chevet.core.errors import AuthenticationFailed, Forbidden, InvalidInput, NotFound
from chevet.core.ids import new_id
from chevet.core.roles import Permission, can
from chevet.core.shared_device import DevicePeriod, SharedDevice, SharedDevicePolicy
from chevet.ports import Transaction
from chevet.ports.shared_devices import DeviceSession


@dataclass(frozen=True, slots=True)
class Registered:
    """A device just registered, and its credential (given once, to the device's browser)."""

    device: SharedDevice
    secret: str


@dataclass(frozen=True, slots=True)
class DeviceView:
    """A shared device as the console lists it."""

    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    open_periods: int


@dataclass(frozen=True, slots=True)
class LockedPerson:
    """Someone the lock screen offers: her period on the device, and her first name and initial."""

    period_id: uuid.UUID
    name: str
    has_pin: bool


@dataclass(frozen=True, slots=True)
class LockScreen:
    device_id: uuid.UUID
    device_name: str
    people: list[LockedPerson]
    policy: SharedDevicePolicy


@dataclass(frozen=True, slots=True)
class CurrentPeriod:
    """The signed-in person's period on the shared device she is using."""

    device: SharedDevice
    period: DevicePeriod
    policy: SharedDevicePolicy


def _may_manage(actor: Actor) -> None:
    if not can(actor.person.role, Permission.MANAGE_ORGANISATION):
        raise Forbidden("forbidden")


async def _device_of(tx: Transaction, secret: str | None, *, for_update: bool = False) -> SharedDevice | None:
    """The registered, unrevoked device whose credential this is, or None."""
    if not secret or not rules.secret_shape_ok(secret):
        return None
    device = await tx.shared_devices.by_secret(rules.secret_hash(secret), for_update=for_update)
    return device if device is not None and not device.revoked else None


async def _end_sessions(u: Unit, org_id: uuid.UUID, links: list[DeviceSession], now: datetime) -> None:
    """Revoke these sessions and close their streams after commit."""
    by_person: dict[uuid.UUID, list[uuid.UUID]] = {}
    for link in links:
        if await u.tx.sessions.revoke(link.person_id, link.session_id, now):
            by_person.setdefault(link.person_id, []).append(link.session_id)
    for person_id, ended in by_person.items():
        u.sessions_ended(org_id, person_id, ended)


async def _end_active(u: Unit, device: SharedDevice, now: datetime) -> uuid.UUID | None:
    """End the session unlocked on the device, if any; the person it was of."""
    if device.active_session_id is None:
        return None
    links = [s for s in await u.tx.shared_devices.sessions_of_device(device.org_id, device.id)
             if s.session_id == device.active_session_id]
    await _end_sessions(u, device.org_id, links, now)
    return links[0].person_id if links else None


# --- the console ---------------------------------------------------------------------------

async def register(services: Services, actor: Actor, name: str) -> Registered:
    """Register the browser the administrator uses now as a shared device of her organisation."""
    _may_manage(actor)
    clean = rules.device_name(name)
    now = services.clock.now()
    secret = secrets.token_urlsafe(rules.SECRET_BYTES)
    device = SharedDevice(id=new_id(), org_id=actor.org_id, name=clean, created_at=now, created_by=actor.id,
                          last_used_at=None, revoked_at=None, active_session_id=None)
    async with services.unit(actor.ip) as u:
        await require_recent_authentication(services, actor, u.tx)
        await u.tx.shared_devices.add(device, rules.secret_hash(secret))
        await u.audit(actor.org_id, "shared_device.registered", actor.id, "shared_device", device.id, name=clean)
    return Registered(device, secret)


async def devices(services: Services, actor: Actor) -> list[DeviceView]:
    _may_manage(actor)
    now = services.clock.now()
    async with services.db.transaction() as tx:
        out = []
        for d in await tx.shared_devices.of_organisation(actor.org_id):
            periods = [] if d.revoked else await tx.shared_devices.open_periods(actor.org_id, d.id, now)
            out.append(DeviceView(d.id, d.name, d.created_at, d.last_used_at, d.revoked_at, len(periods)))
    return sorted(out, key=lambda v: (v.revoked_at is not None, v.name.casefold()))


async def revoke(services: Services, actor: Actor, device_id: uuid.UUID) -> None:
    """Revoke a shared device at once (lost, stolen, replaced): its credential stops working,
    every period on it ends, and every session opened on it is refused from the commit on,
    its live streams closed."""
    _may_manage(actor)
    now = services.clock.now()
    async with services.unit(actor.ip) as u:
        device = await u.tx.shared_devices.get(actor.org_id, device_id, for_update=True)
        if device is None:
            raise NotFound("shared_device_not_found")
        if not await u.tx.shared_devices.revoke(actor.org_id, device_id, now):
            return  # already revoked: nothing more to end
        closed = await u.tx.shared_devices.close_periods(actor.org_id, device_id, now)
        links = await u.tx.shared_devices.sessions_of_device(actor.org_id, device_id)
        await _end_sessions(u, actor.org_id, links, now)
        await u.audit(actor.org_id, "shared_device.revoked", actor.id, "shared_device", device_id,
                      name=device.name, periods=len(closed))


async def get_policy(services: Services, actor: Actor) -> SharedDevicePolicy:
    async with services.db.transaction() as tx:
        return await tx.shared_devices.policy(actor.org_id) or SharedDevicePolicy()


async def set_policy(services: Services, actor: Actor, *, period_hours: int, idle_minutes: int) -> SharedDevicePolicy:
    _may_manage(actor)
    policy = SharedDevicePolicy.of(period_hours, idle_minutes)
    async with services.unit(actor.ip) as u:
        await require_recent_authentication(services, actor, u.tx)
        await u.tx.shared_devices.set_policy(actor.org_id, policy)
        await u.audit(actor.org_id, "shared_device.policy_changed", actor.id, "organisation", actor.org_id,
                      period_hours=period_hours, idle_minutes=idle_minutes)
    SHARED_POLICY_CACHE.pop(actor.org_id, None)
    return policy


# --- on the device -------------------------------------------------------------------------

async def is_shared(services: Services, secret: str | None) -> bool:
    async with services.db.transaction() as tx:
        return await _device_of(tx, secret) is not None


async def lock_screen(services: Services, secret: str | None) -> LockScreen | None:
    """What the locked device shows: the people with an open period on it (first name and
    initial), nothing of anyone's conversations. None when this is no shared device."""
    now = services.clock.now()
    async with services.db.transaction() as tx:
        device = await _device_of(tx, secret)
        if device is None:
            return None
        periods = await tx.shared_devices.open_periods(device.org_id, device.id, now)
        people = {p.id: p for p in await tx.people.many(device.org_id, [p.person_id for p in periods])}
        shown = [LockedPerson(p.id, rules.lock_screen_name(people[p.person_id].name), p.pin_hash is not None)
                 for p in periods if p.person_id in people and people[p.person_id].status is PersonStatus.ACTIVE]
        policy = await shared_device_policy(tx, device.org_id)
    return LockScreen(device.id, device.name, shown, policy)


async def begin_period(services: Services, secret: str | None, signed: SignedIn,
                       ip: str | None) -> CurrentPeriod | None:
    """After a full sign-in on this browser: when it is a shared device, her period on it
    opens (any earlier one of hers there ends), the session just opened becomes the device's
    only unlocked one, and whoever was unlocked before is signed out of it. None when the
    browser is no shared device. A person of another organisation is refused, and the session
    just opened for her ends."""
    now = services.clock.now()
    async with services.unit(ip) as u:
        device = await _device_of(u.tx, secret, for_update=True)
        if device is None:
            return None
        person = signed.person
        if device.org_id != person.org_id:
            await u.tx.sessions.revoke(person.id, signed.session.id, now)
            await u.audit(person.org_id, "shared_device.refused", person.id, "session", signed.session.id,
                          reason="other_organisation")
            failure = Forbidden("shared_device_other_organisation")
        else:
            failure = None
            policy = await shared_device_policy(u.tx, device.org_id)
            await _end_active(u, device, now)
            await u.tx.shared_devices.close_periods(device.org_id, device.id, now, person_id=person.id)
            period = DevicePeriod(id=new_id(), org_id=device.org_id, device_id=device.id, person_id=person.id,
                                  opened_at=now, ends_at=rules.period_ends_at(policy, now), closed_at=None,
                                  pin_hash=None, pin_failures=0)
            await u.tx.shared_devices.add_period(period)
            await _bind(u, device, period, signed.session.id, now)
            await u.audit(device.org_id, "shared_device.period_opened", person.id, "shared_device", device.id,
                          device=device.name, session=str(signed.session.id), method=signed.session.method,
                          hours=policy.period_hours)
    if failure is not None:
        raise failure
    return CurrentPeriod(replace(device, active_session_id=signed.session.id, last_used_at=now), period, policy)


async def _bind(u: Unit, device: SharedDevice, period: DevicePeriod, session_id: uuid.UUID, now: datetime) -> None:
    await u.tx.shared_devices.add_session(DeviceSession(session_id, device.org_id, device.id, period.id,
                                                        period.person_id))
    await u.tx.shared_devices.set_active(device.org_id, device.id, session_id, now)


async def current_period(services: Services, actor: Actor) -> CurrentPeriod | None:
    """The actor's period on the shared device her session was opened on, or None."""
    if actor.session_id is None:
        return None
    async with services.db.transaction() as tx:
        binding = await tx.shared_devices.binding(actor.org_id, actor.session_id)
        if binding is None:
            return None
        policy = await shared_device_policy(tx, actor.org_id)
    return CurrentPeriod(binding.device, binding.period, policy)


async def set_pin(services: Services, actor: Actor, pin: str, confirm: str) -> None:
    """Her PIN for the rest of her period on this device, argon2-hashed (never kept in clear)."""
    clean = rules.check_pin(pin)
    if clean != (confirm or "").strip():
        raise InvalidInput("pins_differ")
    current = await current_period(services, actor)
    if current is None or not current.period.open_at(services.clock.now()):
        raise Forbidden("shared_device_no_period")
    hashed = await services.passwords.hash(clean)
    async with services.unit(actor.ip) as u:
        period = await u.tx.shared_devices.period(actor.org_id, current.period.id, for_update=True)
        if period is None or period.closed_at is not None:
            raise Forbidden("shared_device_no_period")
        await u.tx.shared_devices.save_period(replace(period, pin_hash=hashed, pin_failures=0))
        await u.audit(actor.org_id, "shared_device.pin_set", actor.id, "shared_device", period.device_id,
                      device=current.device.name)


async def unlock(services: Services, secret: str | None, period_id: uuid.UUID, pin: str, *,
                 ip: str | None = None, user_agent: str = "") -> SignedIn:
    """Switch to a person with her PIN: the session unlocked before ends, a new session of hers
    opens (method ``pin``), bound to her period. A wrong PIN counts against the period; the
    last allowed one ends it, and she signs in fully again."""
    now = services.clock.now()
    async with services.db.transaction() as tx:
        device = await _device_of(tx, secret)
        period = await tx.shared_devices.period(device.org_id, period_id) if device else None
    if device is None or period is None or period.device_id != device.id or not period.open_at(now):
        raise AuthenticationFailed("shared_device_period_over")
    if period.pin_hash is None:
        raise AuthenticationFailed("shared_device_no_pin")
    right = rules.pin_shape_ok(pin) and await services.passwords.verify(period.pin_hash, pin)
    failure: Exception | None = None
    signed: SignedIn | None = None
    async with services.unit(ip) as u:
        locked_device = await _device_of(u.tx, secret, for_update=True)
        fresh = await u.tx.shared_devices.period(device.org_id, period_id, for_update=True)
        person = await u.tx.people.get(device.org_id, period.person_id)
        if locked_device is None or fresh is None or not fresh.open_at(now) or person is None \
                or person.status is not PersonStatus.ACTIVE:
            failure = AuthenticationFailed("shared_device_period_over")
        elif not right:
            failures, ends = rules.after_pin_failure(fresh.pin_failures)
            await u.tx.shared_devices.save_period(replace(fresh, pin_failures=failures, closed_at=now if ends else None,
                                                          pin_hash=None if ends else fresh.pin_hash))
            await u.audit(device.org_id, "shared_device.pin_failed", person.id, "shared_device", device.id,
                          device=device.name, failures=failures, period_ended=ends)
            failure = (AuthenticationFailed("shared_device_pin_locked") if ends else
                       AuthenticationFailed("shared_device_pin_wrong", left=rules.pins_left(failures)))
        else:
            await _end_active(u, locked_device, now)
            await u.tx.shared_devices.save_period(replace(fresh, pin_failures=0))
            signed = await start_session(services, u, person, "pin", ip, user_agent)
            await _bind(u, locked_device, fresh, signed.session.id, now)
            await u.audit(device.org_id, "shared_device.unlocked", person.id, "shared_device", device.id,
                          device=device.name, session=str(signed.session.id))
    if failure is not None:
        raise failure
    assert signed is not None
    return signed


async def lock(services: Services, secret: str | None, *, ip: str | None = None) -> bool:
    """Lock the device: the unlocked session ends at once (its streams too); the periods stay,
    so each person comes back with her PIN. False when this is no shared device."""
    now = services.clock.now()
    async with services.unit(ip) as u:
        device = await _device_of(u.tx, secret, for_update=True)
        if device is None:
            return False
        person_id = await _end_active(u, device, now)
        await u.tx.shared_devices.set_active(device.org_id, device.id, None, now)
        await u.audit(device.org_id, "shared_device.locked", person_id, "shared_device", device.id,
                      device=device.name)
    return True


async def sign_out(services: Services, secret: str | None, actor: Actor) -> None:
    """She signs out on the shared device: her period there ends too (her PIN with it)."""
    now = services.clock.now()
    async with services.unit(actor.ip) as u:
        device = await _device_of(u.tx, secret, for_update=True)
        if device is None or device.org_id != actor.org_id:
            return
        closed = await u.tx.shared_devices.close_periods(device.org_id, device.id, now, person_id=actor.id)
        if device.active_session_id == actor.session_id:
            await u.tx.shared_devices.set_active(device.org_id, device.id, None, now)
        if closed:
            await u.audit(device.org_id, "shared_device.period_closed", actor.id, "shared_device", device.id,
                          device=device.name)

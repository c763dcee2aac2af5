"""An organisation's session policy and the "recent authentication" check that sensitive
actions (export, role change, retention change, key operations) call first.

Kept apart from ``auth`` so that any action module can import it without a cycle."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

from chevet.app.services import Actor, Services
from chevet.core import identity, shared_device
from chevet.core.entities import Session
from chevet.core.errors import ReauthenticationRequired
from chevet.ports import Transaction

POLICY_CACHE: dict[uuid.UUID, tuple[float, identity.SessionPolicy]] = {}
POLICY_CACHE_SECONDS = 30.0


def default_session_policy(services: Services) -> identity.SessionPolicy:
    p = services.policy
    return identity.SessionPolicy(idle=min(p.session_idle, p.session_lifetime), absolute=p.session_lifetime,
                                  reauth=p.reauth_window)


async def session_policy(services: Services, tx: Transaction, org_id: uuid.UUID) -> identity.SessionPolicy:
    """The organisation's policy, or the installation's defaults. Read at most every 30 s per
    process: a change reaches every process within that time."""
    hit = POLICY_CACHE.get(org_id)
    clock = time.monotonic()
    if hit is not None and hit[0] > clock:
        return hit[1]
    policy = await tx.session_security.policy(org_id) or default_session_policy(services)
    if len(POLICY_CACHE) > 10_000:
        POLICY_CACHE.clear()
    POLICY_CACHE[org_id] = (clock + POLICY_CACHE_SECONDS, policy)
    return policy


async def require_recent_authentication(services: Services, actor: Actor, tx: Transaction | None = None) -> None:
    """Refuse a sensitive action (export, role change, retention change, key operation) unless
    the actor proved who they are within the organisation's re-authentication window.

    Raises ``ReauthenticationRequired`` (401, code ``reauthentication_required``): the client
    asks for the password and a second factor, a passkey or Pro Santé Connect again, then retries.
    An operator acting from the command line (no session) is not concerned."""
    if actor.session_id is None:
        return
    if tx is None:
        async with services.db.transaction() as own:
            return await require_recent_authentication(services, actor, own)
    at = await tx.session_security.authenticated_at(actor.session_id)
    policy = await session_policy(services, tx, actor.org_id)
    if at is None or services.clock.now() - at > policy.reauth:
        raise ReauthenticationRequired("reauthentication_required", within_minutes=policy.minutes()["reauth_minutes"])




# --- sessions opened on a shared device (app/identity/shared_devices.py) ---------------------

SHARED_POLICY_CACHE: dict[uuid.UUID, tuple[float, shared_device.SharedDevicePolicy]] = {}


async def shared_device_policy(tx: Transaction, org_id: uuid.UUID) -> shared_device.SharedDevicePolicy:
    """The organisation's shared-device policy, or the defaults; cached like the session policy."""
    hit = SHARED_POLICY_CACHE.get(org_id)
    clock = time.monotonic()
    if hit is not None and hit[0] > clock:
        return hit[1]
    policy = await tx.shared_devices.policy(org_id) or shared_device.SharedDevicePolicy()
    if len(SHARED_POLICY_CACHE) > 10_000:
        SHARED_POLICY_CACHE.clear()
    SHARED_POLICY_CACHE[org_id] = (clock + POLICY_CACHE_SECONDS, policy)
    return policy


async def shared_device_refusal(tx: Transaction, session: Session, now: datetime,
                                touch_granularity: timedelta) -> str | None:
    """Why a session opened on a shared device may not act now: the device was revoked, another
    person unlocked it since, her period is over, or it stayed idle past the lock delay. None
    for any other session, and for the one unlocked session while it lives."""
    binding = await tx.shared_devices.binding(session.org_id, session.id)
    if binding is None:
        return None
    policy = await shared_device_policy(tx, session.org_id)
    return shared_device.unlocked_session_valid(policy, binding.period, binding.device, session.id,
                                                session.last_used_at, now, touch_granularity)


async def shared_device_session_ends(tx: Transaction, session: Session,
                                     touch_granularity: timedelta) -> datetime | None:
    """When a session on a shared device stops (its period's end, or the idle lock); None for
    any other session."""
    binding = await tx.shared_devices.binding(session.org_id, session.id)
    if binding is None:
        return None
    if binding.device.revoked or binding.device.active_session_id != session.id:
        return session.last_used_at
    policy = await shared_device_policy(tx, session.org_id)
    return shared_device.session_ends_at(policy, binding.period, session.last_used_at, touch_granularity)

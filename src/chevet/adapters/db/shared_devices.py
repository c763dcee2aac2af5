"""Shared devices in SQL (``schema_shared_device.py``). Every read is scoped by organisation,
except the lookup of a device by its credential, which is what names the organisation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema_shared_device import (
    shared_device,
    shared_device_period,
    shared_device_policy,
    shared_device_session,
)
from chevet.core.shared_device import DevicePeriod, SharedDevice, SharedDevicePolicy
from chevet.ports.shared_devices import DeviceSession, SessionBinding

_DEVICE = [shared_device.c[n] for n in ("id", "org_id", "name", "created_at", "created_by", "last_used_at",
                                        "revoked_at", "active_session_id")]
_PERIOD = [shared_device_period.c[n] for n in ("id", "org_id", "device_id", "person_id", "opened_at", "ends_at",
                                               "closed_at", "pin_hash", "pin_failures")]


def _device(m: Any, at: int = 0) -> SharedDevice:
    return SharedDevice(*[m[at + i] for i in range(len(_DEVICE))])


def _period(m: Any, at: int = 0) -> DevicePeriod:
    return DevicePeriod(*[m[at + i] for i in range(len(_PERIOD))])


class SqlSharedDevices:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, device: SharedDevice, secret_hash: bytes) -> None:
        await self._conn.execute(insert(shared_device).values(
            id=device.id, org_id=device.org_id, name=device.name, secret_hash=secret_hash,
            created_at=device.created_at, created_by=device.created_by, last_used_at=device.last_used_at,
            revoked_at=device.revoked_at, active_session_id=device.active_session_id))

    async def by_secret(self, secret_hash: bytes, *, for_update: bool = False) -> SharedDevice | None:
        stmt = select(*_DEVICE).where(shared_device.c.secret_hash == secret_hash)
        row = (await self._conn.execute(stmt.with_for_update() if for_update else stmt)).first()
        return _device(row) if row else None

    async def get(self, org_id: uuid.UUID, device_id: uuid.UUID, *, for_update: bool = False) -> SharedDevice | None:
        stmt = select(*_DEVICE).where(shared_device.c.org_id == org_id, shared_device.c.id == device_id)
        row = (await self._conn.execute(stmt.with_for_update() if for_update else stmt)).first()
        return _device(row) if row else None

    async def of_organisation(self, org_id: uuid.UUID) -> list[SharedDevice]:
        rows = await self._conn.execute(select(*_DEVICE).where(shared_device.c.org_id == org_id)
                                        .order_by(shared_device.c.name, shared_device.c.created_at))
        return [_device(r) for r in rows]

    async def set_active(self, org_id: uuid.UUID, device_id: uuid.UUID, session_id: uuid.UUID | None,
                         at: datetime) -> None:
        await self._conn.execute(update(shared_device).where(
            shared_device.c.org_id == org_id, shared_device.c.id == device_id).values(
            active_session_id=session_id, last_used_at=at))

    async def revoke(self, org_id: uuid.UUID, device_id: uuid.UUID, at: datetime) -> bool:
        done = await self._conn.execute(update(shared_device).where(
            shared_device.c.org_id == org_id, shared_device.c.id == device_id,
            shared_device.c.revoked_at.is_(None)).values(revoked_at=at, active_session_id=None))
        return bool(done.rowcount == 1)

    async def policy(self, org_id: uuid.UUID) -> SharedDevicePolicy | None:
        row = (await self._conn.execute(select(shared_device_policy).where(
            shared_device_policy.c.org_id == org_id))).first()
        return SharedDevicePolicy.of(row.period_hours, row.idle_minutes) if row else None

    async def set_policy(self, org_id: uuid.UUID, policy: SharedDevicePolicy) -> None:
        values = {"period_hours": policy.period_hours, "idle_minutes": policy.idle_minutes}
        done = await self._conn.execute(update(shared_device_policy).where(
            shared_device_policy.c.org_id == org_id).values(**values))
        if done.rowcount == 0:
            await self._conn.execute(insert(shared_device_policy).values(org_id=org_id, **values))

    async def add_period(self, period: DevicePeriod) -> None:
        await self._conn.execute(insert(shared_device_period).values(
            id=period.id, org_id=period.org_id, device_id=period.device_id, person_id=period.person_id,
            opened_at=period.opened_at, ends_at=period.ends_at, closed_at=period.closed_at,
            pin_hash=period.pin_hash, pin_failures=period.pin_failures))

    async def period(self, org_id: uuid.UUID, period_id: uuid.UUID, *, for_update: bool = False) -> DevicePeriod | None:
        stmt = select(*_PERIOD).where(shared_device_period.c.org_id == org_id, shared_device_period.c.id == period_id)
        row = (await self._conn.execute(stmt.with_for_update() if for_update else stmt)).first()
        return _period(row) if row else None

    async def open_periods(self, org_id: uuid.UUID, device_id: uuid.UUID, now: datetime) -> list[DevicePeriod]:
        rows = await self._conn.execute(select(*_PERIOD).where(
            shared_device_period.c.org_id == org_id, shared_device_period.c.device_id == device_id,
            shared_device_period.c.closed_at.is_(None), shared_device_period.c.ends_at > now)
            .order_by(shared_device_period.c.opened_at))
        return [_period(r) for r in rows]

    async def save_period(self, period: DevicePeriod) -> None:
        await self._conn.execute(update(shared_device_period).where(
            shared_device_period.c.org_id == period.org_id, shared_device_period.c.id == period.id).values(
            pin_hash=period.pin_hash, pin_failures=period.pin_failures, closed_at=period.closed_at))

    async def close_periods(self, org_id: uuid.UUID, device_id: uuid.UUID, at: datetime,
                            person_id: uuid.UUID | None = None) -> list[DevicePeriod]:
        cond = and_(shared_device_period.c.org_id == org_id, shared_device_period.c.device_id == device_id,
                    shared_device_period.c.closed_at.is_(None))
        if person_id is not None:
            cond = and_(cond, shared_device_period.c.person_id == person_id)
        closing = [_period(r) for r in await self._conn.execute(select(*_PERIOD).where(cond))]
        if closing:
            await self._conn.execute(update(shared_device_period).where(
                shared_device_period.c.id.in_([p.id for p in closing])).values(closed_at=at, pin_hash=None))
        return closing

    async def add_session(self, link: DeviceSession) -> None:
        await self._conn.execute(insert(shared_device_session).values(
            session_id=link.session_id, org_id=link.org_id, device_id=link.device_id, period_id=link.period_id,
            person_id=link.person_id))

    async def sessions_of_device(self, org_id: uuid.UUID, device_id: uuid.UUID) -> list[DeviceSession]:
        rows = await self._conn.execute(select(shared_device_session).where(
            shared_device_session.c.org_id == org_id, shared_device_session.c.device_id == device_id))
        return [DeviceSession(r.session_id, r.org_id, r.device_id, r.period_id, r.person_id) for r in rows]

    async def binding(self, org_id: uuid.UUID, session_id: uuid.UUID) -> SessionBinding | None:
        s = shared_device_session
        row = (await self._conn.execute(
            select(*_DEVICE, *_PERIOD)
            .select_from(s.join(shared_device, shared_device.c.id == s.c.device_id)
                         .join(shared_device_period, shared_device_period.c.id == s.c.period_id))
            .where(s.c.session_id == session_id, s.c.org_id == org_id))).first()
        if row is None:
            return None
        return SessionBinding(_device(row), _period(row, len(_DEVICE)))

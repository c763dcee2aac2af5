"""The shared devices of care units: the devices, each person's period on one, the sessions
opened on one, and the organisation's policy (``core/shared_device.py``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chevet.core.shared_device import DevicePeriod, SharedDevice, SharedDevicePolicy


@dataclass(frozen=True, slots=True)
class DeviceSession:
    """A session opened on a shared device, in a person's period there."""

    session_id: uuid.UUID
    org_id: uuid.UUID
    device_id: uuid.UUID
    period_id: uuid.UUID
    person_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class SessionBinding:
    """What decides whether a session opened on a shared device may act now."""

    device: SharedDevice
    period: DevicePeriod


class SharedDeviceRepository(Protocol):
    async def add(self, device: SharedDevice, secret_hash: bytes) -> None: ...
    async def by_secret(self, secret_hash: bytes, *, for_update: bool = False) -> SharedDevice | None:
        """The device whose credential hashes to this, revoked or not (the caller checks)."""
        ...
    async def get(self, org_id: uuid.UUID, device_id: uuid.UUID, *,
                  for_update: bool = False) -> SharedDevice | None: ...
    async def of_organisation(self, org_id: uuid.UUID) -> list[SharedDevice]: ...
    async def set_active(self, org_id: uuid.UUID, device_id: uuid.UUID, session_id: uuid.UUID | None,
                         at: datetime) -> None:
        """The one session allowed on the device from now on (None: locked); its last use."""
        ...
    async def revoke(self, org_id: uuid.UUID, device_id: uuid.UUID, at: datetime) -> bool: ...

    async def policy(self, org_id: uuid.UUID) -> SharedDevicePolicy | None: ...
    async def set_policy(self, org_id: uuid.UUID, policy: SharedDevicePolicy) -> None: ...

    async def add_period(self, period: DevicePeriod) -> None: ...
    async def period(self, org_id: uuid.UUID, period_id: uuid.UUID, *,
                     for_update: bool = False) -> DevicePeriod | None: ...
    async def open_periods(self, org_id: uuid.UUID, device_id: uuid.UUID, now: datetime) -> list[DevicePeriod]:
        """The periods of the device neither closed nor over at ``now``, oldest first."""
        ...
    async def save_period(self, period: DevicePeriod) -> None:
        """Its PIN, failures and closing time (nothing else of a period changes)."""
        ...
    async def close_periods(self, org_id: uuid.UUID, device_id: uuid.UUID, at: datetime,
                            person_id: uuid.UUID | None = None) -> list[DevicePeriod]:
        """Close the device's open periods (of one person only, if given), forgetting their PINs;
        returns those closed."""
        ...

    async def add_session(self, link: DeviceSession) -> None: ...
    async def sessions_of_device(self, org_id: uuid.UUID, device_id: uuid.UUID) -> list[DeviceSession]: ...
    async def binding(self, org_id: uuid.UUID, session_id: uuid.UUID) -> SessionBinding | None:
        """The device and period of a session opened on a shared device; None for any other."""
        ...

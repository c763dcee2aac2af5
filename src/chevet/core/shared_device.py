"""Shared devices of a care unit: the rules, without I/O.

A unit's tablet is registered by an administrator; each person signs in on it once per
*period* with her full strong authentication, then comes back to it within that period with a
personal PIN. The device locks after a few idle minutes and on every switch. What is decided
here: the bounds of the organisation's policy, what a PIN may be, how many wrong PINs end a
period, when a period and an unlocked session are over, and how a person is named on the lock
screen (first name and initial, nothing else).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from chevet.core.errors import InvalidInput

PIN_MIN_DIGITS = 6
PIN_MAX_DIGITS = 12
# Wrong PINs allowed in one period: the next one ends the period (full sign-in again).
PIN_FAILURES_ALLOWED = 3
PERIOD_HOURS = (1, 24)
IDLE_MINUTES = (1, 30)
NAME_CHARS = (2, 80)
SECRET_BYTES = 32  # the device credential: 256 random bits, kept by the server as its SHA-256


@dataclass(frozen=True, slots=True)
class SharedDevicePolicy:
    """How long a person's period on a shared device lasts after her full sign-in, and after
    how long without activity the device locks."""

    period: timedelta = timedelta(hours=12)
    idle: timedelta = timedelta(minutes=3)

    @staticmethod
    def of(period_hours: int, idle_minutes: int) -> SharedDevicePolicy:
        """The policy an administrator sets, within bounds: a period longer than a day would
        outlive a shift pattern, an idle delay over half an hour leaves a tablet open on a ward."""
        for value in (period_hours, idle_minutes):
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidInput("shared_device_policy_invalid")
        if not (PERIOD_HOURS[0] <= period_hours <= PERIOD_HOURS[1]
                and IDLE_MINUTES[0] <= idle_minutes <= IDLE_MINUTES[1]):
            raise InvalidInput("shared_device_policy_invalid", min_hours=PERIOD_HOURS[0], max_hours=PERIOD_HOURS[1],
                               min_minutes=IDLE_MINUTES[0], max_minutes=IDLE_MINUTES[1])
        return SharedDevicePolicy(timedelta(hours=period_hours), timedelta(minutes=idle_minutes))

    @property
    def period_hours(self) -> int:
        return int(self.period.total_seconds() // 3600)

    @property
    def idle_minutes(self) -> int:
        return int(self.idle.total_seconds() // 60)


@dataclass(frozen=True, slots=True)
class SharedDevice:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    created_at: datetime
    created_by: uuid.UUID | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    # The one session allowed on the device now (the person who unlocked it), or None: locked.
    active_session_id: uuid.UUID | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True)
class DevicePeriod:
    """One person's period on one shared device: opened by her full sign-in, ended by its
    expiry, too many wrong PINs, her signing out, or the device's revocation."""

    id: uuid.UUID
    org_id: uuid.UUID
    device_id: uuid.UUID
    person_id: uuid.UUID
    opened_at: datetime
    ends_at: datetime
    closed_at: datetime | None
    pin_hash: str | None
    pin_failures: int

    def open_at(self, now: datetime) -> bool:
        return self.closed_at is None and now < self.ends_at


def device_name(name: str) -> str:
    """« Tablette unité Les Tilleuls »: trimmed, inner spaces collapsed, printable."""
    text = " ".join((name or "").split())
    if not NAME_CHARS[0] <= len(text) <= NAME_CHARS[1] or any(unicodedata.category(c)[0] == "C" for c in text):
        raise InvalidInput("shared_device_name_invalid", min=NAME_CHARS[0], max=NAME_CHARS[1])
    return text


_SEQUENCES = "0123456789012345678909876543210987654321"


def check_pin(pin: str) -> str:
    """A PIN of 6 to 12 digits that is not one digit repeated nor a run (123456, 987654):
    the first guesses of whoever picks up the tablet."""
    text = (pin or "").strip()
    if not re.fullmatch(r"[0-9]+", text) or not PIN_MIN_DIGITS <= len(text) <= PIN_MAX_DIGITS:
        raise InvalidInput("pin_invalid", min=PIN_MIN_DIGITS, max=PIN_MAX_DIGITS)
    if len(set(text)) == 1 or text in _SEQUENCES:
        raise InvalidInput("pin_too_simple")
    return text


def pin_shape_ok(pin: str) -> bool:
    """Whether a PIN typed at the lock screen is worth checking at all (digits, right length);
    a malformed one still counts as a failure."""
    return bool(re.fullmatch(rf"[0-9]{{{PIN_MIN_DIGITS},{PIN_MAX_DIGITS}}}", pin or ""))


def after_pin_failure(failures: int) -> tuple[int, bool]:
    """The failures of the period after one more, and whether the period ends with it."""
    failures += 1
    return failures, failures >= PIN_FAILURES_ALLOWED


def pins_left(failures: int) -> int:
    return max(0, PIN_FAILURES_ALLOWED - failures)


def period_ends_at(policy: SharedDevicePolicy, opened_at: datetime) -> datetime:
    return opened_at + policy.period


def idle_ends_at(policy: SharedDevicePolicy, last_used_at: datetime, touch_granularity: timedelta) -> datetime:
    """When an unlocked session on a shared device locks without activity. ``last_used_at`` is
    written only every ``touch_granularity``, which the delay allows for."""
    return last_used_at + policy.idle + touch_granularity


def unlocked_session_valid(policy: SharedDevicePolicy, period: DevicePeriod, device: SharedDevice,
                           session_id: uuid.UUID, last_used_at: datetime, now: datetime,
                           touch_granularity: timedelta) -> str | None:
    """Why a session opened on a shared device is refused now ("revoked", "switched",
    "period_over", "idle"), or None while it may act."""
    if device.revoked:
        return "revoked"
    if device.active_session_id != session_id:
        return "switched"
    if not period.open_at(now):
        return "period_over"
    if now >= idle_ends_at(policy, last_used_at, touch_granularity):
        return "idle"
    return None


def session_ends_at(policy: SharedDevicePolicy, period: DevicePeriod, last_used_at: datetime,
                    touch_granularity: timedelta) -> datetime:
    """When ``unlocked_session_valid`` starts refusing the session if it is not used before."""
    return min(period.ends_at, idle_ends_at(policy, last_used_at, touch_granularity))


def lock_screen_name(full_name: str) -> str:
    """« Sophie B. »: what the lock screen shows of a person, first name and initial of the rest."""
    words = (full_name or "").split()
    if not words:
        return "?"
    if len(words) == 1:
        return words[0]
    return f"{words[0]} {words[-1][0].upper()}."


def secret_hash(secret: str) -> bytes:
    """What the server keeps of a device credential: the credential itself is 256 random bits,
    so a plain SHA-256 cannot be reversed by guessing."""
    return hashlib.sha256(secret.encode()).digest()


def secret_shape_ok(secret: str | None) -> bool:
    return bool(secret) and 40 <= len(secret or "") <= 64 and re.fullmatch(r"[A-Za-z0-9_-]+", secret or "") is not None

"""The rules of shared devices: the policy's bounds, what a PIN may be, how wrong PINs end a
period, when an unlocked session is refused, and what the lock screen shows of a person."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chevet.core import shared_device as rules
from chevet.core.errors import InvalidInput
from chevet.core.shared_device import DevicePeriod, SharedDevice, SharedDevicePolicy

NOW = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def device(active: uuid.UUID | None, revoked: bool = False) -> SharedDevice:
    return SharedDevice(uuid.uuid4(), uuid.uuid4(), "Tablette unité Les Tilleuls", NOW, None, None,
                        NOW if revoked else None, active)


def period(ends_in: timedelta = timedelta(hours=12), closed: bool = False) -> DevicePeriod:
    return DevicePeriod(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), NOW, NOW + ends_in,
                        NOW if closed else None, "argon2-hash", 0)


def test_the_policy_stays_within_its_bounds() -> None:
    assert SharedDevicePolicy() == SharedDevicePolicy.of(12, 3)
    assert SharedDevicePolicy.of(1, 1).period == timedelta(hours=1)
    assert SharedDevicePolicy.of(24, 30).idle == timedelta(minutes=30)
    for hours, minutes in ((0, 3), (25, 3), (12, 0), (12, 31), (-1, 3)):
        with pytest.raises(InvalidInput) as refused:
            SharedDevicePolicy.of(hours, minutes)
        assert refused.value.code == "shared_device_policy_invalid"
    with pytest.raises(InvalidInput):
        SharedDevicePolicy.of(True, 3)  # type: ignore[arg-type]


@pytest.mark.parametrize("pin", ["482915", "  482915 ", "739164820517"])
def test_a_pin_of_six_to_twelve_digits_is_taken(pin: str) -> None:
    assert rules.check_pin(pin) == pin.strip()


@pytest.mark.parametrize(("pin", "code"), [
    ("48291", "pin_invalid"), ("4829153829104", "pin_invalid"), ("48a915", "pin_invalid"), ("", "pin_invalid"),
    ("４８２９１５", "pin_invalid"),  # full-width digits are not what the keypad sends
    ("000000", "pin_too_simple"), ("123456", "pin_too_simple"), ("987654", "pin_too_simple"),
    ("567890", "pin_too_simple"), ("3210987", "pin_too_simple"),
])
def test_short_long_or_guessable_pins_are_refused(pin: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.check_pin(pin)
    assert refused.value.code == code


def test_the_third_wrong_pin_ends_the_period() -> None:
    failures, ends = rules.after_pin_failure(0)
    assert (failures, ends, rules.pins_left(failures)) == (1, False, 2)
    failures, ends = rules.after_pin_failure(failures)
    assert (failures, ends, rules.pins_left(failures)) == (2, False, 1)
    failures, ends = rules.after_pin_failure(failures)
    assert (failures, ends, rules.pins_left(failures)) == (3, True, 0)


def test_only_the_unlocked_session_acts_and_only_while_its_period_and_activity_last() -> None:
    policy = SharedDevicePolicy.of(12, 3)
    mine = uuid.uuid4()
    p = period()
    assert rules.unlocked_session_valid(policy, p, device(mine), mine, NOW, NOW + MINUTE, MINUTE) is None
    assert rules.unlocked_session_valid(policy, p, device(uuid.uuid4()), mine, NOW, NOW, MINUTE) == "switched"
    assert rules.unlocked_session_valid(policy, p, device(None), mine, NOW, NOW, MINUTE) == "switched"
    assert rules.unlocked_session_valid(policy, p, device(mine, revoked=True), mine, NOW, NOW, MINUTE) == "revoked"
    assert rules.unlocked_session_valid(policy, period(closed=True), device(mine), mine, NOW, NOW,
                                        MINUTE) == "period_over"
    over = period(ends_in=timedelta(hours=1))
    assert rules.unlocked_session_valid(policy, over, device(mine), mine, NOW + timedelta(hours=1),
                                        NOW + timedelta(hours=1), MINUTE) == "period_over"
    # Idle: three minutes, plus the minute the last use may lag behind.
    assert rules.unlocked_session_valid(policy, p, device(mine), mine, NOW, NOW + 4 * MINUTE - timedelta(seconds=1),
                                        MINUTE) is None
    assert rules.unlocked_session_valid(policy, p, device(mine), mine, NOW, NOW + 4 * MINUTE, MINUTE) == "idle"
    assert rules.session_ends_at(policy, p, NOW, MINUTE) == NOW + 4 * MINUTE
    assert rules.session_ends_at(policy, over, NOW + timedelta(minutes=59), MINUTE) == over.ends_at


def test_a_period_ends_at_its_time_or_when_closed() -> None:
    p = period(ends_in=timedelta(hours=12))
    assert p.open_at(NOW + timedelta(hours=11, minutes=59))
    assert not p.open_at(NOW + timedelta(hours=12))
    assert not period(closed=True).open_at(NOW)
    assert rules.period_ends_at(SharedDevicePolicy.of(8, 3), NOW) == NOW + timedelta(hours=8)


def test_the_lock_screen_shows_a_first_name_and_an_initial_only() -> None:
    assert rules.lock_screen_name("Sophie Bernard") == "Sophie B."
    assert rules.lock_screen_name("  Marie-Claire  de la Fontaine ") == "Marie-Claire F."
    assert rules.lock_screen_name("Aïcha") == "Aïcha"
    assert rules.lock_screen_name("élodie éluard") == "élodie É."
    assert rules.lock_screen_name("") == "?"


def test_device_names_are_trimmed_and_bounded() -> None:
    assert rules.device_name("  Tablette   unité Les Tilleuls ") == "Tablette unité Les Tilleuls"
    for bad in ("", " x ", "T" * 81, "Tablette\x00unité", "Tablette\u202eunité"):
        with pytest.raises(InvalidInput) as refused:
            rules.device_name(bad)
        assert refused.value.code == "shared_device_name_invalid"


def test_the_device_credential_is_kept_as_a_hash_and_checked_for_shape() -> None:
    import secrets

    secret = secrets.token_urlsafe(rules.SECRET_BYTES)
    assert rules.secret_shape_ok(secret)
    assert rules.secret_hash(secret) != secret.encode() and len(rules.secret_hash(secret)) == 32
    assert not rules.secret_shape_ok("court")
    assert not rules.secret_shape_ok(secret[:-2] + "%;")
    assert not rules.secret_shape_ok(None)
    assert rules.pin_shape_ok("482915") and not rules.pin_shape_ok("4829") and not rules.pin_shape_ok("48 915")

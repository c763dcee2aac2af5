"""Shared devices on SQLite and PostgreSQL: registration, a period opened by the full sign-in,
the PIN chosen, checked and locked out, the period's end, the idle lock, switching between two
people, revocation ending every session (streams included), and another organisation refused.
The clock is moved by the test, never waited for."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from chevet.app.identity import auth, shared_devices
from chevet.app.services import Actor, Services
from chevet.bootstrap import Installation
from chevet.core import totp
from chevet.core.entities import SESSION_ENDED, RealtimeEvent
from chevet.core.errors import AuthenticationFailed, Forbidden, InvalidInput, NotFound
from tests.support import Member, new_member, new_org

PIN_A, PIN_B = "482915", "730164"


@dataclass
class Clock:
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self.at


@dataclass
class RecordingBus:
    published: list[RealtimeEvent] = field(default_factory=list)

    async def publish(self, events: Sequence[RealtimeEvent]) -> None:
        self.published.extend(events)

    async def start(self, deliver: Callable[[RealtimeEvent], None]) -> None:
        pass

    async def close(self) -> None:
        pass

    def ended(self) -> set[str]:
        return {s for e in self.published if e.payload.get("type") == SESSION_ENDED for s in e.payload["sessions"]}


@dataclass
class Ward:
    svc: Services
    clock: Clock
    bus: RecordingBus
    admin: Member
    nurse: Member
    aide: Member
    secret: str
    steps: dict[uuid.UUID, int] = field(default_factory=dict)

    async def full_sign_in(self, who: Member) -> auth.SignedIn:
        """Password and TOTP code (a new code each time: a code is accepted once), then the
        period on the device, as the sign-in page does."""
        signed = await self.login(who)
        assert await shared_devices.begin_period(self.svc, self.secret, signed, "10.0.0.7") is not None
        return signed

    async def login(self, who: Member) -> auth.SignedIn:
        """A sign-in with the next unused TOTP code, the clock moved to its time step."""
        step = max(totp.step_of(self.clock.now().timestamp()), self.steps.get(who.id, 0) + 1)
        self.steps[who.id] = step
        self.clock.at = max(self.clock.at, datetime.fromtimestamp(step * totp.STEP_SECONDS, UTC))
        return await auth.login(self.svc, who.email, who.password, totp.code_at(who.totp_secret, step))

    def actor(self, signed: auth.SignedIn) -> Actor:
        return Actor(signed.person, signed.organisation, signed.session.id, "10.0.0.7")

    async def acts(self, token: str) -> bool:
        try:
            await auth.authenticate(self.svc, token)
        except AuthenticationFailed:
            return False
        return True

    async def period_of(self, who: Member) -> uuid.UUID:
        screen = await shared_devices.lock_screen(self.svc, self.secret)
        assert screen is not None
        async with self.svc.db.transaction() as tx:
            periods = await tx.shared_devices.open_periods(self.admin.actor.org_id, screen.device_id, self.clock.now())
        return next(p.id for p in periods if p.person_id == who.id)


@pytest.fixture
async def ward(installation: Installation) -> Ward:
    svc = installation.services
    clock, bus = Clock(), RecordingBus()
    svc.clock, svc.bus = clock, bus
    org = await new_org(svc, f"tilleuls-{uuid.uuid4().hex[:6]}")
    admin = await new_member(svc, org, "admin", "Alice Admin")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    aide = await new_member(svc, org, "care_assistant", "Julie Petit")
    registered = await shared_devices.register(svc, admin.actor, "  Tablette unité   Les Tilleuls ")
    return Ward(svc, clock, bus, admin, nurse, aide, registered.secret)


async def test_a_registered_device_is_listed_with_its_last_use_and_its_credential_is_only_hashed(
        ward: Ward) -> None:
    svc = ward.svc
    [listed] = await shared_devices.devices(svc, ward.admin.actor)
    assert (listed.name, listed.last_used_at, listed.revoked_at, listed.open_periods) == \
        ("Tablette unité Les Tilleuls", None, None, 0)
    async with svc.db.engine.connect() as conn:  # type: ignore[attr-defined]
        import sqlalchemy as sa

        rows = (await conn.execute(sa.text("SELECT * FROM shared_device"))).all()
    assert all(ward.secret.encode() not in bytes(v) for row in rows for v in row if isinstance(v, bytes | memoryview))
    signed = await ward.full_sign_in(ward.nurse)
    [listed] = await shared_devices.devices(svc, ward.admin.actor)
    assert listed.last_used_at == ward.clock.now() and listed.open_periods == 1
    assert signed.session.method == "password+totp"
    with pytest.raises(Forbidden):  # only an administrator registers or lists
        await shared_devices.register(svc, ward.nurse.actor, "Ma tablette")
    with pytest.raises(Forbidden):
        await shared_devices.devices(svc, ward.nurse.actor)
    with pytest.raises(InvalidInput) as bad:
        await shared_devices.register(svc, ward.admin.actor, "x")
    assert bad.value.code == "shared_device_name_invalid"


async def test_a_full_sign_in_opens_a_period_then_her_pin_brings_her_back(ward: Ward) -> None:
    svc = ward.svc
    signed = await ward.full_sign_in(ward.nurse)
    assert await ward.acts(signed.token)
    with pytest.raises(InvalidInput) as simple:
        await shared_devices.set_pin(svc, ward.actor(signed), "123456", "123456")
    assert simple.value.code == "pin_too_simple"
    with pytest.raises(InvalidInput):
        await shared_devices.set_pin(svc, ward.actor(signed), PIN_A, "482916")
    await shared_devices.set_pin(svc, ward.actor(signed), PIN_A, PIN_A)
    period_id = await ward.period_of(ward.nurse)
    async with svc.db.transaction() as tx:
        period = await tx.shared_devices.period(ward.nurse.actor.org_id, period_id)
    assert period is not None and period.pin_hash is not None and PIN_A not in period.pin_hash
    assert period.pin_hash.startswith("$argon2")

    assert await shared_devices.lock(svc, ward.secret)
    assert not await ward.acts(signed.token)  # locked: her session ended at once
    assert signed.session.id.hex in ward.bus.ended()
    screen = await shared_devices.lock_screen(svc, ward.secret)
    assert screen is not None and [(p.name, p.has_pin) for p in screen.people] == [("Sophie B.", True)]

    back = await shared_devices.unlock(svc, ward.secret, await ward.period_of(ward.nurse), PIN_A)
    assert back.person.id == ward.nurse.id and back.session.method == "pin"
    assert back.session.id != signed.session.id  # her own new session, imputable to her
    assert await ward.acts(back.token)
    trail = await audit_actions(svc, ward.nurse)
    assert {"shared_device.period_opened", "shared_device.pin_set", "shared_device.locked",
            "shared_device.unlocked"} <= set(trail)


async def test_switching_to_another_person_refuses_the_previous_session_on_the_device(ward: Ward) -> None:
    svc = ward.svc
    a = await ward.full_sign_in(ward.nurse)
    await shared_devices.set_pin(svc, ward.actor(a), PIN_A, PIN_A)
    b = await ward.full_sign_in(ward.aide)  # B's full sign-in switches the device to her
    assert not await ward.acts(a.token) and await ward.acts(b.token)
    assert a.session.id.hex in ward.bus.ended()
    await shared_devices.set_pin(svc, ward.actor(b), PIN_B, PIN_B)
    a2 = await shared_devices.unlock(svc, ward.secret, await ward.period_of(ward.nurse), PIN_A)
    assert not await ward.acts(b.token) and await ward.acts(a2.token)
    b2 = await shared_devices.unlock(svc, ward.secret, await ward.period_of(ward.aide), PIN_B)
    assert not await ward.acts(a2.token) and await ward.acts(b2.token)
    with pytest.raises(AuthenticationFailed):  # A's PIN does not open B's period
        await shared_devices.unlock(svc, ward.secret, await ward.period_of(ward.aide), PIN_A)
    screen = await shared_devices.lock_screen(svc, ward.secret)
    assert screen is not None and sorted(p.name for p in screen.people) == ["Julie P.", "Sophie B."]
    # The audit names the person and the device of each step.
    async with svc.db.transaction() as tx:
        entries = await tx.audit.query(ward.admin.actor.org_id, object_id=screen.device_id, limit=1000)
    unlocked = sorted((e for e in entries if e.action == "shared_device.unlocked"), key=lambda e: e.seq)
    assert [e.actor_id for e in unlocked] == [ward.nurse.id, ward.aide.id]
    assert {e.object_id for e in unlocked} == {screen.device_id}


async def test_wrong_pins_end_the_period_and_the_full_sign_in_is_needed_again(ward: Ward) -> None:
    svc = ward.svc
    a = await ward.full_sign_in(ward.nurse)
    await shared_devices.set_pin(svc, ward.actor(a), PIN_A, PIN_A)
    await shared_devices.lock(svc, ward.secret)
    period_id = await ward.period_of(ward.nurse)
    for left in (2, 1):
        with pytest.raises(AuthenticationFailed) as wrong:
            await shared_devices.unlock(svc, ward.secret, period_id, "000111")
        assert (wrong.value.code, wrong.value.params["left"]) == ("shared_device_pin_wrong", left)
    with pytest.raises(AuthenticationFailed) as locked:
        await shared_devices.unlock(svc, ward.secret, period_id, "abc")  # malformed counts too
    assert locked.value.code == "shared_device_pin_locked"
    with pytest.raises(AuthenticationFailed) as over:  # even the right PIN now
        await shared_devices.unlock(svc, ward.secret, period_id, PIN_A)
    assert over.value.code == "shared_device_period_over"
    async with svc.db.transaction() as tx:
        ended = await tx.shared_devices.period(ward.nurse.actor.org_id, period_id)
    assert ended is not None and ended.closed_at is not None and ended.pin_hash is None  # her PIN is forgotten
    screen = await shared_devices.lock_screen(svc, ward.secret)
    assert screen is not None and screen.people == []
    again = await ward.full_sign_in(ward.nurse)
    assert await ward.acts(again.token)


async def test_a_period_ends_after_its_hours_and_the_device_locks_when_idle(ward: Ward) -> None:
    svc = ward.svc
    await shared_devices.set_policy(svc, ward.admin.actor, period_hours=8, idle_minutes=3)
    a = await ward.full_sign_in(ward.nurse)
    await shared_devices.set_pin(svc, ward.actor(a), PIN_A, PIN_A)
    ends = await auth.session_ends_at(svc, ward.actor(a))
    assert ends is not None and ends <= ward.clock.now() + timedelta(minutes=4)  # the stream stops at the lock
    ward.clock.at += timedelta(minutes=2)
    assert await ward.acts(a.token)  # in use: still open (and its last use moves on)
    ward.clock.at += timedelta(minutes=4, seconds=1)
    assert not await ward.acts(a.token)  # idle past the delay: locked by the server too
    period_id = await ward.period_of(ward.nurse)
    back = await shared_devices.unlock(svc, ward.secret, period_id, PIN_A)
    assert await ward.acts(back.token)
    ward.clock.at = a.session.created_at + timedelta(hours=8)
    with pytest.raises(AuthenticationFailed) as over:
        await shared_devices.unlock(svc, ward.secret, period_id, PIN_A)
    assert over.value.code == "shared_device_period_over"
    assert not await ward.acts(back.token)
    with pytest.raises(InvalidInput):
        await shared_devices.set_policy(svc, ward.admin.actor, period_hours=25, idle_minutes=3)
    assert (await shared_devices.get_policy(svc, ward.admin.actor)).period_hours == 8


async def test_revoking_the_device_ends_every_session_on_it_at_once(ward: Ward) -> None:
    svc = ward.svc
    a = await ward.full_sign_in(ward.nurse)
    await shared_devices.set_pin(svc, ward.actor(a), PIN_A, PIN_A)
    b = await ward.full_sign_in(ward.aide)
    elsewhere = await ward.login(ward.aide)  # on her own phone
    [device] = await shared_devices.devices(svc, ward.admin.actor)
    ward.bus.published.clear()
    await shared_devices.revoke(svc, ward.admin.actor, device.id)
    assert not await ward.acts(b.token)
    assert b.session.id.hex in ward.bus.ended()  # her live streams close now
    assert await auth.session_ends_at(svc, ward.actor(b)) is None
    assert await ward.acts(elsewhere.token)  # her session on her own phone is not the device's
    assert await shared_devices.lock_screen(svc, ward.secret) is None
    with pytest.raises(AuthenticationFailed):
        await shared_devices.unlock(svc, ward.secret, uuid.uuid4(), PIN_A)
    [listed] = await shared_devices.devices(svc, ward.admin.actor)
    assert listed.revoked_at == ward.clock.now() and listed.open_periods == 0
    # A sign-in on the revoked device is an ordinary browser's again, with no period.
    signed = await ward.login(ward.aide)
    assert await shared_devices.begin_period(svc, ward.secret, signed, None) is None


async def test_another_organisation_neither_sees_nor_uses_the_device(ward: Ward, installation: Installation) -> None:
    svc = ward.svc
    other = await new_org(svc, f"autre-{uuid.uuid4().hex[:6]}")
    their_admin = await new_member(svc, other, "admin", "Bruno Autre")
    stranger = await new_member(svc, other, "nurse", "Nadia Autre")
    a = await ward.full_sign_in(ward.nurse)
    await shared_devices.set_pin(svc, ward.actor(a), PIN_A, PIN_A)
    [device] = await shared_devices.devices(svc, ward.admin.actor)
    assert await shared_devices.devices(svc, their_admin.actor) == []
    with pytest.raises(NotFound):
        await shared_devices.revoke(svc, their_admin.actor, device.id)
    signed = await ward.login(stranger)
    with pytest.raises(Forbidden) as refused:
        await shared_devices.begin_period(svc, ward.secret, signed, None)
    assert refused.value.code == "shared_device_other_organisation"
    assert not await ward.acts(signed.token)  # the session just opened for her is ended
    assert await ward.acts(a.token)  # and the nurse's unlocked session is untouched
    [still] = await shared_devices.devices(svc, ward.admin.actor)
    assert still.revoked_at is None


async def test_signing_out_on_the_device_ends_her_period(ward: Ward) -> None:
    svc = ward.svc
    a = await ward.full_sign_in(ward.nurse)
    await shared_devices.set_pin(svc, ward.actor(a), PIN_A, PIN_A)
    await auth.logout(svc, ward.actor(a))
    await shared_devices.sign_out(svc, ward.secret, ward.actor(a))
    screen = await shared_devices.lock_screen(svc, ward.secret)
    assert screen is not None and screen.people == []


async def audit_actions(svc: Services, who: Member) -> list[str]:
    async with svc.db.transaction() as tx:
        entries = await tx.audit.query(who.actor.org_id, actor_id=who.id, limit=1000)
    return [e.action for e in entries]


async def test_the_migration_runs_down_and_up_again(installation: Installation) -> None:
    import sqlalchemy as sa

    from tests.support import migrate

    async def tables() -> set[str]:
        async with installation.services.db.engine.connect() as conn:  # type: ignore[attr-defined]
            return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))

    ours = {"shared_device", "shared_device_period", "shared_device_policy", "shared_device_session"}
    assert ours <= await tables()
    await migrate(installation, "0018_handover", up=False)
    assert not ours & await tables()
    await migrate(installation, "heads")
    assert ours <= await tables()

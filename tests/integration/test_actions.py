"""Properties of the action layer itself: events leave only after commit, a failed action
leaves nothing behind, and time-based rules follow the clock port."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from chevet.app.identity import auth
from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
from chevet.core import totp
from chevet.core.entities import RealtimeEvent
from chevet.core.errors import AuthenticationFailed, LockedOut
from tests.support import new_member, new_org


@dataclass
class RecordingBus:
    """Records what is published and whether the writing transaction was visible then."""

    check: Callable[[], object] | None = None
    published: list[RealtimeEvent] = field(default_factory=list)

    async def publish(self, events: Sequence[RealtimeEvent]) -> None:
        self.published.extend(events)

    async def start(self, deliver: Callable[[RealtimeEvent], None]) -> None:
        pass

    async def close(self) -> None:
        pass


@dataclass
class ManualClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


async def test_events_are_published_after_commit_and_never_for_a_failed_action(installation: Installation) -> None:
    svc = installation.services
    bus = RecordingBus()
    svc.bus = bus
    org = await new_org(svc)
    a, b = await new_member(svc, org, "nurse"), await new_member(svc, org, "physician")
    view, _ = await conversations.create_conversation(svc, a.actor, kind="group", title="Jour", member_ids=[b.id])
    cid = uuid.UUID(view["id"])
    assert [e.payload["type"] for e in bus.published] == ["conversation.created"]

    sent, _ = await messages.send_message(svc, a.actor, cid, body="visible", client_id="1")
    event = bus.published[-1]
    async with svc.db.transaction() as tx:  # what the event announces is already committed
        assert (await tx.entries.at_seq(cid, event.seq or 0)) is not None
    assert event.payload["message"]["id"] == sent["id"]

    count = len(bus.published)
    with pytest.raises(RuntimeError):
        async with svc.unit() as u:
            conv = await u.tx.conversations.get(org.id, cid)
            assert conv is not None
            await u.tx.conversations.next_seq(cid, svc.clock.now())
            u.publish(RealtimeEvent(org.id, cid, 99, {"type": "ghost"}))
            raise RuntimeError("crash in the middle of an action")
    assert len(bus.published) == count  # nothing announced
    again, _ = await messages.send_message(svc, a.actor, cid, body="suivant", client_id="2")
    assert again["seq"] == sent["seq"] + 1  # the failed action left no gap


async def test_a_lockout_ends_after_its_duration(installation: Installation) -> None:
    svc = installation.services
    start = svc.clock.now()
    clock = ManualClock(start)
    svc.clock = clock
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")

    def code(at: datetime) -> str:
        return totp.code_at(nurse.totp_secret, totp.step_of(at.timestamp()))

    for _ in range(svc.policy.lockout_threshold - 1):
        with pytest.raises(AuthenticationFailed):
            await auth.login(svc, nurse.email, "wrong-password", code(clock.at))
    with pytest.raises(LockedOut):
        await auth.login(svc, nurse.email, "wrong-password", code(clock.at))
    clock.at = start + svc.policy.lockout_duration - timedelta(seconds=5)
    with pytest.raises(LockedOut):
        await auth.login(svc, nurse.email, nurse.password, code(clock.at))
    clock.at = start + svc.policy.lockout_duration + timedelta(seconds=1)
    signed = await auth.login(svc, nurse.email, nurse.password, code(clock.at))
    assert signed.person.id == nurse.id
    # sessions expire on the same clock
    clock.at = signed.session.expires_at + timedelta(seconds=1)
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(svc, signed.token)

"""A team with a roster: who is off shift is not notified of the team channel's messages unless
named (directly, or through a role address she holds); a team without a roster filters nobody;
a role address is a new conversation's recipient. On SQLite and PostgreSQL, with a manual clock."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from chevet.app.care import rosters
from chevet.app.messaging import conversations, messages, notifications, teams
from chevet.app.services import Services
from chevet.bootstrap import Installation
from chevet.core.care.roster import DutyKind, local_instant
from chevet.core.entities import RealtimeEvent
from chevet.core.errors import InvalidInput, NotFound
from tests.push_support import Device, b64
from tests.support import Member, new_member, new_org

PUSH = "https://push.example.org"


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


async def _subscribe(s: Services, m: Member) -> None:
    device = Device(f"{PUSH}/sub/{m.id.hex}")
    await notifications.subscribe(s, m.actor, endpoint=device.endpoint, p256dh=b64(device.public),
                                  auth=b64(device.auth), allowed_origins=(PUSH,))


async def _notified(s: Services, author: Member, conv_id: uuid.UUID, body: str, *, urgent: bool) -> set[uuid.UUID]:
    sent, _ = await messages.send_message(s, author.actor, conv_id, body=body, client_id=uuid.uuid4().hex,
                                          urgent=urgent)
    event = RealtimeEvent(author.actor.org_id, conv_id, sent["seq"], {"type": "message", "message": sent})
    return {n.subscription.person_id for n in await notifications.plan(s, event)}


@pytest.fixture
def clock(installation: Installation) -> Clock:
    clock = Clock(datetime(2026, 10, 20, 10, tzinfo=UTC))
    installation.services = replace(installation.services, clock=clock)
    return clock


async def test_off_shift_people_are_not_notified_unless_named(installation: Installation, clock: Clock) -> None:
    s = installation.services
    org = await new_org(s)
    manager = await new_member(s, org, "manager")
    day, night, resting, physician, cadre = [await new_member(s, org, r) for r in (
        "nurse", "nurse", "care_assistant", "physician", "manager")]
    team = await teams.create_team(s, manager.actor, "Unité Alzheimer", [day.id, night.id, resting.id, cadre.id])
    team_id = uuid.UUID(team["id"])
    channel, _ = await conversations.create_conversation(s, manager.actor, kind="team", title="Unité Alzheimer",
                                                         member_ids=[], team_id=team_id)
    conv_id = uuid.UUID(channel["id"])
    for m in (day, night, resting, cadre):
        await _subscribe(s, m)
    everyone = {day.id, night.id, resting.id, cadre.id}

    # no roster: every member is notified of an urgent message
    assert await _notified(s, manager, conv_id, "Chute en chambre 12", urgent=True) == everyone

    jour = await rosters.add_shift(s, manager.actor, team_id, "Jour", "07:00", "19:00")
    nuit = await rosters.add_shift(s, manager.actor, team_id, "Nuit", "19:00", "07:00")
    week = await rosters.week(s, manager.actor, team_id, date(2026, 10, 20))
    assert week is not None
    garde = next(r for r in week.roles if r.slug == "garde")
    # the night of the October change: 19:00 Saturday to 07:00 Sunday, 13 hours
    await rosters.add_assignment(s, manager.actor, team_id, rosters.NewAssignment(
        night.id, DutyKind.DUTY, day=date(2026, 10, 24), shift_id=nuit.id, role_id=garde.id))
    await rosters.add_assignment(s, manager.actor, team_id, rosters.NewAssignment(
        day.id, DutyKind.DUTY, day=date(2026, 10, 25), shift_id=jour.id, role_id=garde.id))
    await rosters.add_assignment(s, manager.actor, team_id, rosters.NewAssignment(
        physician.id, DutyKind.ON_CALL, starts_at=local_instant(date(2026, 10, 24), 19 * 60),
        ends_at=local_instant(date(2026, 10, 26), 8 * 60)))
    await rosters.add_assignment(s, manager.actor, team_id, rosters.NewAssignment(  # works Tuesday
        resting.id, DutyKind.DUTY, day=date(2026, 10, 27), shift_id=jour.id))

    seven = local_instant(date(2026, 10, 25), 7 * 60)
    # the nurse manager, never on the roster, is never spared
    clock.at = seven - timedelta(seconds=1)  # 06:59:59: the night nurse is on shift
    assert await _notified(s, manager, conv_id, "Chute en chambre 12", urgent=True) == {night.id, cadre.id}
    clock.at = seven  # 07:00:00 exactly: the day shift's
    assert await _notified(s, manager, conv_id, "Chute en chambre 12", urgent=True) == {day.id, cadre.id}
    # named: directly, or through the role address she holds now
    assert await _notified(s, manager, conv_id, f"@[{resting.id}] tu peux rappeler ?", urgent=True) == {
        day.id, resting.id, cadre.id}
    clock.at = seven - timedelta(hours=3)
    assert await _notified(s, manager, conv_id, "@Garde merci de passer", urgent=True) == {night.id, cadre.id}
    # a gap in the roster (Monday 10:00: nobody assigned) silences nobody
    clock.at = local_instant(date(2026, 10, 26), 10 * 60)
    assert await _notified(s, manager, conv_id, "Réunion", urgent=True) == everyone

    # a role mention counts for the holder's unread mentions
    clock.at = seven - timedelta(hours=1)
    await messages.send_message(s, manager.actor, conv_id, body="@garde la 12 sonne", client_id="g1")
    listing = {c["id"]: c for c in await conversations.list_conversations(s, night.actor)}
    assert listing[str(conv_id)]["unread_mentions"] == 2  # this one and « @Garde merci de passer »
    listing = {c["id"]: c for c in await conversations.list_conversations(s, day.actor)}
    assert listing[str(conv_id)]["unread_mentions"] == 0


async def test_a_role_address_as_a_new_conversation_recipient(installation: Installation, clock: Clock) -> None:
    s = installation.services
    org = await new_org(s)
    manager, nurse, physician = (await new_member(s, org, "manager"), await new_member(s, org, "nurse"),
                                 await new_member(s, org, "physician"))
    team = await teams.create_team(s, manager.actor, "EHPAD")
    team_id = uuid.UUID(team["id"])
    week = await rosters.week(s, manager.actor, team_id, date(2026, 10, 20))
    assert week is not None
    astreinte = next(r for r in week.roles if r.slug == "astreinte-medicale")
    start = clock.at - timedelta(hours=2)
    await rosters.add_assignment(s, manager.actor, team_id, rosters.NewAssignment(
        physician.id, DutyKind.ON_CALL, starts_at=start, ends_at=start + timedelta(hours=24), role_id=astreinte.id))
    conv, created = await conversations.create_conversation(s, nurse.actor, kind="direct", title=None, member_ids=[],
                                                            role_addresses=["@astreinte-médicale"])
    assert created and set(conv["member_ids"]) == {str(nurse.id), str(physician.id)}
    clock.at = start + timedelta(hours=25)  # nobody on call any more: refused in words, nothing made
    with pytest.raises(InvalidInput) as nobody:
        await conversations.create_conversation(s, nurse.actor, kind="group", title="Question", member_ids=[],
                                                role_addresses=["astreinte-medicale"])
    assert nobody.value.code == "role_nobody_now" and nobody.value.params["role"] == "Astreinte médicale"
    with pytest.raises(NotFound):
        await conversations.create_conversation(s, nurse.actor, kind="group", title="Question", member_ids=[],
                                                role_addresses=["inconnu"])
    assert len(await conversations.list_conversations(s, nurse.actor)) == 1

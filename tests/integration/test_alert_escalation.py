"""Urgent alerts on SQLite and PostgreSQL, with a clock the tests move: raised with the message,
escalated up a team's ladder step by step, acknowledged once, carried on by another installation
(and by a real server) after a restart, escalated once by two runners at the same time, and bad
input refused in French with nothing changed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from chevet.adapters.db.schema_alert import care_alert, care_alert_event
from chevet.app.care import alert_policy, alerts
from chevet.app.messaging import conversations, messages, teams
from chevet.bootstrap import Installation, open_installation
from chevet.core.care.alert import AckKind, EventKind, Ladder, LadderStep, StepKind
from chevet.core.care.roster import Assignment, DutyKind, RoleAddress
from chevet.core.entities import RealtimeEvent
from chevet.core.errors import ChevetError, Conflict, InvalidInput, NotFound
from chevet.core.ids import new_id
from chevet.jobs import alerts as alert_job
from chevet.web.i18n import gettext
from tests.support import Member, Server, eventually, migrate, new_member, new_org

NIGHT = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)  # 03:00 in Paris: the night delay (5 minutes by default)


@dataclass
class ManualClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


class RecordingBus:
    def __init__(self) -> None:
        self.published: list[RealtimeEvent] = []

    async def publish(self, events: Sequence[RealtimeEvent]) -> None:
        self.published.extend(events)

    async def start(self, deliver: object, reconnected: object = None) -> None:
        pass

    async def ping(self) -> None:
        pass

    async def close(self) -> None:
        pass


@dataclass
class Ward:
    author: Member
    first_call: Member
    second_call: Member
    manager: Member
    physician: Member
    outsider: Member
    team_id: uuid.UUID
    conversation_id: uuid.UUID


async def ward(inst: Installation, start: datetime) -> Ward:
    """A unit at night: two nurses on call (first, second), a nurse manager, the on-call
    physician holding @astreinte-medicale; a care case between the author and the first on call."""
    s = inst.services
    org = await new_org(s)
    admin = await new_member(s, org, "admin")
    author = await new_member(s, org, "care_assistant", "Aïcha Diallo")
    first, second = await new_member(s, org, "nurse", "Sophie Bernard"), await new_member(s, org, "nurse", "Léa Martin")
    manager = await new_member(s, org, "manager", "Claire Petit")
    physician = await new_member(s, org, "physician", "Paul Lefèvre")
    outsider = await new_member(s, org, "nurse", "Marc Henry")
    team = await teams.create_team(s, admin.actor, "Unité Alzheimer", [author.id, first.id, second.id, manager.id])
    team_id = uuid.UUID(team["id"])
    doctors = uuid.UUID((await teams.create_team(s, admin.actor, "Médecins", [physician.id]))["id"])
    astreinte = RoleAddress(new_id(), org.id, "astreinte-medicale", "Astreinte médicale", None, start)
    night_end = start + timedelta(hours=5)

    def assign(person: uuid.UUID, kind: DutyKind, rank: int, role: RoleAddress | None = None) -> Assignment:
        return Assignment(new_id(), org.id, doctors if role else team_id, person, kind, start - timedelta(hours=7),
                          night_end, None, role.id if role else None, rank, start, admin.id)

    async with s.db.transaction() as tx:
        await tx.rosters.add_role(astreinte)
        await tx.rosters.add_assignment(assign(first.id, DutyKind.ON_CALL, 1))
        await tx.rosters.add_assignment(assign(second.id, DutyKind.ON_CALL, 2))
        await tx.rosters.add_assignment(assign(physician.id, DutyKind.ON_CALL, 1, astreinte))
    conv, _ = await conversations.create_conversation(s, author.actor, kind="care_case", title="M. Roux, chambre 4",
                                                      member_ids=[first.id], care_case_ref="CH4")
    return Ward(author, first, second, manager, physician, outsider, team_id, uuid.UUID(conv["id"]))


async def raise_on_call(inst: Installation, w: Ward, client_id: str = "alerte-1") -> uuid.UUID:
    await messages.send_message(inst.services, w.author.actor, w.conversation_id, body="M. Roux a chuté, saigne",
                                client_id=client_id, alert_for=f"on_call:{w.team_id}")
    found = await alerts.of_conversation(inst.services, w.author.actor, w.conversation_id)
    return found[0].id


async def audit_actions(inst: Installation, org_id: uuid.UUID, alert_id: uuid.UUID) -> list[str]:
    async with inst.services.db.transaction() as tx:
        return [e.action for e in reversed(await tx.audit.query(org_id, object_id=alert_id))]


async def rows(inst: Installation, alert_id: uuid.UUID) -> tuple[int, list[str]]:
    async with inst.services.db.engine.connect() as conn:
        step = (await conn.execute(sa.select(care_alert.c.step).where(care_alert.c.id == alert_id))).scalar_one()
        kinds = (await conn.execute(sa.select(care_alert_event.c.kind).where(care_alert_event.c.alert_id == alert_id)
                                    .order_by(care_alert_event.c.at, care_alert_event.c.step))).scalars().all()
    return int(step), list(kinds)


async def test_an_alert_goes_up_two_steps_then_is_taken_once(installation: Installation) -> None:
    s = installation.services
    clock, bus = ManualClock(NIGHT), RecordingBus()
    s.clock, s.bus = clock, bus
    w = await ward(installation, NIGHT)
    org_id = w.author.actor.org_id
    alert_id = await raise_on_call(installation, w)

    view = await alerts.alert_view(s, w.first_call.actor, alert_id)
    assert view.open and not view.late and view.current == ("Sophie Bernard",) and view.may_acknowledge
    assert view.due_at == NIGHT + timedelta(minutes=5)
    pushed = [e for e in bus.published if e.payload.get("type") == "care.alert"]
    assert [e.user_ids for e in pushed] == [(w.first_call.id,)]
    # The message itself is urgent.
    history = await messages.history(s, w.first_call.actor, w.conversation_id)
    assert [m.get("urgent") for m in history if "body" in m] == [True]

    clock.at = NIGHT + timedelta(minutes=4, seconds=59)
    assert await alert_job.run_once(installation) == 0

    clock.at = NIGHT + timedelta(minutes=5)  # step 1: the next on call, brought into the care case
    assert await alert_job.run_once(installation) == 1
    assert await alert_job.run_once(installation) == 0  # the same moment again: nothing twice
    second_view = await alerts.alert_view(s, w.second_call.actor, alert_id)
    assert second_view.step == 1 and second_view.late and second_view.current == ("Léa Martin",)
    seen = await messages.history(s, w.second_call.actor, w.conversation_id)
    assert [m.get("body") for m in seen if "body" in m] == ["M. Roux a chuté, saigne"]  # from the alert on

    clock.at = NIGHT + timedelta(minutes=10)  # step 2: the nurse manager
    assert await alert_job.run_once(installation) == 1
    pushed = [e for e in bus.published if e.payload.get("type") == "care.alert"]
    assert [e.user_ids for e in pushed] == [(w.first_call.id,), (w.second_call.id,), (w.manager.id,)]
    assert len({e.payload["event_id"] for e in pushed}) == 3  # one notification event per step, never grouped

    with pytest.raises(NotFound):  # a member of the organisation it never notified does not even see it
        await alerts.acknowledge(s, w.outsider.actor, alert_id, AckKind.TAKEN)
    clock.at = NIGHT + timedelta(minutes=11)
    done = await alerts.acknowledge(s, w.second_call.actor, alert_id, AckKind.TAKEN)
    assert not done.view.open and done.view.acknowledged_by == "Léa Martin"

    clock.at = NIGHT + timedelta(minutes=12)
    with pytest.raises(Conflict) as twice:
        await alerts.acknowledge(s, w.manager.actor, alert_id, AckKind.SEEN)
    assert gettext(twice.value.code, "fr", **twice.value.params) == \
        "Cette alerte est déjà prise en charge par Léa Martin à 03:11. Rien n'a été changé."
    clock.at = NIGHT + timedelta(hours=1)
    assert await alert_job.run_once(installation) == 0  # acknowledged: never escalated again

    final = await alerts.alert_view(s, w.author.actor, alert_id)
    assert [(line.kind, line.people, line.actor) for line in final.timeline] == [
        (EventKind.RAISED, (), "Aïcha Diallo"), (EventKind.NOTIFIED, ("Sophie Bernard",), None),
        (EventKind.ESCALATED, ("Léa Martin",), None), (EventKind.ESCALATED, ("Claire Petit",), None),
        (EventKind.ACKNOWLEDGED, (), "Léa Martin")]
    assert final.timeline[-1].ack is AckKind.TAKEN and final.acknowledged_at == NIGHT + timedelta(minutes=11)
    assert await audit_actions(installation, org_id, alert_id) == [
        "alert.raised", "alert.escalated", "alert.escalated", "alert.acknowledged"]


async def test_the_ladder_ends_exhausted_open_and_late_on_the_directors_page(installation: Installation) -> None:
    s = installation.services
    clock = ManualClock(NIGHT)
    s.clock = clock
    w = await ward(installation, NIGHT)
    director = await new_member(s, w.author.actor.organisation, "director")
    await alert_policy.set_ladder(s, w.manager.actor, w.team_id, Ladder(
        night_delay=timedelta(minutes=2), steps=(LadderStep(StepKind.ADDRESS, "astreinte-medicale"),)))
    alert_id = await raise_on_call(installation, w)
    assert (await alerts.alert_view(s, w.author.actor, alert_id)).due_at == NIGHT + timedelta(minutes=2)
    clock.at = NIGHT + timedelta(minutes=2)
    assert await alert_job.run_once(installation) == 1
    assert (await alerts.alert_view(s, w.physician.actor, alert_id)).current == ("Paul Lefèvre",)
    clock.at = NIGHT + timedelta(minutes=4)
    assert await alert_job.run_once(installation) == 1
    listed = await alerts.open_alerts(s, director.actor)
    assert [(v.id, v.open, v.late, v.exhausted) for v in listed] == [(alert_id, True, True, True)]
    with pytest.raises(ChevetError) as refused:
        await alerts.open_alerts(s, w.first_call.actor)
    assert gettext(refused.value.code, "fr").startswith("Cette page est réservée à la direction")
    clock.at = NIGHT + timedelta(days=1)
    assert await alert_job.run_once(installation) == 0
    assert await rows(installation, alert_id) == (1, ["raised", "notified", "escalated", "exhausted"])


async def test_another_installation_on_the_same_database_carries_on_after_a_restart(
        installation: Installation) -> None:
    installation.services.clock = ManualClock(NIGHT)
    w = await ward(installation, NIGHT)
    alert_id = await raise_on_call(installation, w)
    restarted = open_installation(installation.settings, with_bus=False)
    try:
        restarted.services.clock = ManualClock(NIGHT + timedelta(minutes=6))
        assert await alert_job.run_once(restarted) == 1
        assert await alert_job.run_once(restarted) == 0
    finally:
        await restarted.close()
    assert await rows(installation, alert_id) == (1, ["raised", "notified", "escalated"])


async def test_two_runners_escalate_the_same_due_alert_once(installation: Installation) -> None:
    installation.services.clock = ManualClock(NIGHT)
    w = await ward(installation, NIGHT)
    alert_id = await raise_on_call(installation, w)
    other = open_installation(installation.settings, with_bus=False)
    try:
        for inst in (installation, other):
            inst.services.clock = ManualClock(NIGHT + timedelta(minutes=5))
        counts = await asyncio.gather(alert_job.run_once(installation), alert_job.run_once(other))
    finally:
        await other.close()
    assert sorted(counts) == [0, 1]
    assert await rows(installation, alert_id) == (1, ["raised", "notified", "escalated"])
    assert await audit_actions(installation, w.author.actor.org_id, alert_id) == ["alert.raised", "alert.escalated"]


async def test_a_real_server_started_after_the_alert_fell_due_escalates_it_once(installation: Installation) -> None:
    """The alert is raised an hour ago (by the test's clock); a `chevet serve` started on the same
    database, with the real clock, finds it due at start-up and escalates one step, whose own
    delay then runs from the server's now."""
    past = datetime.now(UTC) - timedelta(hours=1)
    installation.services.clock = ManualClock(past)
    w = await ward(installation, past)
    alert_id = await raise_on_call(installation, w)
    server = Server(installation.settings)
    try:
        async def step() -> int:
            return (await rows(installation, alert_id))[0]

        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, eventually,
                                          lambda: asyncio.run_coroutine_threadsafe(step(), loop).result() >= 1, 60)
    finally:
        server.stop()
    assert await rows(installation, alert_id) == (1, ["raised", "notified", "escalated"])


async def test_bad_input_is_refused_in_french_and_changes_nothing(installation: Installation) -> None:
    s = installation.services
    s.clock = ManualClock(NIGHT)
    w = await ward(installation, NIGHT)
    alert_id = await raise_on_call(installation, w)
    elsewhere = await ward(installation, NIGHT)
    before = await rows(installation, alert_id)

    with pytest.raises(NotFound) as unknown:
        await alerts.acknowledge(s, w.first_call.actor, uuid.uuid4(), AckKind.TAKEN)
    assert gettext(unknown.value.code, "fr") == "Cette alerte n'existe pas, ou vous n'y avez pas accès."
    with pytest.raises(NotFound):  # another organisation's alert: as if it did not exist
        await alerts.acknowledge(s, elsewhere.first_call.actor, alert_id, AckKind.TAKEN)
    with pytest.raises(InvalidInput) as target:
        await messages.send_message(s, w.author.actor, w.conversation_id, body="x", client_id="bad",
                                    alert_for="quelqu'un")
    assert gettext(target.value.code, "fr") == "Choisissez qui doit agir dans la liste proposée."
    with pytest.raises(NotFound) as stranger:  # a person of another organisation: no message, no alert
        await messages.send_message(s, w.author.actor, w.conversation_id, body="pour un inconnu", client_id="bad2",
                                    alert_for=f"person:{elsewhere.first_call.id}")
    assert gettext(stranger.value.code, "fr").startswith("Cette personne n'existe pas")
    history = await messages.history(s, w.author.actor, w.conversation_id)
    assert [m.get("body") for m in history if "body" in m] == ["M. Roux a chuté, saigne"]

    await alerts.acknowledge(s, w.first_call.actor, alert_id, AckKind.SEEN)
    after_first = await rows(installation, alert_id)
    with pytest.raises(Conflict):
        await alerts.acknowledge(s, w.first_call.actor, alert_id, AckKind.TAKEN)
    assert await rows(installation, alert_id) == after_first == (before[0], [*before[1], "acknowledged"])
    with pytest.raises(InvalidInput) as ladder:
        alert_policy.parse_ladder(day_minutes="0", night_minutes="5", night_starts="21:00", night_ends="07:00",
                                  steps=["manager"])
    assert gettext(ladder.value.code, "fr", **ladder.value.params) == \
        "Le délai doit être un nombre entier de minutes, entre 1 et 120."


async def test_the_migration_runs_both_ways_and_alerts_work_after(installation: Installation) -> None:
    async def tables() -> set[str]:
        async with installation.services.db.engine.connect() as conn:
            return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))

    mine = {"care_alert", "care_alert_event", "care_alert_ladder"}
    assert mine <= await tables()
    await migrate(installation, "0016_duty_roster", up=False)
    assert not mine & await tables()
    await migrate(installation, "heads")
    assert mine <= await tables()
    installation.services.clock = ManualClock(NIGHT)
    w = await ward(installation, NIGHT)
    alert_id = await raise_on_call(installation, w)
    assert (await alerts.alert_view(installation.services, w.first_call.actor, alert_id)).open


async def test_a_shredded_care_case_takes_its_alerts_with_it(installation: Installation) -> None:
    from chevet.app.governance import retention

    s = installation.services
    s.clock = ManualClock(NIGHT)
    w = await ward(installation, NIGHT)
    alert_id = await raise_on_call(installation, w)
    await alerts.acknowledge(s, w.first_call.actor, alert_id, AckKind.TAKEN)
    await retention.close_care_case(s, w.author.actor, w.conversation_id)
    report = await retention.purge(s, NIGHT + timedelta(days=366))
    assert [x["conversation_id"] for x in report.shredded] == [str(w.conversation_id)]
    async with s.db.engine.connect() as conn:
        for table in (care_alert, care_alert_event):
            assert (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one() == 0


async def test_alerts_travel_with_the_organisation_archive(installation: Installation, tmp_path: Path) -> None:
    """Exported with their timelines and the teams' ladders, imported into a fresh installation
    as they were: the same views, nobody called again, the ladder kept."""
    import io

    from chevet.app.archive import archive
    from chevet.core.sealed_archive import passphrase_header
    from tests.support import new_installation

    s = installation.services
    s.clock = ManualClock(NIGHT)
    w = await ward(installation, NIGHT)
    await alert_policy.set_ladder(s, w.manager.actor, w.team_id, Ladder(night_delay=timedelta(minutes=3)))
    alert_id = await raise_on_call(installation, w)
    s.clock = ManualClock(NIGHT + timedelta(minutes=3))
    assert await alert_job.run_once(installation) == 1
    await alerts.acknowledge(s, w.second_call.actor, alert_id, AckKind.SEEN)
    open_id = await raise_on_call(installation, w, client_id="alerte-2")
    before = [await alerts.alert_view(s, w.author.actor, a) for a in (alert_id, open_id)]

    out = io.BytesIO()
    header, key = passphrase_header("une phrase de passe assez longue", log2_n=14)
    await archive.export_organisation(s, w.author.actor.organisation.slug, out, header, key)
    files = archive.read_archive(io.BytesIO(out.getvalue()), passphrase="une phrase de passe assez longue")
    assert len(files["data/alerts.jsonl"].splitlines()) == 2
    other = await new_installation(tmp_path / "other", None)
    try:
        other.services.clock = ManualClock(NIGHT + timedelta(minutes=4))
        await archive.import_organisation(other.services, files, archive_sha256="x")
        after = [await alerts.alert_view(other.services, w.author.actor, a) for a in (alert_id, open_id)]
        assert after == before
        async with other.services.db.transaction() as tx:
            assert (await tx.alerts.ladder(w.author.actor.org_id, w.team_id)) == Ladder(
                night_delay=timedelta(minutes=3))
            events = await tx.alerts.events_of([alert_id, open_id])
            assert [await tx.alerts.claim_push(e.id, NIGHT) for e in events] == [False] * len(events)  # none again
    finally:
        await other.close()

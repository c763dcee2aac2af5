"""Handovers on SQLite and PostgreSQL: a note written by the outgoing shift in a care case is in
the incoming nurse's « à reprendre » and is confirmed by her (who and when, audited); another,
not confirmed an hour after its shift started, is flagged to the nurse manager exactly once,
even with several flaggers at once (manual clock); notes are sealed at rest, found by search
only by members, exported and imported with the archive, removed with their care case by
retention; bad input is refused in French and changes nothing."""

from __future__ import annotations

import asyncio
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import sqlalchemy as sa

from chevet.adapters.db.schema_handover import handover
from chevet.app.archive import archive
from chevet.app.archive.schema import SCHEMA
from chevet.app.care import handovers
from chevet.app.governance import retention
from chevet.app.messaging import conversations, notifications, teams
from chevet.bootstrap import Installation
from chevet.core.care.roster import ShiftPattern
from chevet.core.errors import ChevetError, Forbidden, InvalidInput, NotFound
from chevet.core.notification import PushSubscription
from chevet.core.sealed_archive import passphrase_header
from chevet.web.i18n import gettext
from tests.governance_support import PASSPHRASE, FakeClock, use_clock
from tests.support import (
    Member,
    create_pg_database,
    drop_pg_database,
    migrate,
    new_installation,
    new_member,
    new_org,
    pg_available,
)

# 18:30 in Paris (winter, UTC+1): the night shift starts at 19:00 Paris = 18:00 UTC.
T0 = datetime(2026, 1, 12, 17, 30, tzinfo=UTC)
NIGHT = datetime(2026, 1, 12, 18, 0, tzinfo=UTC)
SECRET = "Hématome frontal après chute"


@dataclass
class Unit:
    org: Any
    outgoing: Member
    incoming: Member
    manager: Member
    outsider: Member
    care: uuid.UUID
    team: uuid.UUID
    clock: FakeClock


async def unit(installation: Installation) -> Unit:
    svc = installation.services
    clock = use_clock(svc, T0)
    org = await new_org(svc)
    outgoing = await new_member(svc, org, "nurse", "Sophie Bernard")
    incoming = await new_member(svc, org, "nurse", "Inès Moreau")
    manager = await new_member(svc, org, "manager", "Claire Martin")
    outsider = await new_member(svc, org, "nurse", "Louise Petit")
    care, _ = await conversations.create_conversation(svc, outgoing.actor, kind="care_case", title="Mme D., ch. 12",
                                                      member_ids=[incoming.id], care_case_ref="CH12")
    team = await teams.create_team(svc, manager.actor, "Unité Glycine",
                                   [outgoing.id, incoming.id, manager.id])
    return Unit(org, outgoing, incoming, manager, outsider, uuid.UUID(care["id"]), uuid.UUID(str(team["id"])), clock)


async def _write(svc: Any, u: Unit, target: str = "Chute", data: str = SECRET) -> handovers.HandoverView:
    return await handovers.write(svc, u.outgoing.actor, u.care, target=target, data=data,
                                 actions="Glace, surveillance neurologique toutes les 2 h",
                                 results="Consciente, pas de vomissement")


async def _rows(installation: Installation) -> list[Any]:
    async with installation.services.db.engine.connect() as conn:  # type: ignore[attr-defined]
        return list((await conn.execute(sa.select(handover))).all())


async def _actions(installation: Installation, org_id: uuid.UUID, pattern: str) -> list[Any]:
    async with installation.services.db.transaction() as tx:
        return await tx.audit_trail.search(org_id, actions=[pattern], limit=100)


async def test_written_listed_and_confirmed_by_the_incoming_shift(installation: Installation) -> None:
    svc = installation.services
    u = await unit(installation)
    note = await _write(svc, u)
    # Without a roster, the note is for the next default shift: the night, at 19:00 in Paris.
    assert (note.shift_name, note.shift_starts_at, note.target) == ("Nuit", NIGHT, "Chute")

    waiting = await handovers.to_resume(svc, u.incoming.actor)
    assert [(n.id, n.data, n.author_name, n.care_case) for n in waiting] == [
        (note.id, SECRET, "Sophie Bernard", "Mme D., ch. 12")]
    assert await handovers.to_resume(svc, u.outgoing.actor) == []   # her own note is not hers to take up
    assert await handovers.to_resume(svc, u.outsider.actor) == []   # not a member of the care case
    with pytest.raises(Forbidden):
        await handovers.confirm(svc, u.outgoing.actor, note.id)
    with pytest.raises(NotFound):
        await handovers.confirm(svc, u.outsider.actor, note.id)

    u.clock.advance(minutes=40)  # 19:10 in Paris
    done = await handovers.confirm(svc, u.incoming.actor, note.id)
    assert (done.confirmed_by_name, done.confirmed_at) == ("Inès Moreau", u.clock.now())
    again = await handovers.confirm(svc, u.incoming.actor, note.id)  # a second tap changes nothing
    assert again.confirmed_at == done.confirmed_at
    assert await handovers.to_resume(svc, u.incoming.actor) == []
    confirmed = await _actions(installation, u.org.id, "handover.confirmed")
    assert [(e.actor_id, e.object_id) for e in confirmed] == [(u.incoming.id, note.id)]
    written = await _actions(installation, u.org.id, "handover.written")
    assert [e.object_id for e in written] == [note.id]
    assert all(SECRET not in str(e.detail) and "Chute" not in str(e.detail) for e in [*written, *confirmed])

    # Confirmed in time: never flagged, even long after.
    u.clock.advance(hours=5)
    assert await handovers.flag_overdue(svc) == 0


async def test_unconfirmed_note_is_flagged_to_the_manager_once_after_the_hour(installation: Installation) -> None:
    svc = installation.services
    u = await unit(installation)
    note = await _write(svc, u, target="Douleur", data="Douleur genou droit EVA 6")
    u.clock.current = NIGHT + timedelta(minutes=59, seconds=59)
    assert await handovers.flag_overdue(svc) == 0
    assert await handovers.late(svc, u.manager.actor) == []
    u.clock.current = NIGHT + timedelta(hours=1)
    # Several flaggers at the same moment (several server processes): flagged once.
    assert sum(await asyncio.gather(*(handovers.flag_overdue(svc) for _ in range(3)))) == 1
    u.clock.advance(minutes=10)
    assert await handovers.flag_overdue(svc) == 0
    flagged = await _actions(installation, u.org.id, "handover.flagged")
    assert [(e.object_id, e.detail["managers"]) for e in flagged] == [(note.id, 1)]

    shown = await handovers.late(svc, u.manager.actor)
    assert [(v.id, v.target, v.care_case, v.team_name, v.shift_name) for v in shown] == [
        (note.id, "Douleur", "Mme D., ch. 12", "Unité Glycine", "Nuit")]
    with pytest.raises(Forbidden):
        await handovers.late(svc, u.incoming.actor)
    waiting = await handovers.to_resume(svc, u.incoming.actor)
    assert [(n.id, n.late) for n in waiting] == [(note.id, True)]
    # Confirmed late: it leaves the manager's view; the audit says it was late.
    await handovers.confirm(svc, u.incoming.actor, note.id)
    assert await handovers.late(svc, u.manager.actor) == []
    confirmed = await _actions(installation, u.org.id, "handover.confirmed")
    assert [e.detail["late"] for e in confirmed] == [True]


async def test_sealed_at_rest_and_found_by_members_only(installation: Installation) -> None:
    svc = installation.services
    u = await unit(installation)
    note = await _write(svc, u)
    rows = await _rows(installation)
    assert len(rows) == 1
    assert all(SECRET.encode() not in repr(r).encode() and b"surveillance" not in repr(r).encode() for r in rows)
    db = installation.settings.database.url
    if db is None:  # the SQLite file and its WAL
        files = list(Path(installation.settings.data_dir).rglob("*.db*")) + \
            list(Path(installation.settings.data_dir).rglob("*.sqlite*"))
        assert files
        for path in files:
            raw = path.read_bytes()
            assert SECRET.encode() not in raw and "Hématome".encode() not in raw
    # Moved to another row, the ciphertext does not open (bound to its care case and note).
    async with svc.db.transaction() as tx:
        stored = await tx.handovers.get(u.org.id, note.id)
        assert stored is not None
        wrapped = await tx.conversations.wrapped_key(u.care)
        assert wrapped is not None
    key = await svc.unwrap_key(u.org.id, u.care, wrapped)
    from dataclasses import replace

    with pytest.raises(ChevetError):
        handovers.content_of(replace(stored, id=uuid.uuid4()), key)

    hits = await handovers.search(svc, u.incoming.actor, "hématome")
    assert [h.view.id for h in hits] == [note.id]
    assert any(hit for _, hit in hits[0].snippet)
    assert [h.view.id for h in await handovers.search(svc, u.incoming.actor, "surveill")] == [note.id]
    assert await handovers.search(svc, u.outsider.actor, "hématome") == []
    other_org = await new_org(svc)
    stranger = await new_member(svc, other_org, "nurse")
    assert await handovers.search(svc, stranger.actor, "hématome") == []


async def test_refused_in_french_and_nothing_changed(installation: Installation) -> None:
    svc = installation.services
    u = await unit(installation)
    other_org = await new_org(svc)
    stranger = await new_member(svc, other_org, "nurse")
    group, _ = await conversations.create_conversation(svc, u.outgoing.actor, kind="group", title="Café",
                                                       member_ids=[u.incoming.id])
    before_audit = len(await _actions(installation, u.org.id, "handover.*"))
    cases: list[tuple[Any, type[ChevetError], str]] = [
        (dict(target="Chute", data="  ", actions="Glace"), InvalidInput, "handover.data_required"),
        (dict(target="", data="Chute", actions="Glace"), InvalidInput, "handover.target_required"),
        (dict(target="Chute", data="x" * 2001, actions="Glace"), InvalidInput, "handover.field_too_long"),
        (dict(target="Chute", data="Chute", actions=""), InvalidInput, "handover.actions_required"),
        (dict(target="Chute", data="NIR 1 84 12 75 123 456 78", actions="Glace"), InvalidInput,
         "national_id_refused"),
    ]
    for fields, error, code in cases:
        with pytest.raises(error) as exc:
            await handovers.write(svc, u.outgoing.actor, u.care, results="", **fields)
        assert exc.value.code == code
        text = gettext(exc.value.code, "fr", **exc.value.params)
        assert text != code and " " in text
    with pytest.raises(InvalidInput) as too_long:
        await handovers.write(svc, u.outgoing.actor, u.care, target="Chute", data="x" * 2001, actions="a",
                              results="")
    assert "2000" in gettext(too_long.value.code, "fr", **too_long.value.params)
    with pytest.raises(NotFound):  # another organisation's care case
        await handovers.write(svc, stranger.actor, u.care, target="Chute", data="d", actions="a", results="")
    with pytest.raises(NotFound):  # not a member
        await handovers.write(svc, u.outsider.actor, u.care, target="Chute", data="d", actions="a", results="")
    with pytest.raises(InvalidInput) as not_care:
        await handovers.write(svc, u.outgoing.actor, uuid.UUID(group["id"]), target="Chute", data="d",
                              actions="a", results="")
    assert gettext(not_care.value.code, "fr").startswith("Les transmissions")
    with pytest.raises(InvalidInput):  # a team she is not in
        other_team = await teams.create_team(svc, u.manager.actor, "Unité Lilas", [u.manager.id])
        await handovers.write(svc, u.outgoing.actor, u.care, target="Chute", data="d", actions="a", results="",
                              team_id=uuid.UUID(str(other_team["id"])))
    assert await _rows(installation) == []
    assert len(await _actions(installation, u.org.id, "handover.*")) == before_audit


async def test_templates_per_team_with_french_defaults(installation: Installation) -> None:
    svc = installation.services
    u = await unit(installation)
    form = await handovers.write_form(svc, u.outgoing.actor, u.care)
    assert [t.team.name for t in form.teams if t.team] == ["Unité Glycine"]
    assert {"Douleur", "Chute", "Alimentation"} <= {t.target for t in form.teams[0].templates}
    assert form.teams[0].custom is False
    with pytest.raises(Forbidden):
        await handovers.set_templates(svc, u.outgoing.actor, u.team, [("Plaie", "Plaie", "a", "b", "c")])
    with pytest.raises(InvalidInput):
        await handovers.set_templates(svc, u.manager.actor, u.team, [("", "Plaie", "a", "b", "c")])
    saved = await handovers.set_templates(svc, u.manager.actor, u.team, [
        ("Plaie", "Plaie", "Aspect, taille", "Pansement fait", "Évolution"), ("Sommeil", "Sommeil", "", "", "")])
    assert [t.name for t in saved.templates] == ["Plaie", "Sommeil"] and saved.custom
    form = await handovers.write_form(svc, u.outgoing.actor, u.care)
    assert [t.target for t in form.teams[0].templates] == ["Plaie", "Sommeil"]
    changed = await _actions(installation, u.org.id, "handover.templates_changed")
    assert [e.object_id for e in changed] == [u.team]


async def test_archive_round_trip_and_retention(installation: Installation, tmp_path: Path) -> None:
    svc = installation.services
    u = await unit(installation)
    first = await _write(svc, u)
    second = await _write(svc, u, target="Alimentation", data="A refusé le dîner")
    await handovers.confirm(svc, u.incoming.actor, first.id)
    await handovers.set_templates(svc, u.manager.actor, u.team, [("Plaie", "Plaie", "Aspect", "Soin", "Suite")])
    out = io.BytesIO()
    header, key = passphrase_header(PASSPHRASE, log2_n=14)
    counts = await archive.export_organisation(svc, u.org.slug, out, header, key)
    assert counts["handovers"] == 2
    files = archive.read_archive(io.BytesIO(out.getvalue()), passphrase=PASSPHRASE)
    assert SECRET.encode() in files["data/handovers.jsonl"]
    browse = files[f"html/c/{u.care}.html"].decode()  # readable without any server
    assert "Transmissions ciblées" in browse and SECRET in browse and "reprise par Inès Moreau" in browse
    assert "non reprise" in browse  # the second note
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    for name in ("handovers", "handover_templates"):
        lines = files[f"data/{name}.jsonl"].splitlines()
        assert lines
        for line in lines:
            validator.validate(orjson.loads(line))
    target_url = await create_pg_database() if installation.settings.database.url is None and pg_available() \
        else None
    other = await new_installation(tmp_path / "other", target_url)
    try:
        use_clock(other.services, u.clock.now())
        imported = await archive.import_organisation(other.services, files, archive_sha256="x")
        assert imported["handovers"] == 2
        waiting = await handovers.to_resume(other.services, u.incoming.actor)
        assert [(n.id, n.data, n.target) for n in waiting] == [(second.id, "A refusé le dîner", "Alimentation")]
        restored = await handovers.write_form(other.services, u.incoming.actor, u.care)
        assert {(n.id, n.confirmed_by_name) for n in restored.recent} == {(first.id, "Inès Moreau"), (second.id, None)}
        assert [t.name for t in restored.teams[0].templates] == ["Plaie"]
        assert [h.view.id for h in await handovers.search(other.services, u.incoming.actor, "dîner")] == [second.id]
    finally:
        await other.close()
        if target_url:
            await drop_pg_database(target_url)

    # Retention: the closed care case is shredded with its handover notes.
    await retention.close_care_case(svc, u.outgoing.actor, u.care)
    report = await retention.purge(svc, u.clock.now() + timedelta(days=366))
    assert [x["conversation_id"] for x in report.shredded] == [str(u.care)]
    assert await _rows(installation) == []
    assert await handovers.to_resume(svc, u.incoming.actor) == []


async def test_the_note_is_for_the_next_shift_of_the_team_roster(installation: Installation) -> None:
    svc = installation.services
    u = await unit(installation)
    async with svc.db.transaction() as tx:
        for name, starts, ends in (("Matin", 6 * 60 + 30, 14 * 60 + 30), ("Après-midi", 14 * 60 + 30, 21 * 60 + 30),
                                   ("Nuit", 21 * 60 + 30, 6 * 60 + 30)):
            await tx.rosters.add_shift(ShiftPattern(uuid.uuid4(), u.org.id, u.team, name, starts, ends, T0))
    # 18:30 in Paris, during the afternoon shift: the note is for the night, from 21:30 in Paris.
    note = await _write(svc, u)
    assert (note.shift_name, note.shift_starts_at) == ("Nuit", datetime(2026, 1, 12, 20, 30, tzinfo=UTC))
    u.clock.current = datetime(2026, 1, 12, 21, 29, tzinfo=UTC)
    assert await handovers.flag_overdue(svc) == 0
    u.clock.current = datetime(2026, 1, 12, 21, 30, tzinfo=UTC)
    assert await handovers.flag_overdue(svc) == 1


class _Recorder:
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def publish(self, events: list[Any]) -> None:
        self.events.extend(events)

    async def close(self) -> None:
        pass


async def test_the_late_note_wakes_the_managers_phone_without_content(installation: Installation) -> None:
    svc = installation.services
    u = await unit(installation)
    async with svc.db.transaction() as tx:
        await tx.push.add(PushSubscription(uuid.uuid4(), u.org.id, u.manager.id, "https://push.example/m",
                                           b"\x04" + b"k" * 64, b"a" * 16, T0))
        await tx.push.add(PushSubscription(uuid.uuid4(), u.org.id, u.incoming.id, "https://push.example/i",
                                           b"\x04" + b"k" * 64, b"a" * 16, T0))
    note = await _write(svc, u)
    recorder = _Recorder()
    svc.bus = recorder  # type: ignore[assignment]
    u.clock.current = note.shift_starts_at + timedelta(hours=1)
    assert await handovers.flag_overdue(svc) == 1
    [event] = recorder.events
    assert event.user_ids == (u.manager.id,) and event.private
    assert SECRET not in str(event.payload) and "Chute" not in str(event.payload)
    [push] = await notifications.plan(svc, event)
    assert (push.subscription.person_id, push.text_id, push.title, push.urgent, push.url) == (
        u.manager.id, "push.handover_late", "", True, "/transmissions/en-retard")
    assert "Chute" not in gettext(push.text_id, "fr")


async def test_the_migration_goes_down_and_up_again(installation: Installation) -> None:
    svc = installation.services
    u = await unit(installation)
    await _write(svc, u)

    async def tables() -> set[str]:
        async with svc.db.engine.connect() as conn:  # type: ignore[attr-defined]
            return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))

    assert {"handover", "handover_template"} <= await tables()
    await migrate(installation, "0017_care_alert", up=False)
    assert not {"handover", "handover_template"} & await tables()
    await migrate(installation, "heads")
    assert {"handover", "handover_template"} <= await tables()
    assert await handovers.to_resume(svc, u.incoming.actor) == []
    assert (await _write(svc, u)).target == "Chute"


async def test_the_servers_periodic_job_flags_and_survives_a_failed_round(installation: Installation,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from chevet.jobs import handovers as job

    svc = installation.services
    u = await unit(installation)
    note = await _write(svc, u)
    u.clock.current = note.shift_starts_at + timedelta(hours=1)
    rounds: list[int] = []
    real = handovers.flag_overdue

    async def flaky(services: Any) -> int:
        rounds.append(1)
        if len(rounds) == 1:
            raise RuntimeError("a failed round")
        return await real(services)

    async def next_tick(seconds: float) -> None:  # no waiting: the test decides when the loop stops
        if len(rounds) >= 2:
            raise asyncio.CancelledError

    monkeypatch.setattr(job.handovers, "flag_overdue", flaky)
    monkeypatch.setattr(asyncio, "sleep", next_tick)
    with pytest.raises(asyncio.CancelledError):
        await job.periodic(installation)
    assert len(rounds) == 2
    assert [e.object_id for e in await _actions(installation, u.org.id, "handover.flagged")] == [note.id]

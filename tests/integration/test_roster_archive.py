"""An organisation's rosters travel with its archive: shifts, role addresses and assignments are
exported (and follow the published schema), and the imported organisation answers the same duty
questions on the other database engine."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from pathlib import Path

import jsonschema
import orjson

from chevet.app.archive import archive
from chevet.app.archive.schema import SCHEMA
from chevet.app.care import duty, rosters
from chevet.app.messaging import teams
from chevet.bootstrap import Installation
from chevet.core.care.roster import DutyKind, local_instant
from chevet.core.sealed_archive import passphrase_header
from tests.governance_support import PASSPHRASE
from tests.support import create_pg_database, drop_pg_database, new_installation, new_member, new_org, pg_available


async def test_rosters_round_trip_through_the_archive(installation: Installation, tmp_path: Path) -> None:
    s = installation.services
    org = await new_org(s)
    manager, nurse, physician = (await new_member(s, org, "manager"), await new_member(s, org, "nurse"),
                                 await new_member(s, org, "physician"))
    team = await teams.create_team(s, manager.actor, "Unité Alzheimer", [nurse.id])
    team_id = uuid.UUID(team["id"])
    night = await rosters.add_shift(s, manager.actor, team_id, "Nuit", "19:00", "07:00")
    week = await rosters.week(s, manager.actor, team_id, s.clock.now().date())
    assert week is not None
    garde = next(r for r in week.roles if r.slug == "garde")
    day = s.clock.now().date() + timedelta(days=3)
    await rosters.add_assignment(s, manager.actor, team_id, rosters.NewAssignment(
        nurse.id, DutyKind.DUTY, day=day, shift_id=night.id, role_id=garde.id))
    await rosters.add_assignment(s, manager.actor, team_id, rosters.NewAssignment(
        physician.id, DutyKind.ON_CALL, starts_at=local_instant(day, 18 * 60),
        ends_at=local_instant(day + timedelta(days=1), 8 * 60), rank=2))
    at = local_instant(day + timedelta(days=1), 3 * 60)

    out = io.BytesIO()
    header, key = passphrase_header(PASSPHRASE, log2_n=14)
    await archive.export_organisation(s, org.slug, out, header, key)
    files = archive.read_archive(io.BytesIO(out.getvalue()), passphrase=PASSPHRASE)
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    kinds: dict[str, int] = {}
    for name in ("roster_shifts", "roster_roles", "roster_assignments"):
        for line in files[f"data/{name}.jsonl"].splitlines():
            record = orjson.loads(line)
            validator.validate(record)
            kinds[record["record"]] = kinds.get(record["record"], 0) + 1
    assert kinds == {"roster_shift": 1, "roster_role": 2, "roster_assignment": 2}

    target_url = await create_pg_database() if installation.settings.database.url is None and pg_available() \
        else None
    other = await new_installation(tmp_path / "other", target_url)
    try:
        await archive.import_organisation(other.services, files, archive_sha256="x")
        async with other.services.db.transaction() as tx:
            assert await duty.holders(tx, org.id, "@garde", at) == [nurse.id]
            assert await duty.on_call(tx, org.id, team_id, at) == [physician.id]
            assert await duty.on_shift(tx, org.id, team_id, at) == [nurse.id, physician.id]
            shift = await duty.shift_at(tx, org.id, team_id, at)
            assert shift is not None and shift.name == "Nuit" and shift.shift_id == night.id
            assert sorted(r.label for r in await duty.role_addresses(tx, org.id)) == [
                "Astreinte médicale", "Infirmière de garde"]
    finally:
        await other.close()
        if target_url:
            await drop_pg_database(target_url)

"""The duty questions other features ask (alerts, handovers, mentions, notifications), on SQLite
and PostgreSQL: who holds a role address now, who is on call in ladder order, who is on shift,
which shift runs, across the clock changes and at a shift boundary."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from chevet.app.care import duty
from chevet.app.messaging import teams
from chevet.bootstrap import Installation
from chevet.core.care.roster import Assignment, DutyKind, RoleAddress, ShiftPattern, local_instant
from chevet.core.ids import new_id
from tests.support import new_member, new_org

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def test_duty_answers_across_the_clock_changes_and_a_boundary(installation: Installation) -> None:
    s = installation.services
    org, other = await new_org(s), await new_org(s)
    admin = await new_member(s, org, "admin")
    day_nurse, night_nurse, first_call, second_call = [await new_member(s, org, "nurse") for _ in range(4)]
    team = await teams.create_team(s, admin.actor, "Unité Alzheimer")
    quiet = await teams.create_team(s, admin.actor, "Accueil de jour")
    team_id, quiet_id = uuid.UUID(team["id"]), uuid.UUID(quiet["id"])
    day = ShiftPattern(new_id(), org.id, team_id, "Jour", 7 * 60, 19 * 60, T0)
    night = ShiftPattern(new_id(), org.id, team_id, "Nuit", 19 * 60, 7 * 60, T0)
    garde = RoleAddress(new_id(), org.id, "garde", "Infirmière de garde", None, T0)
    astreinte = RoleAddress(new_id(), org.id, "astreinte-medicale", "Astreinte médicale", None, T0)

    def assign(person: uuid.UUID, kind: DutyKind, start: datetime, end: datetime, role: RoleAddress | None = None,
               rank: int = 1, shift: ShiftPattern | None = None) -> Assignment:
        return Assignment(new_id(), org.id, team_id, person, kind, start, end, shift.id if shift else None,
                          role.id if role else None, rank, T0, admin.id)

    nights = [date(2026, 3, 28), date(2026, 10, 24), date(2027, 3, 27), date(2027, 10, 30)]
    async with s.db.transaction() as tx:
        for p in (day, night):
            await tx.rosters.add_shift(p)
        for r in (garde, astreinte):
            await tx.rosters.add_role(r)
        for n in nights:
            occ = night.occurrence(n)
            await tx.rosters.add_assignment(assign(night_nurse.id, DutyKind.DUTY, occ.starts_at, occ.ends_at, garde,
                                                   shift=night))
            await tx.rosters.add_assignment(assign(second_call.id, DutyKind.ON_CALL, occ.starts_at, occ.ends_at,
                                                   rank=2))
            await tx.rosters.add_assignment(assign(first_call.id, DutyKind.ON_CALL, occ.starts_at, occ.ends_at,
                                                   astreinte, rank=1))
            next_day = day.occurrence(n + timedelta(days=1))
            await tx.rosters.add_assignment(assign(day_nurse.id, DutyKind.DUTY, next_day.starts_at, next_day.ends_at,
                                                   garde, shift=day))

    async with s.db.transaction() as tx:
        for n, hours in zip(nights, (11, 13, 11, 13), strict=True):
            seven = local_instant(n + timedelta(days=1), 7 * 60)
            start = night.occurrence(n).starts_at
            shift = await duty.shift_at(tx, org.id, team_id, start + timedelta(hours=hours / 2))
            assert shift is not None and shift.name == "Nuit"
            assert shift.ends_at - shift.starts_at == timedelta(hours=hours) and shift.ends_at == seven
            before, at_seven = seven - timedelta(seconds=1), seven
            assert await duty.holders(tx, org.id, "@Garde", before) == [night_nurse.id]
            assert await duty.holders(tx, org.id, "garde", at_seven) == [day_nurse.id]
            assert await duty.holders(tx, org.id, "@astreinte-médicale", before) == [first_call.id]
            assert await duty.holders(tx, org.id, "Astreinte-Medicale", at_seven) == []
            assert await duty.on_call(tx, org.id, team_id, before) == [first_call.id, second_call.id]
            assert await duty.on_call(tx, org.id, team_id, at_seven) == []
            assert await duty.on_shift(tx, org.id, team_id, before) == [night_nurse.id, first_call.id, second_call.id]
            assert await duty.on_shift(tx, org.id, team_id, at_seven) == [day_nurse.id]
            shift = await duty.shift_at(tx, org.id, team_id, at_seven)
            assert shift is not None and shift.name == "Jour" and shift.starts_at == seven
            before_shift = await duty.shift_at(tx, org.id, team_id, before)
            assert before_shift is not None and before_shift.name == "Nuit"
        between = datetime(2026, 6, 1, 12, tzinfo=UTC)
        assert await duty.on_shift(tx, org.id, team_id, between) == []  # a roster, nobody now
        assert await duty.on_shift(tx, org.id, quiet_id, between) is None  # no roster at all
        assert await duty.holders(tx, org.id, "inconnu", between) == []
        assert await duty.holders(tx, org.id, "", between) == []
        assert [r.slug for r in await duty.role_addresses(tx, org.id)] == ["astreinte-medicale", "garde"]
        # another organisation sees none of it
        before = local_instant(nights[0] + timedelta(days=1), 7 * 60) - timedelta(seconds=1)
        assert await duty.holders(tx, other.id, "garde", before) == []
        assert await duty.on_call(tx, other.id, team_id, before) == []
        assert await duty.on_shift(tx, other.id, team_id, before) is None
        assert await duty.role_addresses(tx, other.id) == []


async def test_the_migration_runs_both_ways(installation: Installation) -> None:
    import sqlalchemy as sa

    from tests.support import migrate

    async def tables() -> set[str]:
        async with installation.services.db.engine.connect() as conn:
            return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))

    mine = {"roster_shift", "roster_role", "roster_assignment"}
    assert mine <= await tables()
    await migrate(installation, "0015_entry_clustered", up=False)
    assert not mine & await tables()
    await migrate(installation, "heads")
    assert mine <= await tables()
    s = installation.services
    org = await new_org(s)
    admin = await new_member(s, org, "admin")
    team = await teams.create_team(s, admin.actor, "Nuit")
    async with s.db.transaction() as tx:
        await tx.rosters.add_shift(ShiftPattern(new_id(), org.id, uuid.UUID(team["id"]), "Nuit", 1140, 420, T0))
        shift = await duty.shift_at(tx, org.id, uuid.UUID(team["id"]), datetime(2026, 1, 1, 23, tzinfo=UTC))
    assert shift is not None and shift.name == "Nuit"

"""Importing a team's roster from a CSV or iCalendar file: a dry run first, then the assignments.

The file is read by the pure parser (`chevet.core.care.roster_import`); here each line is checked
against the organisation: the person by e-mail (someone of another organisation is "unknown",
like someone who does not exist), the role address by slug, the team's existing assignments (the
same assignment again is "already on the roster", another one of the same person at the same
time overlaps). Applying runs the same checks again in one transaction, adds every valid line
with its audit entry, and one entry for the import. A file refused whole changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from chevet.app.access import require
from chevet.app.care.rosters import NewAssignment, assign_in, ensure_default_roles
from chevet.app.services import Actor, Services, Unit
from chevet.core.care import roster_import
from chevet.core.care.roster import Assignment, RoleAddress
from chevet.core.care.roster_import import RosterFileRejected, RosterRow, RowProblem
from chevet.core.errors import ChevetError, NotFound
from chevet.core.roles import Permission

__all__ = ["ImportLine", "RosterFileRejected", "RosterImport", "apply", "preview"]


@dataclass(frozen=True, slots=True)
class ImportLine:
    row: RosterRow
    person_id: uuid.UUID
    person_name: str
    role_label: str | None


@dataclass(frozen=True, slots=True)
class RosterImport:
    """What applying the file does (or did): the assignments, the lines refused (in file order)."""

    lines: tuple[ImportLine, ...]
    problems: tuple[RowProblem, ...]
    format: str
    applied: bool = False


async def _check(u: Unit, org_id: uuid.UUID, team_id: uuid.UUID, data: bytes) -> RosterImport:
    if await u.tx.teams.get(org_id, team_id) is None:
        raise NotFound("team_not_found")
    shifts = await u.tx.rosters.shifts(org_id, team_id)
    parsed = roster_import.parse(data, shifts, u.services.clock.now())
    roles = {r.slug: r for r in await u.tx.rosters.roles(org_id)}
    people: dict[str, tuple[uuid.UUID, str] | None] = {}
    lines: list[ImportLine] = []
    problems = list(parsed.problems)
    existing: dict[uuid.UUID, list[Assignment]] = {}
    if parsed.rows:
        start = min(r.starts_at for r in parsed.rows)
        end = max(r.ends_at for r in parsed.rows)
        for a in await u.tx.rosters.between(org_id, team_id, start, end, limit=100_000):
            existing.setdefault(a.person_id, []).append(a)
    taken: dict[uuid.UUID, list[RosterRow]] = {}
    for row in parsed.rows:
        if row.email not in people:
            p = await u.tx.people.by_email(row.email)
            people[row.email] = (p.id, p.name) if p is not None and p.org_id == org_id and \
                p.status.value != "deactivated" else None
        found = people[row.email]
        if found is None:
            problems.append(RowProblem(row.line, "unknown_person", row.email))
            continue
        role: RoleAddress | None = None
        if row.role is not None:
            role = roles.get(row.role)
            if role is None:
                problems.append(RowProblem(row.line, "unknown_role", row.role))
                continue
        person_id = found[0]
        same = [a for a in existing.get(person_id, []) if a.starts_at < row.ends_at and a.ends_at > row.starts_at]
        if any(a.starts_at == row.starts_at and a.ends_at == row.ends_at and a.kind is row.kind for a in same):
            problems.append(RowProblem(row.line, "already_present"))
            continue
        if same or any(r.starts_at < row.ends_at and r.ends_at > row.starts_at for r in taken.get(person_id, [])):
            problems.append(RowProblem(row.line, "overlaps"))
            continue
        taken.setdefault(person_id, []).append(row)
        lines.append(ImportLine(row, person_id, found[1], role.label if role else None))
    return RosterImport(tuple(lines), tuple(sorted(problems, key=lambda p: p.line)), parsed.format)


async def preview(services: Services, actor: Actor, team_id: uuid.UUID, data: bytes) -> RosterImport:
    """The dry run: changes nothing (but the two usual role addresses, made if the organisation
    has none, as the roster page does). Raises `RosterFileRejected` for a file refused whole."""
    require(actor, Permission.MANAGE_TEAMS)
    async with services.unit(actor.ip) as u:
        await ensure_default_roles(u, actor.org_id, actor.id)
    async with services.unit(actor.ip) as u:
        return await _check(u, actor.org_id, team_id, data)


async def apply(services: Services, actor: Actor, team_id: uuid.UUID, data: bytes) -> RosterImport:
    """Add every valid line, in one transaction, each audited, then the import's own entry."""
    require(actor, Permission.MANAGE_TEAMS)
    async with services.unit(actor.ip) as u:
        await ensure_default_roles(u, actor.org_id, actor.id)
        plan = await _check(u, actor.org_id, team_id, data)
        roles = {r.slug: r.id for r in await u.tx.rosters.roles(actor.org_id)}
        problems = list(plan.problems)
        done: list[ImportLine] = []
        for line in plan.lines:
            r = line.row
            new = NewAssignment(line.person_id, r.kind, shift_id=r.shift_id, starts_at=r.starts_at,
                                ends_at=r.ends_at, role_id=roles.get(r.role) if r.role else None, rank=r.rank)
            try:
                await assign_in(u, actor.id, actor.org_id, team_id, new, via=f"import_{plan.format}")
            except ChevetError as exc:  # checked above; kept for a line the database refuses
                problems.append(RowProblem(r.line, exc.code))
                continue
            done.append(line)
        await u.audit(actor.org_id, "roster.imported", actor.id, "team", team_id, format=plan.format,
                      created=len(done), refused=len(problems))
    return RosterImport(tuple(done), tuple(sorted(problems, key=lambda p: p.line)), plan.format, applied=True)

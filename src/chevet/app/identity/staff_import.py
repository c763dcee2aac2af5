"""Provisioning staff from a CSV file: a dry run first, then the invitations.

The file is read by the pure parser (`chevet.core.staff_file`); here it is checked against the
people who exist (in this organisation: "already present", left unchanged; elsewhere on the
installation: the address is taken), then applied in bounded transactions of `BATCH` people,
each person through the same invitation as the administration page (`people.invite_in`: the
person, the one-time link, the audit entry and the mail in the outbox). Teams are matched by name
(case ignored); a team the file names that does not exist is created, audited. Applying the same
file twice creates nothing the second time: everyone is already present.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chevet.app.access import require
from chevet.app.identity.invitation_mail import InvitationText
from chevet.app.identity.people import clean_name, invite_in
from chevet.app.identity.team_roster import TeamRoster, team_key
from chevet.app.services import Actor, Services, Unit
from chevet.core import staff_file
from chevet.core.entities import Organisation, Person
from chevet.core.errors import Forbidden
from chevet.core.roles import Permission, can
from chevet.core.staff_file import LineProblem, StaffFileRejected, StaffRow

BATCH = 100
VIA = "staff_import"

__all__ = ["BATCH", "ImportPreview", "ImportResult", "StaffFileRejected", "apply", "preview"]


@dataclass(frozen=True, slots=True)
class ImportPreview:
    """What applying the file would do: the people to invite, the lines refused (in file order),
    the teams that would be created."""

    rows: tuple[StaffRow, ...]
    problems: tuple[LineProblem, ...]
    new_teams: tuple[str, ...]
    encoding: str

    @property
    def importable(self) -> int:
        return len(self.rows)


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    teams_created: int
    mails_queued: int
    problems: tuple[LineProblem, ...]


def _organisation(actor: Actor | None, org: Organisation | None) -> Organisation:
    """The actor's organisation; ``None`` is the operator's command line, which names one."""
    if actor is None:
        if org is None:
            raise Forbidden("forbidden")
        return org
    if org is not None and org.id != actor.org_id:
        raise Forbidden("forbidden")
    require(actor, Permission.MANAGE_PEOPLE)
    return actor.organisation


async def _check(u: Unit, org: Organisation, data: bytes) -> ImportPreview:
    known = [p.email for p in await u.tx.people.search(org.id, "", 1_000_000)]
    parsed = staff_file.parse(data, known_emails=known)
    rows: list[StaffRow] = []
    problems = list(parsed.problems)
    for row in parsed.rows:
        if await u.tx.people.by_email(row.email) is not None:  # another organisation's person
            problems.append(LineProblem(row.line, "email_taken", row.email))
        else:
            rows.append(row)
    roster = await TeamRoster.load(u, org.id, None, VIA)
    new_teams: dict[str, str] = {}
    for row in rows:
        for name in row.teams:
            if not roster.exists(name):
                new_teams.setdefault(team_key(name), " ".join(name.split()))
    return ImportPreview(tuple(rows), tuple(sorted(problems, key=lambda p: p.line)),
                         tuple(sorted(new_teams.values(), key=str.casefold)), parsed.encoding)


async def preview(services: Services, actor: Actor | None, data: bytes, *,
                  org: Organisation | None = None) -> ImportPreview:
    """The dry run: changes nothing. Raises `StaffFileRejected` for a file that cannot be read."""
    organisation = _organisation(actor, org)
    async with services.unit(actor.ip if actor else None) as u:
        return await _check(u, organisation, data)


async def apply(services: Services, actor: Actor | None, data: bytes,
                progress: Callable[[int, int], None] | None = None, *, org: Organisation | None = None,
                mail: Callable[[Person, str], InvitationText] | None = None) -> ImportResult:
    """Invite every valid line, `BATCH` per transaction; ``progress(done, total)`` after each."""
    organisation = _organisation(actor, org)
    actor_id = actor.id if actor else None
    ip = actor.ip if actor else None
    async with services.unit(ip) as u:
        plan = await _check(u, organisation, data)
    if plan.new_teams and actor is not None and not can(actor.person.role, Permission.MANAGE_TEAMS):
        raise Forbidden("forbidden")
    created = teams_created = queued = 0
    problems = list(plan.problems)
    total = len(plan.rows)
    for start in range(0, total, BATCH):
        batch = plan.rows[start:start + BATCH]
        async with services.unit(ip) as u:
            roster = await TeamRoster.load(u, organisation.id, actor_id, VIA)
            done_here = 0
            for row in batch:
                if await u.tx.people.by_email(row.email) is not None:  # arrived since the check
                    problems.append(LineProblem(row.line, "already_present", row.email))
                    continue
                invited = await invite_in(u, organisation, actor_id, email=row.email,
                                          name=clean_name(f"{row.first_name} {row.last_name}"), role=row.role,
                                          rpps=row.rpps, mail=mail, via=VIA)
                done_here += 1
                queued += invited.mail_queued
                for name in row.teams:
                    await roster.join(name, invited.person.id)
            teams_created += roster.created
            await u.audit(organisation.id, "people.imported", actor_id, "organisation", organisation.id,
                          created=done_here, lines=len(batch), via=VIA)
        created += done_here
        if progress is not None:
            progress(min(start + BATCH, total), total)
    if total == 0:
        async with services.unit(ip) as u:
            await u.audit(organisation.id, "people.imported", actor_id, "organisation", organisation.id,
                          created=0, lines=0, via=VIA)
    return ImportResult(created, teams_created, queued, tuple(sorted(problems, key=lambda p: p.line)))

"""Synchronise people and teams from the organisation's LDAP directory or Active Directory.

A preview (dry run) reads the directory and says what would change; applying it, in one
transaction: invites the people who appeared (today's invitation e-mail through the mail outbox),
updates names, roles and team memberships, and deactivates the people who left or are disabled,
ending their sessions and live streams at once. Only people the directory created or adopted are
ever touched; a sync that would deactivate more than the configured share of them stops unless
forced. Every change has its own audit entry with ``via="directory"``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from chevet.app.identity.invitation_mail import InvitationText
from chevet.app.identity.people import deactivate_in, invite_in
from chevet.app.identity.team_roster import TeamRoster
from chevet.app.services import Actor, Services, Unit
from chevet.core.directory_sync import DirectoryRecord, GroupMapping, KnownPerson, Plan, plan
from chevet.core.entities import Organisation, Person, PersonStatus
from chevet.core.errors import Forbidden
from chevet.core.ids import new_id
from chevet.core.roles import Permission, can
from chevet.ports.directory_sync import DirectoryUnavailable, PeopleDirectory, SyncRun

VIA = "directory"


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What a sync found or did, for the console, the CLI and the job's log (no names, no e-mails)."""

    applied: bool
    outcome: str  # done, stopped, failed
    reason: str | None
    plan: Plan | None

    @property
    def created(self) -> int:
        return len(self.plan.create) if self.plan else 0

    @property
    def updated(self) -> int:
        return len(self.plan.update) if self.plan else 0

    @property
    def deactivated(self) -> int:
        return len(self.plan.deactivate) if self.plan else 0


@dataclass(frozen=True, slots=True)
class SyncOptions:
    mapping: GroupMapping
    max_leave_percent: int = 20
    force: bool = False


async def _state(u: Unit, org_id: uuid.UUID, records: list[DirectoryRecord],
                 roster: TeamRoster) -> tuple[dict[str, Person], list[str]]:
    accounts = await u.tx.directory_sync.accounts(org_id)
    managed = {p.email.lower(): p for p in await u.tx.people.many(org_id, list(accounts))}
    unmanaged: list[str] = []
    for r in records:
        email = (r.email or "").strip().lower()
        if email and email not in managed and await u.tx.people.by_email(email) is not None:
            unmanaged.append(email)
    return managed, unmanaged


def _known(managed: dict[str, Person], roster: TeamRoster) -> list[KnownPerson]:
    return [KnownPerson(email, p.name, p.role, p.status is not PersonStatus.DEACTIVATED, roster.teams_of(p.id))
            for email, p in managed.items()]


async def sync(services: Services, org: Organisation, directory: PeopleDirectory, options: SyncOptions, *,
               actor: Actor | None = None, apply: bool = False,
               mail: Callable[[Person, str], InvitationText] | None = None) -> SyncReport:
    """Preview (``apply=False``) or apply the directory's changes; ``actor`` None is the scheduled job."""
    if actor is not None and (actor.org_id != org.id or not can(actor.person.role, Permission.MANAGE_PEOPLE)):
        raise Forbidden("forbidden")
    actor_id = actor.id if actor else None
    try:
        records = await directory.people()
    except DirectoryUnavailable as exc:
        async with services.unit(actor.ip if actor else None) as u:
            await _record(u, org.id, apply, "failed", exc.reason, None, actor_id)
        return SyncReport(apply, "failed", exc.reason, None)
    async with services.unit(actor.ip if actor else None) as u:
        roster = await TeamRoster.load(u, org.id, actor_id, VIA)
        managed, unmanaged = await _state(u, org.id, records, roster)
        found = plan(records, _known(managed, roster), options.mapping, unmanaged,
                     options.max_leave_percent, options.force)
        if found.stopped:
            await _record(u, org.id, apply, "stopped", "too_many_leavers", found, actor_id)
            return SyncReport(False, "stopped", "too_many_leavers", found)
        if apply:
            await _apply(u, org, found, records, managed, roster, actor_id, mail)
        await _record(u, org.id, apply, "done", None, found, actor_id)
    return SyncReport(apply, "done", None, found)


async def _record(u: Unit, org_id: uuid.UUID, applied: bool, outcome: str, reason: str | None,
                  found: Plan | None, actor_id: uuid.UUID | None) -> None:
    run = SyncRun(new_id(), org_id, u.services.clock.now(), applied, outcome,
                  len(found.create) if found else 0, len(found.update) if found else 0,
                  len(found.deactivate) if found else 0, reason)
    await u.tx.directory_sync.record(run)
    await u.audit(org_id, "directory.synced", actor_id, "organisation", org_id, applied=applied, outcome=outcome,
                  reason=reason, created=run.created, updated=run.updated, deactivated=run.deactivated, via=VIA)


async def _apply(u: Unit, org: Organisation, found: Plan, records: list[DirectoryRecord],
                 managed: dict[str, Person], roster: TeamRoster, actor_id: uuid.UUID | None,
                 mail: Callable[[Person, str], InvitationText] | None) -> None:
    dn_of = {(r.email or "").strip().lower(): r.dn for r in records}
    for w in found.create:
        person = (await invite_in(u, org, actor_id, email=w.email, name=w.name, role=w.role, rpps=w.rpps,
                                  mail=mail, via=VIA)).person
        await u.tx.directory_sync.adopt(org.id, person.id, dn_of[w.email])
        for name in sorted(w.teams):
            await roster.join(name, person.id)
    for c in found.update:
        person = managed[c.email]
        if c.name is not None:
            await u.tx.directory_sync.rename(org.id, person.id, c.name)
            await u.audit(org.id, "person.renamed", actor_id, "person", person.id, via=VIA)
        if c.role is not None:
            await u.tx.people.set_role(org.id, person.id, c.role)
            await u.audit(org.id, "person.role_changed", actor_id, "person", person.id, old=person.role.value,
                          new=c.role.value, via=VIA)
        if c.reactivate:
            enrolled = (await u.tx.people.credentials(person.id)).password_hash is not None
            status = PersonStatus.ACTIVE if enrolled else PersonStatus.INVITED
            await u.tx.people.set_status(org.id, person.id, status)
            await u.audit(org.id, "person.reactivated", actor_id, "person", person.id, via=VIA)
        for name in sorted(c.teams_added):
            await roster.join(name, person.id)
        for name in sorted(c.teams_removed):
            await roster.leave(name, person.id)
    for email in found.deactivate:
        await deactivate_in(u, org.id, managed[email].id, actor_id, via=VIA)


async def last_run(services: Services, actor: Actor) -> SyncRun | None:
    if not can(actor.person.role, Permission.MANAGE_PEOPLE):
        raise Forbidden("forbidden")
    async with services.db.transaction() as tx:
        return await tx.directory_sync.last(actor.org_id)


async def scheduled(services: Services, org: Organisation, directory: PeopleDirectory, options: SyncOptions,
                    holder: str, period: timedelta,
                    mail: Callable[[Person, str], InvitationText] | None = None) -> SyncReport | None:
    """The scheduled sync, applied, when this process holds the organisation's lease (None otherwise)."""
    now = services.clock.now()
    async with services.db.transaction() as tx:
        if not await tx.directory_sync.claim(org.id, holder, now, now + period):
            return None
    return await sync(services, org, directory, options, apply=True, mail=mail)

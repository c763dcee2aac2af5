"""Who is on duty, on call, or holds a role address at an instant: the questions alerts,
handovers, mentions and notifications ask of a team's roster.

Every function reads inside the caller's open transaction and takes an aware UTC ``at``: the
caller owns the clock (tests move it). Nothing here checks permissions: these are facts the
calling action needs, not something a person asks for. A person who was deactivated holds
nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from chevet.core.care import roster
from chevet.core.care.roster import Assignment, RoleAddress, ShiftOccurrence
from chevet.core.entities import PersonStatus
from chevet.core.errors import InvalidInput, NotFound
from chevet.ports import Transaction

__all__ = ["RoleAddress", "ShiftOccurrence", "holders", "named_holders", "off_shift", "on_call", "on_shift",
           "role_addresses", "shift_at", "with_holders"]

MAX_NAMED_ROLES = 10  # role addresses resolved for one message
ROSTERED_WITHIN = timedelta(days=7)  # who works a team's roster, for its off-shift quiet


def _aware(at: datetime) -> None:
    if at.tzinfo is None:
        raise InvalidInput("roster_period_invalid")


async def _present(tx: Transaction, org_id: uuid.UUID, people: list[uuid.UUID]) -> list[uuid.UUID]:
    """``people`` in their order, without the deactivated (or unknown) ones."""
    if not people:
        return []
    kept = {p.id for p in await tx.people.many(org_id, people) if p.status is not PersonStatus.DEACTIVATED}
    return [p for p in people if p in kept]


async def holders(tx: Transaction, org_id: uuid.UUID, address: str, at: datetime) -> list[uuid.UUID]:
    """The people holding role ``address`` (``"@Astreinte-Médicale"`` = ``"astreinte-medicale"``)
    at ``at``: on duty first, then the on-call ladder; ``[]`` if nobody, or no such address."""
    _aware(at)
    slug = roster.fold_address(address)
    if not slug:
        return []
    role = await tx.rosters.role_by_slug(org_id, slug)
    if role is None:
        return []
    return await _present(tx, org_id, roster.on_shift_people(await tx.rosters.role_at(org_id, role.id, at), at))


async def on_call(tx: Transaction, org_id: uuid.UUID, team_id: uuid.UUID, at: datetime) -> list[uuid.UUID]:
    """The team's on-call people at ``at``, first on call first (the escalation ladder's order)."""
    _aware(at)
    return await _present(tx, org_id, roster.ladder(await tx.rosters.at(org_id, team_id, at), at))


async def on_shift(tx: Transaction, org_id: uuid.UUID, team_id: uuid.UUID,
                   at: datetime) -> list[uuid.UUID] | None:
    """People on duty or on call in the team at ``at``; ``None`` when the team has no roster at
    all (no shift, no assignment), and then nobody is to be filtered."""
    _aware(at)
    now: list[Assignment] = await tx.rosters.at(org_id, team_id, at)
    if not now and not await tx.rosters.has_roster(org_id, team_id):
        return None
    return await _present(tx, org_id, roster.on_shift_people(now, at))


async def shift_at(tx: Transaction, org_id: uuid.UUID, team_id: uuid.UUID, at: datetime) -> ShiftOccurrence | None:
    """The team's shift running at ``at`` (07:00:00 exactly is the day shift's first second)."""
    _aware(at)
    return roster.shift_at(await tx.rosters.shifts(org_id, team_id), at)


async def role_addresses(tx: Transaction, org_id: uuid.UUID) -> list[RoleAddress]:
    """The organisation's role addresses, for pickers (slug, label in French, team or None)."""
    return await tx.rosters.roles(org_id)


async def named_holders(tx: Transaction, org_id: uuid.UUID, body: object, at: datetime) -> set[str]:
    """The ids (as text, like a message's ``mentions``) of whoever holds a role address the
    message names (``@garde``) at ``at``."""
    if not isinstance(body, str) or "@" not in body:
        return set()
    found: set[str] = set()
    for slug in sorted(roster.role_mentions(body))[:MAX_NAMED_ROLES]:
        found.update(str(p) for p in await holders(tx, org_id, slug, at))
    return found


async def off_shift(tx: Transaction, org_id: uuid.UUID, team_id: uuid.UUID | None, people: list[uuid.UUID],
                    at: datetime) -> set[uuid.UUID]:
    """Those of ``people`` who work the team's roster (an assignment in it within
    ``ROSTERED_WITHIN`` of ``at``) but are neither on duty nor on call at ``at``: the team
    channel's immediate notifications spare them unless they are named. Nobody when the team has
    no roster, or nobody on shift now (a gap in the roster silences no one); someone never on the
    team's roster (a nurse manager, a director) is never spared."""
    if team_id is None or not people:
        return set()
    on = await on_shift(tx, org_id, team_id, at)
    if not on:
        return set()
    rostered = {a.person_id for a in await tx.rosters.between(org_id, team_id, at - ROSTERED_WITHIN,
                                                               at + ROSTERED_WITHIN)}
    return (set(people) & rostered) - set(on)


async def with_holders(tx: Transaction, org_id: uuid.UUID, people: list[uuid.UUID], addresses: Sequence[str],
                       at: datetime, author: uuid.UUID) -> list[uuid.UUID]:
    """``people`` and whoever holds each role address at ``at`` (a new conversation's
    recipients); an unknown address, or one nobody holds now, is refused in words."""
    out = list(people)
    for address in addresses:
        slug = roster.fold_address(address)
        role = await tx.rosters.role_by_slug(org_id, slug) if slug else None
        if role is None:
            raise NotFound("role_not_found")
        found = [p for p in await holders(tx, org_id, slug, at) if p != author]
        if not found:
            raise InvalidInput("role_nobody_now", role=role.label)
        out.extend(found)
    return list(dict.fromkeys(out))

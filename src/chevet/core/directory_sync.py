"""What a directory synchronisation would change, computed without any I/O.

The LDAP / Active Directory adapter returns plain records; this module turns them into the people
Chevet should have (mapping groups to roles and teams) and compares them with the people the
directory already manages. People the directory never created (the local administrator, people
invited by hand) are never touched. A safety stop refuses a plan that would deactivate more than a
set share of the directory's people, the sign of a wrong filter or base DN.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from chevet.core.roles import Role


@dataclass(frozen=True, slots=True)
class DirectoryRecord:
    """One person as the directory describes them (attribute values already chosen by the mapping)."""

    dn: str
    email: str | None
    name: str | None
    groups: frozenset[str]
    disabled: bool = False
    rpps: str | None = None

@dataclass(frozen=True, slots=True)
class GroupMapping:
    """Group DN → role and group DN → team; DNs compared case-insensitively."""

    group_roles: Mapping[str, Role]
    group_teams: Mapping[str, str]
    default_role: Role = Role.CARE_ASSISTANT


@dataclass(frozen=True, slots=True)
class WantedPerson:
    email: str
    name: str
    role: Role
    teams: frozenset[str]
    rpps: str | None

@dataclass(frozen=True, slots=True)
class KnownPerson:
    """A person of the organisation the directory manages, as Chevet has them today."""

    email: str
    name: str
    role: Role
    active: bool
    teams: frozenset[str]

@dataclass(frozen=True, slots=True)
class Change:
    email: str
    name: str | None = None
    role: Role | None = None
    teams_added: frozenset[str] = frozenset()
    teams_removed: frozenset[str] = frozenset()
    reactivate: bool = False

@dataclass(frozen=True, slots=True)
class Plan:
    create: tuple[WantedPerson, ...] = ()
    update: tuple[Change, ...] = ()
    deactivate: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    teams_needed: frozenset[str] = field(default_factory=frozenset)
    stopped: bool = False

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.deactivate)

_ROLE_RANK = [Role.ADMIN, Role.DIRECTOR, Role.DPO, Role.MANAGER, Role.PHYSICIAN, Role.NURSE,
              Role.SOCIAL_WORKER, Role.CARE_ASSISTANT, Role.EXTERNAL]

def _norm_dn(dn: str) -> str:
    return ",".join(part.strip() for part in dn.lower().split(","))

def wanted(records: Iterable[DirectoryRecord], mapping: GroupMapping) -> tuple[dict[str, WantedPerson], list[str]]:
    """The enabled people the directory describes, by lower-case e-mail; and the DNs skipped (no e-mail)."""
    roles = {_norm_dn(k): v for k, v in mapping.group_roles.items()}
    teams = {_norm_dn(k): v for k, v in mapping.group_teams.items()}
    out: dict[str, WantedPerson] = {}
    skipped: list[str] = []
    for r in records:
        if r.disabled:
            continue
        email = (r.email or "").strip().lower()
        if not email or "@" not in email:
            skipped.append(r.dn)
            continue
        groups = {_norm_dn(g) for g in r.groups}
        found = [roles[g] for g in groups if g in roles]
        role = min(found, key=_ROLE_RANK.index) if found else mapping.default_role
        name = (r.name or "").strip() or email.split("@")[0]
        out[email] = WantedPerson(email, name, role, frozenset(teams[g] for g in groups if g in teams), r.rpps)
    return out, skipped

def plan(records: Iterable[DirectoryRecord], known: Iterable[KnownPerson], mapping: GroupMapping,
         unmanaged_emails: Iterable[str] = (), max_leave_percent: int = 20, force: bool = False) -> Plan:
    """The changes that bring Chevet in line with the directory."""
    want, skipped = wanted(records, mapping)
    unmanaged = {e.lower() for e in unmanaged_emails}
    have = {k.email.lower(): k for k in known}
    create = tuple(w for e, w in sorted(want.items()) if e not in have and e not in unmanaged)
    skipped += sorted(e for e in want if e in unmanaged)
    # The sync owns only the teams its mapping names; the others are the console's (case aside).
    owned = {t.casefold() for t in mapping.group_teams.values()}
    update: list[Change] = []
    for email, k in sorted(have.items()):
        w = want.get(email)
        if w is None:
            continue
        wanted_teams = {t.casefold() for t in w.teams}
        held = {t.casefold() for t in k.teams}
        change = Change(email, name=w.name if w.name != k.name else None, role=w.role if w.role != k.role else None,
                        teams_added=frozenset(t for t in w.teams if t.casefold() not in held),
                        teams_removed=frozenset(t for t in k.teams if t.casefold() in owned - wanted_teams),
                        reactivate=not k.active)
        if change != Change(email):
            update.append(change)
    leave = tuple(e for e, k in sorted(have.items()) if k.active and e not in want)
    active = sum(1 for k in have.values() if k.active)
    stopped = (not force and active > 0 and bool(leave)
               and len(leave) * 100 > max_leave_percent * active)
    needed = frozenset(t for w in want.values() for t in w.teams)
    return Plan(create, tuple(update), leave, tuple(skipped), needed, stopped)

"""Who receives a report, by role: the sentence a reporter reads before and after filing is
computed from the organisation's real designations, so that it never announces a function
nobody holds. Administrators always receive reports (they count as the direction by role), but
when nobody but administrators would receive a report, the sentence says exactly that. Which
designations make sense is decided here too."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from chevet.core.entities import Person, PersonStatus
from chevet.core.errors import InvalidInput
from chevet.core.roles import Role
from chevet.core.signalement.report import ReportFunction


@dataclass(frozen=True, slots=True)
class Receivers:
    """How many active people receive a new report, by what they are in the process."""

    quality_leads: int
    directors: int  # of role director, or designated director (administrators aside)
    administrators: int

    @property
    def key(self) -> str:
        """The catalog key's last part: which roles the sentence may name. Administrators count
        as the direction; a sentence names only the administrators when nobody else receives."""
        direction = bool(self.directors or self.administrators)
        if self.quality_leads:
            plural = "qls" if self.quality_leads > 1 else "ql"
            return f"{plural}_direction" if direction else plural
        if self.directors:
            return "direction"
        return "admins" if self.administrators else "nobody"


def receivers_of(people: Iterable[Person],
                 designations: Iterable[tuple[uuid.UUID, ReportFunction]]) -> Receivers:
    """Only active people count: a deactivated or not yet enrolled person reads nothing."""
    active = {p.id: p for p in people if p.status is PersonStatus.ACTIVE}
    by_person: dict[uuid.UUID, set[ReportFunction]] = {}
    for pid, fn in designations:
        if pid in active:
            by_person.setdefault(pid, set()).add(fn)
    qls = sum(1 for fns in by_person.values() if ReportFunction.QUALITY_LEAD in fns)
    directors = sum(1 for p in active.values()
                    if p.role is Role.DIRECTOR or ReportFunction.DIRECTOR in by_person.get(p.id, set()))
    admins = sum(1 for p in active.values() if p.role is Role.ADMIN)
    return Receivers(quality_leads=qls, directors=directors, administrators=admins)


def check_designation(person: Person, function: ReportFunction, on: bool) -> None:
    """Removing a designation is always possible; adding one must make sense: reports are care
    content, kept inside the organisation's staff, and read by people who can sign in."""
    if not on:
        return
    if person.role is Role.EXTERNAL:
        raise InvalidInput("report_designation_external")
    if person.status is PersonStatus.DEACTIVATED:
        raise InvalidInput("report_designation_deactivated")
    if function is ReportFunction.DIRECTOR and person.role in (Role.ADMIN, Role.DIRECTOR):
        raise InvalidInput("report_designation_director_by_role")

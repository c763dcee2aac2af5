"""The breach log as the console shows it: for each breach, where it stands against the 72-hour
deadline to notify the CNIL (GDPR Art. 33), with typed datetimes the page formats in
Europe/Paris."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from chevet.app.access import require
from chevet.app.services import Actor, Services
from chevet.core.breach import NOTIFY_WITHIN, Breach
from chevet.core.roles import Permission


@dataclass(frozen=True, slots=True)
class BreachEntry:
    id: uuid.UUID
    discovered_at: datetime
    deadline: datetime
    nature: str
    data_categories: str
    people_affected: int | None
    records_affected: int | None
    consequences: str
    measures: str
    authority_notified_at: datetime | None
    people_notified_at: datetime | None
    closed_at: datetime | None
    late_reason: str
    overdue: bool                 # 72 hours passed and the CNIL not notified
    hours_left: int | None        # whole hours before the deadline (None once notified or overdue)
    elapsed_percent: int          # of the 72 hours, 0-100, for the bar
    notified_late: bool           # the CNIL was notified after the deadline


def entry(b: Breach, now: datetime) -> BreachEntry:
    until = b.authority_notified_at or now
    elapsed = (until - b.discovered_at) / NOTIFY_WITHIN
    left = b.deadline - now
    overdue = b.overdue(now)
    hours = None if b.authority_notified_at is not None or overdue else int(left.total_seconds() // 3600)
    return BreachEntry(b.id, b.discovered_at, b.deadline, b.nature, b.data_categories, b.people_affected,
                       b.records_affected, b.consequences, b.measures, b.authority_notified_at, b.people_notified_at,
                       b.closed_at, b.late_reason, overdue, hours, max(0, min(100, round(100 * elapsed))),
                       b.authority_notified_at is not None and b.authority_notified_at > b.deadline)


async def breach_log(services: Services, actor: Actor) -> list[BreachEntry]:
    """Every breach of the organisation, the most recently discovered first."""
    require(actor, Permission.VIEW_AUDIT)
    now = services.clock.now()
    async with services.db.transaction() as tx:
        return [entry(b, now) for b in await tx.breaches.all(actor.org_id)]

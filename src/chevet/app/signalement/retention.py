"""Signalement: how long closed reports are kept, per record type (periods set here, applied by
``app.governance.retention.purge``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from chevet.app.identity.session_policy import require_recent_authentication
from chevet.app.services import Actor, Services, Unit
from chevet.app.signalement import files as report_files
from chevet.app.signalement.views import RecordRetentionView
from chevet.core.errors import Forbidden
from chevet.core.roles import Permission, can
from chevet.core.signalement.records import Report
from chevet.core.signalement.retention import (
    DEFAULT_DAYS,
    MAX_DAYS,
    MIN_DAYS,
    RATIONALE,
    RecordType,
    check_days,
    expires_at,
    kept_days,
    parse_record_type,
    record_types,
)
from chevet.ports import Transaction


def retention_view(t: RecordType, days: int | None) -> RecordRetentionView:
    return {"record_type": t.value, "days": days or DEFAULT_DAYS[t], "default_days": DEFAULT_DAYS[t],
            "min_days": MIN_DAYS, "max_days": MAX_DAYS, "rationale": RATIONALE[t]}


async def retention_policies(services: Services, actor: Actor | None,
                             org_id: uuid.UUID) -> list[RecordRetentionView]:
    """How long each type of closed report is kept: anyone of the organisation may know
    (transparency; ``actor`` None: the operator, for ``org_id``)."""
    if actor is not None:
        org_id = actor.org_id
    async with services.db.transaction() as tx:
        days = await tx.reports.retention_days(org_id)
    return [retention_view(t, days.get(t)) for t in RecordType]


async def set_retention(services: Services, actor: Actor | None, org_id: uuid.UUID, record_type: str,
                        days: int) -> RecordRetentionView:
    """The DPO (or the operator from the command line) sets a record type's period."""
    if actor is not None:
        if not can(actor.person.role, Permission.MANAGE_RETENTION):
            raise Forbidden("forbidden")
        org_id = actor.org_id
    t = parse_record_type(record_type)
    check_days(days)
    async with services.unit(actor.ip if actor else None) as u:
        if actor is not None:
            await require_recent_authentication(services, actor, u.tx)
        old = (await u.tx.reports.retention_days(org_id)).get(t, DEFAULT_DAYS[t])
        await u.tx.reports.set_retention_days(org_id, t, days, services.clock.now())
        await u.audit(org_id, "retention.report_policy_changed", actor.id if actor else None, "organisation",
                      org_id, record_type=t.value, old_days=old, days=days)
    return retention_view(t, days)


async def expired(tx: Transaction, org_id: uuid.UUID | None, now: datetime) -> list[tuple[Report, int]]:
    """Closed reports whose period (the longest of their types) has run out by ``now``."""
    periods: dict[uuid.UUID, dict[RecordType, int]] = {}
    out = []
    for r in await tx.reports.closed(org_id):
        if r.org_id not in periods:
            periods[r.org_id] = await tx.reports.retention_days(r.org_id)
        end = expires_at(r, periods[r.org_id])
        if end is not None and end <= now:
            out.append((r, kept_days(r, periods[r.org_id])))
    return out


async def purge_in(u: Unit, r: Report, *, reason: str, actor_id: uuid.UUID | None = None) -> list[str]:
    """Crypto-shred and delete one report inside ``u`` (its key first, then every row hanging
    off it); returns the blob keys of its files, to delete once the transaction committed."""
    blobs = await report_files.removable(u, r.id)
    await u.tx.reports.purge(r.org_id, r.id)
    await u.audit(r.org_id, "report.purged", actor_id, "report", r.id, reason=reason[:60],
                  types=[t.value for t in record_types(r)], **({"files": len(blobs)} if blobs else {}))
    return blobs

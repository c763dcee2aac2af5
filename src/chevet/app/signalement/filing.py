"""Signalement: filing an internal report, and the reporter's follow-up code.

Reporter modes (see docs/signalement.md): a *named* report stores its reporter's id; a
*confidential* one seals it inside the report, shown only to quality leads, and its audit entry
has no actor; an *anonymous* one stores nothing that designates the reporter: no id, no actor
and no address in the audit entry, a random (not time-ordered) report id, and the reporter's
session is not even touched (see ``auth.authenticate(touch=False)``). Its filing writes nothing
of hers, nor any page holding her rows: its audit entry waits (``report_pending_audit``) for the
periodic job, which appends it later, so that it does not land beside her latest entries."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from chevet.app.attachments.upload import delete_files
from chevet.app.services import Actor, Services
from chevet.app.signalement import files as report_files
from chevet.app.signalement.access import managers, notify, open_json, seal_json, unwrap_report_key, wrap_report_key
from chevet.app.signalement.views import FollowupView
from chevet.core import envelope
from chevet.core.envelope import DataKey
from chevet.core.errors import InvalidInput, NotFound
from chevet.core.ids import new_id
from chevet.core.signalement import deadlines as dl
from chevet.core.signalement.records import Report
from chevet.core.signalement.report import (
    ReportStatus,
    clean_report,
)
from chevet.core.signalement.taxonomy import ReporterMode, parse_mode

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or copied by hand


def followup_hash(services: Services, code: str) -> bytes:
    normalised = "".join(ch for ch in code.upper() if ch in _CODE_ALPHABET)
    return hmac.new(services.keys.derive("report-followup"), normalised.encode(), hashlib.sha256).digest()


def _new_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(20))
    return "-".join(raw[i:i + 5] for i in range(0, 20, 5))


# --- filing ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Filed:
    report_id: uuid.UUID
    followup_code: str


async def file_report(services: Services, actor: Actor, *, mode: str, what: str | None,
                      occurred_at: datetime | None, discovered_at: datetime | None, place: str | None,
                      affected_refs: Sequence[str] = (), affected_count: int | None = None,
                      immediate_measures: str | None = None, team_id: uuid.UUID | None = None,
                      files: Sequence[report_files.IncomingFile] = ()) -> Filed:
    """File an internal report, with its photos and documents if any. The follow-up code is
    shown once, to the reporter only; it is stored as a keyed hash and lets even an anonymous
    reporter read the feedback later. A refused file refuses the whole report (nothing stored)."""
    parsed = parse_mode(mode)
    now = services.clock.now()
    content = clean_report(what=what, occurred_at=occurred_at, discovered_at=discovered_at, place=place,
                           affected_refs=affected_refs, affected_count=affected_count,
                           immediate_measures=immediate_measures, now=now)
    if parsed is ReporterMode.CONFIDENTIAL:
        content = replace(content, reporter_id=str(actor.id))
    identified = parsed is ReporterMode.NAMED
    # A time-ordered id would date the report to the millisecond: only named reports get one.
    report_id = new_id() if identified else uuid.uuid4()
    key = DataKey(envelope.random_key())  # wrapped in the report's transaction, below
    code = _new_code()
    report = Report(id=report_id, org_id=actor.org_id, mode=parsed,
                    reporter_id=actor.id if identified else None, status=ReportStatus.NEW, team_id=team_id,
                    received_at=now, content_sealed=seal_json(key, "report", report_id, content.to_json()))
    ready = await report_files.check(services, key, parsed, files)
    written: list[str] = []
    try:
        async with services.unit(actor.ip if identified else None) as u:
            if team_id is not None and await u.tx.teams.get(actor.org_id, team_id) is None:
                raise InvalidInput("report_unit_unknown")
            wrapped = await wrap_report_key(services, actor.org_id, report_id, key, u.tx)
            await u.tx.reports.add(report, wrapped, followup_hash(services, code))
            await report_files.store(u, actor.org_id, report_id, key, ready, new_id if identified else uuid.uuid4,
                                     written)
            detail: dict[str, Any] = {"mode": parsed.value, **({"files": len(ready)} if ready else {})}
            if parsed is ReporterMode.ANONYMOUS:
                # Not appended now: the chain's last page holds the reporter's own latest entries
                # (her sign-in, her messages), and the entry's place would date the report
                # between them. The periodic job appends it later (record_anonymous_filings).
                await u.tx.reports.add_pending_audit(actor.org_id, report_id, detail)
            else:
                await u.audit(actor.org_id, "report.filed", actor.id if identified else None, "report", report_id,
                              **detail)
            notify(u, actor.org_id, report_id, await managers(u.tx, actor.org_id),
                    {"type": "signalement.filed", "title": "Nouveau signalement à qualifier"})
    except BaseException:
        await delete_files(services, written)
        raise
    return Filed(report_id, code)


async def record_anonymous_filings(services: Services) -> int:
    """Append the audit entries of the anonymous filings made since the last run, in random
    order, each in its own transaction (called by the server's periodic job). The entry is
    timed by this run, not by the filing, and has no actor and no address."""
    async with services.db.transaction() as tx:
        pending = await tx.reports.pending_audits()
    secrets.SystemRandom().shuffle(pending)
    done = 0
    for org_id, report_id, detail in pending:
        async with services.unit(None) as u:
            if await u.tx.reports.remove_pending_audit(report_id):
                await u.audit(org_id, "report.filed", None, "report", report_id, **detail)
                done += 1
    return done


# --- follow-up code (no sign-in, no identity) --------------------------------------------
async def followup(services: Services, code: str) -> FollowupView:
    """What the reporter may know: status, feedback. Looked up by the code alone, so that an
    anonymous reporter never has to reveal who they are; the audit entry has no actor or address."""
    if not code or len(code) > 64:
        raise NotFound("report_followup_unknown")
    async with services.unit(None) as u:
        r = await u.tx.reports.by_followup(followup_hash(services, code))
        wrapped = await u.tx.reports.wrapped_key(r.id) if r else None
        if r is None or wrapped is None:
            raise NotFound("report_followup_unknown")
        key = await unwrap_report_key(services, r.org_id, r.id, wrapped)
        await u.audit(r.org_id, "report.followup_viewed", None, "report", r.id)
        return {"status": r.status.value, "received_local": f"{dl.local_time(r.received_at):%d/%m/%Y}",
                "feedback": open_json(key, "rfeedback", r.id, r.feedback_sealed),
                "feedback_at": r.feedback_at.isoformat() if r.feedback_at else None,
                "closed": r.closed_at is not None}

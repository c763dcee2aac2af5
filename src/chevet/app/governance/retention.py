"""Retention: the organisation's policies, per-conversation choices, legal hold, closing a care
case, what will expire and when, and the purge that applies it all.

The purge crypto-shreds whole conversations (data key destroyed first, then rows) and deletes
expired messages inside living ones; each removal leaves a tombstone in the audit trail that
says what went (ids, kinds, counts), never what it said.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NotRequired

from typing_extensions import TypedDict

from chevet.app.access import conversation_access, require
from chevet.app.attachments.upload import delete_files
from chevet.app.identity import keys
from chevet.app.identity.session_policy import require_recent_authentication
from chevet.app.services import Actor, Services, Unit
from chevet.app.signalement import retention as report_retention
from chevet.core.conversation import ConversationKind, parse_kind
from chevet.core.errors import Forbidden, InvalidInput, NotFound
from chevet.core.retention import (
    DEFAULTS,
    RATIONALE,
    ConversationRetention,
    RetentionRule,
    check_override,
    check_rule,
    conversation_expires_at,
    effective_days,
    message_cutoff,
)
from chevet.core.roles import Permission, can
from chevet.core.signalement.retention import record_types
from chevet.ports import Transaction

if TYPE_CHECKING:
    from chevet.app.attachments.upkeep import RetentionHook


class RetentionPreviewView(TypedDict):
    """What retention removes within 30 days (``available``: retention runs on the installation)."""

    available: bool
    note: NotRequired[str]
    conversations: NotRequired[int]
    messages: NotRequired[int]
    held: NotRequired[int]
    attachments: NotRequired[int]
    attachment_bytes: NotRequired[int]


async def rules(tx: Transaction, org_id: uuid.UUID) -> dict[ConversationKind, RetentionRule]:
    return {**DEFAULTS, **await tx.retention.policies(org_id)}


class RuleView(TypedDict):
    kind: str
    days: int
    min_days: int
    max_days: int
    default_days: int
    rationale: str
    applies_to: str


class ExpiryView(TypedDict):
    """What expires in a conversation, and when (None: nothing, or held)."""

    conversation_id: str
    kind: str
    days: int
    override_days: int | None
    min_days: int
    max_days: int
    legal_hold: bool
    closed_at: str | None
    expires_at: str | None
    next_message_expiry: str | None
    messages_expire_after_days: int | None


def rule_view(rule: RetentionRule) -> RuleView:
    return {"kind": rule.kind.value, "days": rule.days, "min_days": rule.min_days, "max_days": rule.max_days,
            "default_days": DEFAULTS[rule.kind].days, "rationale": RATIONALE[rule.kind],
            "applies_to": "after_close" if rule.kind is ConversationKind.CARE_CASE else "messages_and_inactivity"}


async def policies(services: Services, actor: Actor | None, org_id: uuid.UUID) -> list[RuleView]:
    """Each conversation kind's period and limits: anyone of the organisation may know them
    (``actor`` None: the operator, for ``org_id``)."""
    if actor is not None:
        org_id = actor.org_id
    async with services.db.transaction() as tx:
        return [rule_view(r) for r in (await rules(tx, org_id)).values()]



async def set_policy(services: Services, actor: Actor | None, org_id: uuid.UUID, kind: str, *, days: int,
                     min_days: int, max_days: int) -> RuleView:
    """The DPO (or the operator) sets a kind's period and the limits owners may choose within."""
    if actor is not None:
        require(actor, Permission.MANAGE_RETENTION)
        org_id = actor.org_id
    rule = check_rule(RetentionRule(parse_kind(kind), days, min_days, max_days))
    async with services.unit(actor.ip if actor else None) as u:
        if actor is not None:
            await require_recent_authentication(services, actor, u.tx)
        old = (await rules(u.tx, org_id))[rule.kind]
        await u.tx.retention.set_policy(org_id, rule, services.clock.now())
        await u.audit(org_id, "retention.policy_changed", actor.id if actor else None, "organisation", org_id,
                      kind=rule.kind.value, old_days=old.days, days=rule.days, min_days=rule.min_days,
                      max_days=rule.max_days)
    return rule_view(rule)


async def _expiry(tx: Transaction, state: ConversationRetention, rule: RetentionRule,
                  now: datetime) -> ExpiryView:
    days = effective_days(rule, state.days)
    whole = conversation_expires_at(state.kind, days, closed_at=state.closed_at, last_activity=state.last_activity)
    oldest = await tx.retention.oldest_entry_at(state.conversation_id)
    from datetime import timedelta

    next_message = oldest + timedelta(days=days) if oldest and message_cutoff(state.kind, days, now) else None
    return {"conversation_id": str(state.conversation_id), "kind": state.kind.value, "days": days,
            "override_days": state.days, "min_days": rule.min_days, "max_days": rule.max_days,
            "legal_hold": state.legal_hold, "closed_at": state.closed_at.isoformat() if state.closed_at else None,
            "expires_at": None if state.legal_hold or whole is None else whole.isoformat(),
            "next_message_expiry": None if state.legal_hold or next_message is None else next_message.isoformat(),
            "messages_expire_after_days": days if message_cutoff(state.kind, days, now) else None}


async def conversation_retention(services: Services, actor: Actor, conversation_id: uuid.UUID) -> ExpiryView:
    """What will expire in this conversation and when: shown to every member before it happens."""
    async with services.db.transaction() as tx:
        await conversation_access(services, tx, actor, conversation_id)
        state = await tx.retention.state(actor.org_id, conversation_id)
        if state is None:
            raise NotFound("conversation_not_found")
        return await _expiry(tx, state, (await rules(tx, actor.org_id))[state.kind], services.clock.now())


async def expiring(services: Services, actor: Actor, within_days: int = 30) -> list[ExpiryView]:
    """The actor's conversations with something expiring within ``within_days``."""
    from datetime import timedelta

    horizon = services.clock.now() + timedelta(days=max(1, min(within_days, 3650)))
    out: list[ExpiryView] = []
    async with services.db.transaction() as tx:
        org_rules = await rules(tx, actor.org_id)
        for conv_id in await tx.conversations.ids_for(actor.org_id, actor.id):
            state = await tx.retention.state(actor.org_id, conv_id)
            if state is None:
                continue
            view = await _expiry(tx, state, org_rules[state.kind], services.clock.now())
            soonest = [datetime.fromisoformat(v) for v in (view["expires_at"], view["next_message_expiry"]) if v]
            if soonest and min(soonest) <= horizon:
                out.append(view)
    return sorted(out, key=lambda v: min(x for x in (v["expires_at"], v["next_message_expiry"]) if x))


async def _manageable(services: Services, u_tx: Transaction, actor: Actor,
                      conversation_id: uuid.UUID) -> ConversationRetention:
    a = await conversation_access(services, u_tx, actor, conversation_id)
    if not (a.membership.is_owner or can(actor.person.role, Permission.MANAGE_ANY_CONVERSATION)):
        raise Forbidden("forbidden")
    state = await u_tx.retention.state(actor.org_id, conversation_id)
    if state is None:
        raise NotFound("conversation_not_found")
    return state


async def set_override(services: Services, actor: Actor, conversation_id: uuid.UUID,
                       days: int | None) -> ExpiryView:
    """An owner (or a manager) chooses this conversation's period within the DPO's limits."""
    async with services.unit(actor.ip) as u:
        state = await _manageable(services, u.tx, actor, conversation_id)
        rule = (await rules(u.tx, actor.org_id))[state.kind]
        chosen = check_override(rule, days)
        await require_recent_authentication(services, actor, u.tx)
        await u.tx.retention.save(actor.org_id, conversation_id, days=chosen, legal_hold=state.legal_hold,
                                  closed_at=state.closed_at)
        await u.audit(actor.org_id, "retention.override_set", actor.id, "conversation", conversation_id,
                      old_days=state.days, days=chosen)
        new = await u.tx.retention.state(actor.org_id, conversation_id)
        assert new is not None
        return await _expiry(u.tx, new, rule, services.clock.now())


async def set_legal_hold(services: Services, actor: Actor | None, org_id: uuid.UUID, conversation_id: uuid.UUID,
                         hold: bool, reason: str | None = None) -> None:
    """A legal hold (litigation, inquiry, complaint) suspends every deletion of the conversation.
    Set by the DPO or an administrator, who need not be members; the reason, when given, goes
    into the audit entry so that an auditor knows why deletion was suspended or resumed."""
    if actor is not None:
        require(actor, Permission.MANAGE_RETENTION)
        org_id = actor.org_id
    async with services.unit(actor.ip if actor else None) as u:
        state = await u.tx.retention.state(org_id, conversation_id)
        if state is None:
            raise NotFound("conversation_not_found")
        if actor is not None:
            await require_recent_authentication(services, actor, u.tx)
        await u.tx.retention.save(org_id, conversation_id, days=state.days, legal_hold=hold, closed_at=state.closed_at)
        await u.audit(org_id, "retention.legal_hold_set" if hold else "retention.legal_hold_lifted",
                      actor.id if actor else None, "conversation", conversation_id,
                      **({"reason": reason.strip()[:300]} if reason and reason.strip() else {}))


async def close_care_case(services: Services, actor: Actor, conversation_id: uuid.UUID, *,
                          reopen: bool = False) -> ExpiryView:
    """Closing a care case starts its retention period; reopening stops it."""
    async with services.unit(actor.ip) as u:
        state = await _manageable(services, u.tx, actor, conversation_id)
        if state.kind is not ConversationKind.CARE_CASE:
            raise InvalidInput("only_care_case_closes")
        if reopen == (state.closed_at is None):
            raise InvalidInput("care_case_not_closed" if reopen else "care_case_already_closed")
        closed_at = None if reopen else services.clock.now()
        await u.tx.retention.save(actor.org_id, conversation_id, days=state.days, legal_hold=state.legal_hold,
                                  closed_at=closed_at)
        await u.audit(actor.org_id, "care_case.reopened" if reopen else "care_case.closed", actor.id,
                      "conversation", conversation_id)
        new = await u.tx.retention.state(actor.org_id, conversation_id)
        assert new is not None
        return await _expiry(u.tx, new, (await rules(u.tx, actor.org_id))[state.kind], services.clock.now())


@dataclass
class PurgeReport:
    as_of: datetime
    dry_run: bool
    shredded: list[dict[str, Any]] = field(default_factory=list)
    expired_messages: list[dict[str, Any]] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    skipped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "dry_run": self.dry_run, "shredded": self.shredded,
                "expired_messages": self.expired_messages, "held": self.held, "reports": self.reports,
                "skipped": self.skipped,
                "totals": {"conversations_shredded": len(self.shredded), "reports_shredded": len(self.reports),
                           "entries_removed": sum(s["entries"] for s in self.shredded)
                           + sum(e["entries"] for e in self.expired_messages)}}


def _attachments_hook(services: Services) -> RetentionHook | None:
    """Attachments and their files go with their messages (inside the transaction, before the rows)."""
    if services.attachments is None:
        return None
    from chevet.app.attachments.upkeep import retention_hook

    return retention_hook(services)


async def _shred(u: Unit, hook: RetentionHook | None, org_id: uuid.UUID,
                 conversation_id: uuid.UUID) -> tuple[int, int]:
    """Crypto-shred one whole conversation: its attachments (rows and files), then its key and
    every row. Returns (entries, other objects) removed."""
    extra = await hook(u.tx, org_id, conversation_id, None) if hook else 0
    extra += await u.tx.handovers.remove_for_conversation(conversation_id)  # a care case's handover notes
    extra += await u.tx.alerts.remove_for_conversation(conversation_id)  # its urgent alerts and their timelines
    return await u.tx.retention.shred_conversation(conversation_id), extra


@dataclass(frozen=True, slots=True)
class Due:
    """What retention takes from one conversation at a moment."""

    whole: bool                # the conversation itself has reached its end: shredded
    cutoff: datetime | None    # otherwise, its messages before this go
    expired: int               # how many messages are before the cutoff


async def due(tx: Transaction, state: ConversationRetention, days: int, now: datetime) -> Due | None:
    """The purge's decision for one conversation kept ``days`` (legal holds aside), or None when
    nothing is due: the one rule both the purge and the console's preview apply."""
    whole = conversation_expires_at(state.kind, days, closed_at=state.closed_at, last_activity=state.last_activity)
    cutoff = message_cutoff(state.kind, days, now)
    due_whole = whole is not None and whole <= now
    expired = 0 if cutoff is None else await tx.retention.count_entries_before(state.conversation_id, cutoff)
    if not (due_whole or expired):
        return None
    return Due(due_whole, cutoff, expired)


async def purge(services: Services, as_of: datetime | None = None, *, dry_run: bool = False,
                org_id: uuid.UUID | None = None) -> PurgeReport:
    """Apply every organisation's retention as of ``as_of`` (default now), in one transaction.
    A dry run computes exactly the same report and changes nothing."""
    now = as_of or services.clock.now()
    report = PurgeReport(now, dry_run)
    hook = _attachments_hook(services)
    report_blobs: list[str] = []  # files of purged reports, deleted once the transaction committed
    async with services.unit() as u:
        if not dry_run and not await u.tx.retention.lock_purge():
            report.skipped = True  # another server process is purging right now
            return report
        org_rules: dict[uuid.UUID, dict[ConversationKind, RetentionRule]] = {}
        for state in await u.tx.retention.states(org_id):
            if state.org_id not in org_rules:
                org_rules[state.org_id] = await rules(u.tx, state.org_id)
            days = effective_days(org_rules[state.org_id][state.kind], state.days)
            found = await due(u.tx, state, days, now)
            if found is None:
                continue
            due_whole, cutoff, expired = found.whole, found.cutoff, found.expired
            if state.legal_hold:
                report.held.append(str(state.conversation_id))
                continue
            base = {"org_id": str(state.org_id), "conversation_id": str(state.conversation_id),
                    "kind": state.kind.value, "days": days}
            if due_whole:
                count = await u.tx.retention.count_entries(state.conversation_id)
                if not dry_run:
                    count, extra = await _shred(u, hook, state.org_id, state.conversation_id)
                    await u.audit(state.org_id, "retention.conversation_shredded", None, "conversation",
                                  state.conversation_id, kind=state.kind.value, entries=count, days=days,
                                  other_objects=extra, as_of=now.isoformat())
                report.shredded.append({**base, "entries": count})
            else:
                assert cutoff is not None
                count = expired
                if not dry_run:
                    extra = await hook(u.tx, state.org_id, state.conversation_id, cutoff) if hook else 0
                    extra += await u.tx.alerts.remove_for_conversation(state.conversation_id, before=cutoff)
                    count = await u.tx.retention.delete_entries_before(state.conversation_id, cutoff)
                    await u.audit(state.org_id, "retention.messages_expired", None, "conversation",
                                  state.conversation_id, kind=state.kind.value, entries=count, days=days,
                                  before=cutoff.isoformat(), other_objects=extra)
                report.expired_messages.append({**base, "entries": count, "before": cutoff.isoformat()})
        for closed, days in await report_retention.expired(u.tx, org_id, now):  # signalement reports, once closed
            if not dry_run:
                report_blobs += await report_retention.purge_in(u, closed, reason="retention")
            report.reports.append({"org_id": str(closed.org_id), "report_id": str(closed.id), "days": days,
                                   "types": [t.value for t in record_types(closed)]})
        if not dry_run:
            await u.audit(None, "retention.applied", None, "installation", None, as_of=now.isoformat(),
                          conversations_shredded=len(report.shredded),
                          conversations_trimmed=len(report.expired_messages), held=len(report.held),
                          reports_shredded=len(report.reports))
    await delete_files(services, report_blobs)
    return report


@dataclass(frozen=True, slots=True)
class RestoreReport:
    conversations: int
    shredded_conversations: list[str]
    shredded_reports: list[str]


async def finish_restore(services: Services, *, database: str, keys_written_at: datetime | None) -> RestoreReport:
    """After a database backup was restored with the *current* key backup: whatever has no key
    any more was shredded since that backup. The shredding is finished here through the purge's
    own code (attachments and their files, report files, search terms, every row), in one
    transaction. A key backup of another installation is refused before anything is removed:
    every conversation would otherwise look shredded."""
    await _check_key_backup(services)
    hook = _attachments_hook(services)
    report_blobs: list[str] = []
    async with services.unit() as u:
        keyless = set(await u.tx.retention.conversations_without_key())
        states = await u.tx.retention.states()
        gone = [s for s in states if s.conversation_id in keyless]
        purged = await u.tx.reports.without_key()
        created = [s.created_at for s in gone] + [r.received_at for r in purged]
        if keys_written_at is not None and any(at > keys_written_at for at in created):
            # Created after the key backup was written, so never in it: not shredded, the key
            # backup is older than the database backup. Removing them would lose them.
            raise InvalidInput("restore_keys_older")
        for state in gone:
            count, extra = await _shred(u, hook, state.org_id, state.conversation_id)
            await u.audit(state.org_id, "restore.conversation_shredded", None, "conversation", state.conversation_id,
                          kind=state.kind.value, entries=count, other_objects=extra)
        for r in purged:
            report_blobs += await report_retention.purge_in(u, r, reason="restore")
        restored = RestoreReport(len(states) - len(gone),
                                 [str(s.conversation_id) for s in gone], [str(r.id) for r in purged])
        await u.audit(None, "backup.restored", None, "installation", None, database=database[:120],
                      conversations=restored.conversations, shredded_after_backup=len(gone),
                      reports_shredded_after_backup=len(purged))
    await delete_files(services, report_blobs)
    return restored


async def _check_key_backup(services: Services) -> None:
    """Every data key put back comes from the key backup and must open with its master key.
    With none put back (another installation's key backup names none of these records), the
    credential secrets of the database decide: if there are some and not one opens, the master
    key is not this installation's. (Some may fail legitimately: a master key rotated and
    destroyed after the database backup leaves that backup's secrets unreadable.)"""
    found = await keys.opening(services)
    data, secrets = found.get("master", keys.Opening()), found.get("credentials", keys.Opening())
    if data.failed or (not data.opened and secrets.failed and not secrets.opened):
        raise InvalidInput("restore_keys_mismatch", count=data.failed or secrets.failed)


async def next_month_preview(services: Services, actor: Actor) -> RetentionPreviewView:
    """For the sobriety dashboard: what retention will remove within 30 days in the actor's
    organisation (a dry run as of then; legal holds respected)."""
    from datetime import timedelta

    report = await purge(services, services.clock.now() + timedelta(days=30), dry_run=True, org_id=actor.org_id)
    due: list[tuple[uuid.UUID, datetime | None]] = [(uuid.UUID(x["conversation_id"]), None) for x in report.shredded]
    due += [(uuid.UUID(x["conversation_id"]), datetime.fromisoformat(x["before"])) for x in report.expired_messages]
    files = {"attachments": 0, "attachment_bytes": 0}
    if services.attachments is not None:
        from chevet.app.attachments.upkeep import retention_preview

        files = await retention_preview(services, actor.org_id, due)
    return {"available": True, "conversations": len(report.shredded),
            "messages": sum(x["entries"] for x in report.shredded) + sum(x["entries"] for x in report.expired_messages),
            "held": len(report.held), "attachments": files["attachments"],
            "attachment_bytes": files["attachment_bytes"]}


"""Consequences before saving: what a new retention period for one kind of conversation would
remove at the next purge, computed from the organisation's real conversations with the purge's
own rules (legal holds respected, owners' overrides kept within the new limits).

Nothing here changes state; the console shows the result and asks for confirmation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from chevet.app.access import require
from chevet.app.governance.retention import due, rules
from chevet.app.messaging.names import names_of
from chevet.app.services import Actor, Services
from chevet.core.conversation import ConversationKind, parse_kind
from chevet.core.errors import InvalidInput
from chevet.core.retention import (
    check_rule,
    effective_days,
)
from chevet.core.roles import Permission


@dataclass(frozen=True, slots=True)
class PolicyPreview:
    """What the new period would remove, and when the purge job would do it."""

    kind: ConversationKind
    old_days: int
    days: int
    min_days: int
    max_days: int
    purge_at: datetime
    messages: int
    conversations: int           # conversations that lose messages or are shredded whole
    shredded: int                # of which shredded whole
    held: int                    # conversations that would be affected but are under legal hold
    attachments: int


@dataclass(frozen=True, slots=True)
class HoldCandidate:
    """A conversation found for a legal hold (title and care-case reference for the DPO's eyes)."""

    conversation_id: uuid.UUID
    kind: ConversationKind
    title: str
    care_case_ref: str | None
    legal_hold: bool


async def preview_policy(services: Services, actor: Actor, kind: str, days: int) -> PolicyPreview:
    """What ``days`` for ``kind`` would remove at the next purge run (at most the purge job's
    interval from now), decided by the purge's own rule (``retention.due``)."""
    require(actor, Permission.MANAGE_RETENTION)
    parsed = parse_kind(kind)
    if not isinstance(days, int) or isinstance(days, bool):
        raise InvalidInput("retention_rule_invalid")
    at = services.clock.now() + services.policy.purge_every
    async with services.db.transaction() as tx:
        current = (await rules(tx, actor.org_id))[parsed]
        new = check_rule(replace(current, days=days))
        messages = conversations = shredded = held = attachments = 0
        for state in await tx.retention.states(actor.org_id):
            if state.kind is not parsed:
                continue
            found = await due(tx, state, effective_days(new, state.days), at)
            if found is None:
                continue
            due_whole, cutoff, expired = found.whole, found.cutoff, found.expired
            if state.legal_hold:
                held += 1
                continue
            conversations += 1
            if due_whole:
                shredded += 1
                messages += await tx.retention.count_entries(state.conversation_id)
            else:
                messages += expired
            if services.attachments is not None:
                files = await (tx.attachments.all_in(state.conversation_id) if due_whole or cutoff is None
                               else tx.attachments.created_before(state.conversation_id, cutoff))
                attachments += len(files)
    return PolicyPreview(parsed, current.days, days, current.min_days, current.max_days, at, messages,
                         conversations, shredded, held, attachments)


async def find_for_hold(services: Services, actor: Actor, query: str, limit: int = 20) -> list[HoldCandidate]:
    """Conversations of the organisation whose title or care-case reference contains ``query``
    (case-insensitive), for putting or lifting a legal hold. Titles are sealed: they are opened
    here, in memory, and never logged."""
    require(actor, Permission.MANAGE_RETENTION)
    needle = query.strip().casefold()
    if not needle:
        return []
    found: list[HoldCandidate] = []
    async with services.db.transaction() as tx:
        every = await names_of(services, tx, [conv for conv, _, _ in await tx.archive.conversations(actor.org_id)])
        for n in every:
            ref = n.care_case_ref
            if needle in n.title.casefold() or (ref is not None and needle in ref.casefold()):
                state = await tx.retention.state(actor.org_id, n.conversation.id)
                found.append(HoldCandidate(n.conversation.id, n.conversation.kind, n.title, ref,
                                           bool(state and state.legal_hold)))
                if len(found) >= limit:
                    break
    return found

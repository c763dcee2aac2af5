"""Retention settings and the purge's deletions, in memory."""

from __future__ import annotations

import uuid
from datetime import datetime

from chevet.core.conversation import ConversationKind
from chevet.core.retention import ConversationRetention, RetentionRule
from tests.fakes.tables import RetentionRow, Tables


class FakeRetention:
    """Like ``SqlRetention``. ``lock_purge`` always succeeds (as on SQLite: the fake database
    runs one transaction at a time). There is no MSSanté gateway here, so deleting messages or
    shredding a conversation has no MSSanté rows to remove with them."""

    def __init__(self, t: Tables) -> None:
        self._t = t

    async def policies(self, org_id: uuid.UUID) -> dict[ConversationKind, RetentionRule]:
        return dict(self._t.retention_policies.get(org_id, {}))

    async def set_policy(self, org_id: uuid.UUID, rule: RetentionRule, at: datetime) -> None:
        self._t.retention_policies.setdefault(org_id, {})[rule.kind] = rule

    def _state(self, conversation_id: uuid.UUID) -> ConversationRetention:
        row = self._t.conversations[conversation_id]
        c = row.conversation
        r = self._t.retention.get(conversation_id, RetentionRow(c.org_id, None, False, None))
        return ConversationRetention(c.id, c.org_id, c.kind, c.created_at, row.last_activity, r.days,
                                     r.legal_hold, r.closed_at)

    async def state(self, org_id: uuid.UUID, conversation_id: uuid.UUID) -> ConversationRetention | None:
        row = self._t.conversations.get(conversation_id)
        return self._state(conversation_id) if row and row.conversation.org_id == org_id else None

    async def states(self, org_id: uuid.UUID | None = None) -> list[ConversationRetention]:
        return [self._state(cid) for cid in sorted(self._t.conversations)
                if org_id is None or self._t.conversations[cid].conversation.org_id == org_id]

    async def save(self, org_id: uuid.UUID, conversation_id: uuid.UUID, *, days: int | None, legal_hold: bool,
                   closed_at: datetime | None) -> None:
        self._t.retention[conversation_id] = RetentionRow(org_id, days, legal_hold, closed_at)

    async def lock_purge(self) -> bool:
        return True

    async def oldest_entry_at(self, conversation_id: uuid.UUID) -> datetime | None:
        return min((e.created_at for e in self._t.entries.get(conversation_id, {}).values()), default=None)

    async def count_entries_before(self, conversation_id: uuid.UUID, cutoff: datetime) -> int:
        return sum(e.created_at < cutoff for e in self._t.entries.get(conversation_id, {}).values())

    async def count_entries(self, conversation_id: uuid.UUID) -> int:
        return len(self._t.entries.get(conversation_id, {}))

    def _forget_entries(self, conversation_id: uuid.UUID, seqs: list[int]) -> None:
        log = self._t.entries[conversation_id]
        for seq in seqs:
            self._t.terms.pop(log.pop(seq).id, None)
        gone = set(seqs)
        self._t.mentions = {m for m in self._t.mentions if not (m[0] == conversation_id and m[1] in gone)}

    async def delete_entries_before(self, conversation_id: uuid.UUID, cutoff: datetime) -> int:
        seqs = [s for s, e in self._t.entries.get(conversation_id, {}).items() if e.created_at < cutoff]
        self._forget_entries(conversation_id, seqs)
        return len(seqs)

    async def shred_conversation(self, conversation_id: uuid.UUID) -> int:
        self._t.conversation_keys.pop(conversation_id, None)
        seqs = list(self._t.entries.get(conversation_id, {}))
        self._forget_entries(conversation_id, seqs)
        self._t.entries.pop(conversation_id, None)
        self._t.members.pop(conversation_id, None)
        self._t.retention.pop(conversation_id, None)
        self._t.conversations.pop(conversation_id, None)
        return len(seqs)

    async def conversations_without_key(self) -> list[uuid.UUID]:
        return [cid for cid in self._t.conversations if cid not in self._t.conversation_keys]

    async def set_last_activity(self, conversation_id: uuid.UUID, at: datetime) -> None:
        self._t.conversations[conversation_id].last_activity = at

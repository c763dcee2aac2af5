"""Conversations, their members and their log, in memory."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from chevet.core.audit import AuditEntry
from chevet.core.entities import Conversation, ConversationSummary, Entry, Membership
from chevet.core.message import EntryKind, MessageFlag
from tests.fakes.errors import ConstraintViolation, not_faked
from tests.fakes.tables import ConversationRow, Tables


class FakeConversations:
    """Like ``SqlConversations``, except: ``next_seq`` takes no lock (the fake database runs one
    transaction at a time, which is what the lock guarantees between writers of a conversation)."""

    def __init__(self, t: Tables) -> None:
        self._t = t

    def _row(self, conversation_id: uuid.UUID) -> ConversationRow:
        return self._t.conversations[conversation_id]

    async def add(self, conversation: Conversation, wrapped_key: bytes,
                  pair: tuple[uuid.UUID, uuid.UUID] | None = None) -> None:
        if conversation.id in self._t.conversations:
            raise ConstraintViolation("conversation.id")
        self._t.conversations[conversation.id] = ConversationRow(conversation, conversation.created_at)
        self._t.conversation_keys[conversation.id] = wrapped_key
        self._t.members[conversation.id] = {}
        self._t.entries[conversation.id] = {}

    async def get(self, org_id: uuid.UUID, conversation_id: uuid.UUID) -> Conversation | None:
        row = self._t.conversations.get(conversation_id)
        return row.conversation if row and row.conversation.org_id == org_id else None

    async def access_of(self, org_id: uuid.UUID, conversation_id: uuid.UUID, person_ids: Sequence[uuid.UUID],
                        ) -> tuple[Conversation, bytes, dict[uuid.UUID, Membership]] | None:
        conv = await self.get(org_id, conversation_id)
        wrapped = self._t.conversation_keys.get(conversation_id)
        if conv is None or wrapped is None:
            return None
        members = self._t.members[conversation_id]
        found = {pid: members[pid] for pid in person_ids if pid in members}
        return (conv, wrapped, found) if found else None

    async def wrapped_key(self, conversation_id: uuid.UUID) -> bytes | None:
        return self._t.conversation_keys.get(conversation_id)

    async def destroy_key(self, conversation_id: uuid.UUID) -> None:
        self._t.conversation_keys.pop(conversation_id, None)

    async def next_seq(self, conversation_id: uuid.UUID, at: datetime, count: int = 1) -> int:
        row = self._row(conversation_id)
        row.conversation = replace(row.conversation, last_seq=row.conversation.last_seq + count)
        row.last_activity = at
        return row.conversation.last_seq

    async def release_seqs(self, conversation_id: uuid.UUID, count: int) -> None:
        row = self._row(conversation_id)
        row.conversation = replace(row.conversation, last_seq=row.conversation.last_seq - count)

    async def add_member(self, membership: Membership) -> None:
        members = self._t.members[membership.conversation_id]
        if membership.person_id in members:
            raise ConstraintViolation("member primary key")
        members[membership.person_id] = membership

    async def remove_member(self, conversation_id: uuid.UUID, person_id: uuid.UUID) -> None:
        self._t.members[conversation_id].pop(person_id, None)

    async def membership(self, conversation_id: uuid.UUID, person_id: uuid.UUID) -> Membership | None:
        return self._t.members.get(conversation_id, {}).get(person_id)

    async def members(self, conversation_id: uuid.UUID) -> list[Membership]:
        return sorted(self._t.members.get(conversation_id, {}).values(), key=lambda m: m.joined_at)

    async def set_read(self, conversation_id: uuid.UUID, person_id: uuid.UUID, seq: int) -> None:
        members = self._t.members[conversation_id]
        if (m := members.get(person_id)) is not None and m.read_seq < seq:
            members[person_id] = replace(m, read_seq=seq)

    async def summaries(self, org_id: uuid.UUID, person_id: uuid.UUID) -> list[ConversationSummary]:
        raise not_faked("ConversationRepository.summaries")

    async def ids_for(self, org_id: uuid.UUID, person_id: uuid.UUID) -> list[uuid.UUID]:
        return [cid for cid, row in self._t.conversations.items()
                if row.conversation.org_id == org_id and person_id in self._t.members[cid]]

    async def positions(self, org_id: uuid.UUID, person_id: uuid.UUID) -> dict[uuid.UUID, int]:
        return {cid: self._t.conversations[cid].conversation.last_seq for cid in await self.ids_for(org_id, person_id)}

    async def direct_between(self, org_id: uuid.UUID, a: uuid.UUID, b: uuid.UUID) -> Conversation | None:
        raise not_faked("ConversationRepository.direct_between")

    async def team_channels(self, org_id: uuid.UUID, team_ids: Sequence[uuid.UUID]) -> list[Conversation]:
        raise not_faked("ConversationRepository.team_channels")

    async def care_cases(self, org_id: uuid.UUID) -> list[Conversation]:
        raise not_faked("ConversationRepository.care_cases")


class FakeEntries:
    """Like ``SqlEntries``: an entry's id is unique, and so is its (conversation, seq). ``search``
    is not faked (the blind index is the real database's)."""

    def __init__(self, t: Tables) -> None:
        self._t = t

    def _log(self, conversation_id: uuid.UUID) -> dict[int, Entry]:
        return self._t.entries.get(conversation_id, {})

    async def add(self, entry: Entry, terms: Sequence[int], mentions: Sequence[uuid.UUID]) -> None:
        await self.add_many([(entry, terms, mentions)])

    async def add_many(self, items: Sequence[tuple[Entry, Sequence[int], Sequence[uuid.UUID]]],
                       audit: Sequence[AuditEntry] | None = None) -> None:
        for e, terms, mentions in items:
            log = self._t.entries[e.conversation_id]
            if e.seq in log:
                raise ConstraintViolation("entry (conversation_id, seq)")
            if e.id in self._t.terms:
                raise ConstraintViolation("entry.id")
            log[e.seq] = e
            self._t.terms[e.id] = list(terms)
            self._t.mentions.update((e.conversation_id, e.seq, p) for p in mentions)

    async def get(self, conversation_id: uuid.UUID, entry_id: uuid.UUID) -> Entry | None:
        return next((e for e in self._log(conversation_id).values() if e.id == entry_id), None)

    async def many(self, conversation_id: uuid.UUID, entry_ids: Sequence[uuid.UUID]) -> list[Entry]:
        wanted = set(entry_ids)
        return [e for e in self._log(conversation_id).values() if e.id in wanted]

    async def at_seq(self, conversation_id: uuid.UUID, seq: int) -> Entry | None:
        return self._log(conversation_id).get(seq)

    async def after(self, conversation_id: uuid.UUID, after_seq: int, limit: int,
                    kinds: Sequence[int] | None = None) -> list[Entry]:
        found = [e for s, e in sorted(self._log(conversation_id).items())
                 if s > after_seq and (kinds is None or int(e.kind) in kinds)]
        return found[:limit]

    async def before(self, conversation_id: uuid.UUID, before_seq: int, not_before_seq: int,
                     limit: int) -> list[Entry]:
        found = [e for s, e in sorted(self._log(conversation_id).items()) if not_before_seq <= s < before_seq]
        return found[-limit:] if limit > 0 else []

    async def update_body(self, conversation_id: uuid.UUID, seq: int, body_sealed: bytes | None,
                          flags: MessageFlag, terms: Sequence[int], edited_at: datetime | None) -> None:
        raise not_faked("EntryRepository.update_body")

    async def last_message(self, conversation_id: uuid.UUID, not_before_seq: int) -> Entry | None:
        found = [e for s, e in sorted(self._log(conversation_id).items())
                 if s >= not_before_seq and e.kind is EntryKind.MESSAGE]
        return found[-1] if found else None

    async def erase_bodies_of(self, conversation_id: uuid.UUID, target_seq: int) -> None:
        raise not_faked("EntryRepository.erase_bodies_of")

    async def search(self, wanted: dict[uuid.UUID, tuple[int, list[list[int]]]], limit: int,
                     offset: int = 0) -> list[Entry]:
        raise not_faked("EntryRepository.search")

    async def set_terms(self, conversation_id: uuid.UUID, terms: Sequence[tuple[int, Sequence[int]]]) -> None:
        raise not_faked("EntryRepository.set_terms")

    async def reindex_next(self) -> tuple[uuid.UUID, uuid.UUID, int, int] | None:
        return None

    async def reindex_advance(self, conversation_id: uuid.UUID, done_seq: int) -> None:
        raise not_faked("EntryRepository.reindex_advance")

    async def reindex_finish(self, conversation_id: uuid.UUID) -> None:
        raise not_faked("EntryRepository.reindex_finish")

    async def reindex_left(self, org_id: uuid.UUID | None = None) -> int:
        return 0

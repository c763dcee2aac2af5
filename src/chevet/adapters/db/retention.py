"""Retention settings and the deletions the purge performs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.audit import SqlAuditLog, linked_messages, message_entry
from chevet.adapters.db.schema import audit_entry, conversation, conversation_key, entry, member, mention
from chevet.adapters.db.schema_governance import conversation_retention, retention_policy
from chevet.adapters.db.schema_mssante import mss_attachment, mss_exchange, mss_message
from chevet.core.conversation import ConversationKind
from chevet.core.retention import ConversationRetention, RetentionRule

_COLS = [conversation.c.id, conversation.c.org_id, conversation.c.kind, conversation.c.created_at,
         conversation.c.last_activity, conversation_retention.c.days, conversation_retention.c.legal_hold,
         conversation_retention.c.closed_at]


def _state(row: Any) -> ConversationRetention:
    m = row._mapping
    return ConversationRetention(m["id"], m["org_id"], ConversationKind(m["kind"]), m["created_at"],
                                 m["last_activity"], m["days"], bool(m["legal_hold"] or False), m["closed_at"])


class SqlRetention:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._sqlite = conn.dialect.name == "sqlite"

    async def policies(self, org_id: uuid.UUID) -> dict[ConversationKind, RetentionRule]:
        rows = await self._conn.execute(select(retention_policy).where(retention_policy.c.org_id == org_id))
        return {ConversationKind(r.kind): RetentionRule(ConversationKind(r.kind), r.days, r.min_days, r.max_days)
                for r in rows}

    async def set_policy(self, org_id: uuid.UUID, rule: RetentionRule, at: datetime) -> None:
        await self._conn.execute(delete(retention_policy).where(
            retention_policy.c.org_id == org_id, retention_policy.c.kind == rule.kind.value))
        await self._conn.execute(insert(retention_policy).values(
            org_id=org_id, kind=rule.kind.value, days=rule.days, min_days=rule.min_days, max_days=rule.max_days,
            updated_at=at))

    def _select(self) -> Any:
        return select(*_COLS).select_from(conversation.outerjoin(
            conversation_retention, conversation_retention.c.conversation_id == conversation.c.id))

    async def state(self, org_id: uuid.UUID, conversation_id: uuid.UUID) -> ConversationRetention | None:
        row = (await self._conn.execute(self._select().where(
            conversation.c.org_id == org_id, conversation.c.id == conversation_id))).first()
        return _state(row) if row else None

    async def states(self, org_id: uuid.UUID | None = None) -> list[ConversationRetention]:
        stmt = self._select()
        if org_id is not None:
            stmt = stmt.where(conversation.c.org_id == org_id)
        return [_state(r) for r in await self._conn.execute(stmt.order_by(conversation.c.id))]

    async def save(self, org_id: uuid.UUID, conversation_id: uuid.UUID, *, days: int | None, legal_hold: bool,
                   closed_at: datetime | None) -> None:
        await self._conn.execute(delete(conversation_retention).where(
            conversation_retention.c.conversation_id == conversation_id))
        await self._conn.execute(insert(conversation_retention).values(
            conversation_id=conversation_id, org_id=org_id, days=days, legal_hold=legal_hold, closed_at=closed_at))

    async def lock_purge(self) -> bool:
        """One purge at a time across server processes (PostgreSQL advisory lock, released at
        commit; SQLite transactions are already serialised)."""
        if self._sqlite:
            return True
        row = (await self._conn.execute(text("SELECT pg_try_advisory_xact_lock(7365730851)"))).one()
        return bool(row[0])

    async def oldest_entry_at(self, conversation_id: uuid.UUID) -> datetime | None:
        row = (await self._conn.execute(select(func.min(entry.c.created_at)).where(
            entry.c.conversation_id == conversation_id))).first()
        return row[0] if row and row[0] is not None else None

    async def count_entries_before(self, conversation_id: uuid.UUID, cutoff: datetime) -> int:
        row = (await self._conn.execute(select(func.count()).where(
            entry.c.conversation_id == conversation_id, entry.c.created_at < cutoff))).one()
        return int(row[0])

    async def count_entries(self, conversation_id: uuid.UUID) -> int:
        row = (await self._conn.execute(select(func.count()).where(entry.c.conversation_id == conversation_id))).one()
        return int(row[0])

    async def _secure_delete(self) -> None:
        # SQLite otherwise leaves deleted sealed bodies in free pages until they are reused.
        if self._sqlite:
            await self._conn.execute(text("PRAGMA secure_delete = ON"))

    async def _keep_chain_places(self, conversation_id: uuid.UUID, cutoff: datetime | None) -> None:
        """Messages about to go keep their place in the audit chain: their ``message.sent``
        entries move to rows of their own, the same fields, hence the same hashes."""
        org_id = (await self._conn.execute(select(conversation.c.org_id).where(
            conversation.c.id == conversation_id))).scalar()
        if org_id is None:
            return
        linked = linked_messages(org_id).where(entry.c.conversation_id == conversation_id)
        if cutoff is not None:
            linked = linked.where(entry.c.created_at < cutoff)
        moved = [SqlAuditLog.stored_row(message_entry(org_id, r)) for r in await self._conn.execute(linked)]
        if moved:
            await self._conn.execute(insert(audit_entry), moved)

    async def delete_entries_before(self, conversation_id: uuid.UUID, cutoff: datetime) -> int:
        await self._secure_delete()
        await self._keep_chain_places(conversation_id, cutoff)
        seqs = select(entry.c.seq).where(entry.c.conversation_id == conversation_id, entry.c.created_at < cutoff)
        await self._conn.execute(delete(mention).where(mention.c.conversation_id == conversation_id,
                                                       mention.c.seq.in_(seqs)))
        result = await self._conn.execute(delete(entry).where(entry.c.conversation_id == conversation_id,
                                                              entry.c.created_at < cutoff))
        # What the MSSanté gateway kept of those messages goes with them (not what still waits
        # in its outbox: that is being delivered).
        gone = select(mss_message.c.id).where(mss_message.c.conversation_id == conversation_id,
                                              mss_message.c.created_at < cutoff,
                                              mss_message.c.state.not_in(("pending", "sending")))
        await self._conn.execute(delete(mss_attachment).where(mss_attachment.c.message_id.in_(gone)))
        await self._conn.execute(delete(mss_message).where(mss_message.c.id.in_(gone)))
        return int(result.rowcount or 0)

    async def shred_conversation(self, conversation_id: uuid.UUID) -> int:
        """Destroy the data key first, then every row of the conversation. Returns the number of
        log entries removed."""
        await self._secure_delete()
        await self._conn.execute(delete(conversation_key).where(conversation_key.c.conversation_id == conversation_id))
        await self._keep_chain_places(conversation_id, None)
        await self._conn.execute(delete(mention).where(mention.c.conversation_id == conversation_id))
        result = await self._conn.execute(delete(entry).where(entry.c.conversation_id == conversation_id))
        await self._conn.execute(delete(member).where(member.c.conversation_id == conversation_id))
        for table in (mss_attachment, mss_message, mss_exchange):
            await self._conn.execute(delete(table).where(table.c.conversation_id == conversation_id))
        await self._conn.execute(delete(conversation_retention).where(
            conversation_retention.c.conversation_id == conversation_id))
        await self._conn.execute(delete(conversation).where(conversation.c.id == conversation_id))
        return int(result.rowcount or 0)

    async def conversations_without_key(self) -> list[uuid.UUID]:
        rows = await self._conn.execute(select(conversation.c.id).where(~conversation.c.id.in_(
            select(conversation_key.c.conversation_id))))
        return [r[0] for r in rows]

    async def set_last_activity(self, conversation_id: uuid.UUID, at: datetime) -> None:
        await self._conn.execute(update(conversation).where(conversation.c.id == conversation_id)
                                 .values(last_activity=at))

"""Checkpoints, anchors, searches and pruning of the audit trail (the append side stays in
``audit.py``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.audit import _entry, linked_messages, merged, message_entry
from chevet.adapters.db.schema import audit_entry, conversation, entry
from chevet.adapters.db.schema_governance import audit_anchor, audit_checkpoint
from chevet.core.audit import MESSAGE_SENT, AuditEntry
from chevet.core.checkpoint import Checkpoint


def _checkpoint(row: Any) -> Checkpoint:
    m = row._mapping
    return Checkpoint(chain=m["chain"], seq=int(m["seq"]), head_hash=bytes(m["head_hash"]), at=m["at"],
                      key_id=m["key_id"], signature=bytes(m["signature"]))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlAuditTrail:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add_checkpoint(self, cp: Checkpoint) -> None:
        # Several server processes may sign the same head at once: the first one wins.
        ins = pg_insert if self._conn.dialect.name == "postgresql" else sqlite_insert
        await self._conn.execute(ins(audit_checkpoint).values(
            chain=cp.chain, seq=cp.seq, head_hash=cp.head_hash, at=cp.at, key_id=cp.key_id,
            signature=cp.signature).on_conflict_do_nothing(index_elements=["chain", "seq"]))

    async def checkpoints(self, chain: uuid.UUID) -> list[Checkpoint]:
        rows = await self._conn.execute(select(audit_checkpoint).where(audit_checkpoint.c.chain == chain)
                                        .order_by(audit_checkpoint.c.seq))
        return [_checkpoint(r) for r in rows]

    async def checkpoint_chains(self) -> list[uuid.UUID]:
        rows = await self._conn.execute(select(audit_checkpoint.c.chain).distinct())
        return [r[0] for r in rows]

    async def latest_checkpoint(self, chain: uuid.UUID) -> Checkpoint | None:
        row = (await self._conn.execute(select(audit_checkpoint).where(audit_checkpoint.c.chain == chain)
                                        .order_by(audit_checkpoint.c.seq.desc()).limit(1))).first()
        return _checkpoint(row) if row else None

    async def anchor(self, chain: uuid.UUID) -> int | None:
        row = (await self._conn.execute(select(audit_anchor.c.seq).where(audit_anchor.c.chain == chain))).first()
        return int(row[0]) if row else None

    async def set_anchor(self, chain: uuid.UUID, seq: int, at: datetime) -> None:
        await self._conn.execute(delete(audit_anchor).where(audit_anchor.c.chain == chain))
        await self._conn.execute(insert(audit_anchor).values(chain=chain, seq=seq, pruned_at=at))

    async def _max_seq(self, chain: uuid.UUID, before: datetime | None) -> int:
        own = select(func.max(audit_entry.c.seq)).where(audit_entry.c.chain == chain)
        sent = linked_messages(chain).with_only_columns(func.max(entry.c.audit_seq))
        if before is not None:
            own, sent = own.where(audit_entry.c.at < before), sent.where(entry.c.created_at < before)
        found = [(await self._conn.execute(q)).scalar() for q in (own, sent)]
        return max((int(x) for x in found if x is not None), default=0)

    async def last_seq_before(self, chain: uuid.UUID, before: datetime) -> int:
        return await self._max_seq(chain, before)

    async def last_seq(self, chain: uuid.UUID) -> int:
        return await self._max_seq(chain, None)

    async def entry_chains(self) -> list[uuid.UUID]:
        """Chains that have entries, whether or not their head row is still there."""
        rows = await self._conn.execute(select(audit_entry.c.chain).distinct())
        sent = await self._conn.execute(
            select(conversation.c.org_id).distinct().select_from(
                entry.join(conversation, conversation.c.id == entry.c.conversation_id))
            .where(entry.c.audit_seq.is_not(None)))
        return sorted({r[0] for r in rows} | {r[0] for r in sent}, key=lambda c: c.hex)

    async def prune(self, chain: uuid.UUID, up_to_seq: int) -> int:
        result = await self._conn.execute(delete(audit_entry).where(
            audit_entry.c.chain == chain, audit_entry.c.seq <= up_to_seq))
        # Messages stay (retention decides for them); only their place in the pruned part goes.
        of_chain = select(conversation.c.id).where(conversation.c.org_id == chain)
        unlinked = await self._conn.execute(update(entry).where(
            entry.c.conversation_id.in_(of_chain), entry.c.audit_seq <= up_to_seq)
            .values(audit_seq=None, audit_hash=None))
        await self._conn.execute(delete(audit_checkpoint).where(
            audit_checkpoint.c.chain == chain, audit_checkpoint.c.seq < up_to_seq))
        return int(result.rowcount or 0) + int(unlinked.rowcount or 0)

    async def entry_at(self, chain: uuid.UUID, seq: int) -> AuditEntry | None:
        row = (await self._conn.execute(select(audit_entry).where(
            audit_entry.c.chain == chain, audit_entry.c.seq == seq))).first()
        if row is not None:
            return _entry(row)
        sent = (await self._conn.execute(linked_messages(chain).where(entry.c.audit_seq == seq))).first()
        return message_entry(chain, sent) if sent is not None else None

    async def search(self, chain: uuid.UUID, *, object_id: uuid.UUID | None = None,
                     conversation_id: uuid.UUID | None = None, actor_id: uuid.UUID | None = None,
                     about_id: uuid.UUID | None = None, actions: list[str] | None = None,
                     since: datetime | None = None, until: datetime | None = None,
                     after_seq: int = 0, before_seq: int | None = None, limit: int = 100,
                     ascending: bool = False) -> list[AuditEntry]:
        """Entries of one chain matching every filter given. ``conversation_id`` also finds the
        entries about a conversation's messages; ``about_id`` finds what a person did and what
        was done to them."""
        stmt = select(audit_entry).where(audit_entry.c.chain == chain, audit_entry.c.seq > after_seq)
        # The messages sent, which hold their own place in the chain, answer the same filters.
        sent = linked_messages(chain).where(entry.c.audit_seq > after_seq)
        if actions and not any(a == MESSAGE_SENT or (a.endswith("*") and MESSAGE_SENT.startswith(a[:-1]))
                               for a in actions):
            sent = None
        if before_seq is not None:
            stmt = stmt.where(audit_entry.c.seq < before_seq)
            sent = sent.where(entry.c.audit_seq < before_seq) if sent is not None else None
        if object_id is not None:
            stmt = stmt.where(audit_entry.c.object_id == object_id)
            sent = sent.where(entry.c.id == object_id) if sent is not None else None
        if conversation_id is not None:
            pattern = f'%"conversation":"{_escape_like(str(conversation_id))}"%'
            # Entries written before the conversation id had its own column hold it in the detail.
            stmt = stmt.where(or_(audit_entry.c.object_id == conversation_id,
                                  audit_entry.c.conversation_id == conversation_id,
                                  audit_entry.c.detail.like(pattern, escape="\\")))
            sent = sent.where(entry.c.conversation_id == conversation_id) if sent is not None else None
        if actor_id is not None:
            stmt = stmt.where(audit_entry.c.actor_id == actor_id)
            sent = sent.where(entry.c.author_id == actor_id) if sent is not None else None
        if about_id is not None:
            pattern = f'%"{_escape_like(str(about_id))}"%'
            stmt = stmt.where(or_(audit_entry.c.actor_id == about_id, audit_entry.c.object_id == about_id,
                                  audit_entry.c.detail.like(pattern, escape="\\")))
            sent = sent.where(or_(entry.c.author_id == about_id, entry.c.id == about_id)) \
                if sent is not None else None
        if actions:
            stmt = stmt.where(or_(*(audit_entry.c.action.like(a[:-1] + "%") if a.endswith("*")
                                    else audit_entry.c.action == a for a in actions)))
        if since is not None:
            stmt = stmt.where(audit_entry.c.at >= since)
            sent = sent.where(entry.c.created_at >= since) if sent is not None else None
        if until is not None:
            stmt = stmt.where(audit_entry.c.at < until)
            sent = sent.where(entry.c.created_at < until) if sent is not None else None
        order = audit_entry.c.seq.asc() if ascending else audit_entry.c.seq.desc()
        rows = [_entry(r) for r in await self._conn.execute(stmt.order_by(order).limit(limit))]
        messages = [] if sent is None else [message_entry(chain, r) for r in await self._conn.execute(
            sent.order_by(entry.c.audit_seq.asc() if ascending else entry.c.audit_seq.desc()).limit(limit))]
        return merged(rows, messages, ascending)[:limit]

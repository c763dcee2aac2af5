from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema import audit_entry, audit_head, conversation, entry
from chevet.core.audit import GENESIS, AuditEntry, AuditEvent, entry_hash, message_sent, sent_entry
from chevet.core.message import MessageFlag

_BATCH = 2000
# Built once: every action appends at least one entry.
_ADVANCE = (update(audit_head).where(audit_head.c.chain == bindparam("c")).values(seq=audit_head.c.seq + bindparam("n"))
            .returning(audit_head.c.seq, audit_head.c.hash))
_SET_HASH = update(audit_head).where(audit_head.c.chain == bindparam("c")).values(hash=bindparam("h"))
_INSERT = insert(audit_entry)
# PostgreSQL: the entry and the new head hash in one statement (one round trip fewer).
_INSERT_AND_SET_HASH = _SET_HASH.values(hash=bindparam("v_hash", type_=audit_head.c.hash.type)).add_cte(
    insert(audit_entry).values({c.name: bindparam(f"v_{c.name}", type_=c.type) for c in audit_entry.c})
    .cte("new_entry"))


def stored_detail(detail: dict[str, Any]) -> tuple[str, uuid.UUID | None]:
    """The detail as stored: sorted JSON, and a ``conversation`` id apart as 16 bytes (see
    ``schema.audit_entry``). Only a canonical id string moves, so reading gives back exactly
    what was hashed."""
    conv = detail.get("conversation")
    if isinstance(conv, str):
        try:
            cid: uuid.UUID | None = uuid.UUID(conv)
        except ValueError:
            cid = None
        if cid is not None and str(cid) == conv:
            rest = {k: v for k, v in detail.items() if k != "conversation"}
            return orjson.dumps(rest, option=orjson.OPT_SORT_KEYS).decode(), cid
    return orjson.dumps(detail, option=orjson.OPT_SORT_KEYS).decode(), None


# A message sent is in its organisation's chain through its own row (``entry.audit_seq`` and
# ``entry.audit_hash``, see core.audit.message_sent): these columns read it back as an entry.
MESSAGE_LINK = [entry.c.audit_seq, entry.c.audit_hash, entry.c.id, entry.c.conversation_id, entry.c.author_id,
                entry.c.seq, entry.c.flags, entry.c.created_at]


def linked_messages(chain: Any) -> Any:
    """The messages of one organisation that hold a place in its chain (a select to narrow)."""
    return (select(*MESSAGE_LINK).select_from(entry.join(conversation, conversation.c.id == entry.c.conversation_id))
            .where(conversation.c.org_id == chain, entry.c.audit_seq.is_not(None)))


def message_entry(chain: uuid.UUID, row: Any) -> AuditEntry:
    m = row._mapping
    event = message_sent(m["id"], m["conversation_id"], m["author_id"], int(m["seq"]),
                         bool(int(m["flags"]) & MessageFlag.URGENT))
    return sent_entry(chain, int(m["audit_seq"]), bytes(m["audit_hash"]), m["created_at"], event)


def merged(rows: Sequence[AuditEntry], messages: Sequence[AuditEntry], ascending: bool) -> list[AuditEntry]:
    return sorted([*rows, *messages], key=lambda e: e.seq, reverse=not ascending)


def _entry(row: Any) -> AuditEntry:
    m = row._mapping
    detail = orjson.loads(m["detail"])
    if m["conversation_id"] is not None:
        detail["conversation"] = str(m["conversation_id"])
    return AuditEntry(chain=m["chain"], seq=m["seq"], at=m["at"], action=m["action"], actor_id=m["actor_id"],
                      object_type=m["object_type"], object_id=m["object_id"], ip=m["ip"],
                      detail=detail, hash=bytes(m["hash"]))


class SqlAuditLog:
    """The hash-chained, append-only audit trail, one chain per organisation."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def append(self, chain: uuid.UUID, event: AuditEvent, at: datetime, ip: str | None) -> AuditEntry:
        return (await self.append_many(chain, [(event, at, ip)]))[0]

    async def append_many(self, chain: uuid.UUID,
                          items: Sequence[tuple[AuditEvent, datetime, str | None]]) -> list[AuditEntry]:
        made = await self._advance(chain, items, set_hash=False)
        rows = [self.stored_row(e) for e in made]
        if len(rows) == 1 and self._conn.dialect.name == "postgresql":
            await self._conn.execute(_INSERT_AND_SET_HASH, {"c": chain, **{f"v_{k}": v for k, v in rows[0].items()}})
        else:
            await self._conn.execute(_INSERT, rows[0] if len(rows) == 1 else rows)
            await self._conn.execute(_SET_HASH, {"c": chain, "h": made[-1].hash})
        return made

    async def reserve(self, chain: uuid.UUID,
                      items: Sequence[tuple[AuditEvent, datetime, str | None]]) -> list[AuditEntry]:
        """Places at the end of the chain for entries another row will hold (messages sent)."""
        return await self._advance(chain, items, set_hash=True)

    async def _advance(self, chain: uuid.UUID, items: Sequence[tuple[AuditEvent, datetime, str | None]],
                       *, set_hash: bool) -> list[AuditEntry]:
        # The UPDATE locks the chain head until commit: entries of one chain are serialised. A
        # chain's first entry finds no head: create it at the genesis hash, then advance it.
        n = len(items)
        row = (await self._conn.execute(_ADVANCE, {"c": chain, "n": n})).first()
        if row is None:
            ins = pg_insert if self._conn.dialect.name == "postgresql" else sqlite_insert
            await self._conn.execute(ins(audit_head).values(chain=chain, seq=0, hash=GENESIS)
                                     .on_conflict_do_nothing(index_elements=["chain"]))
            row = (await self._conn.execute(_ADVANCE, {"c": chain, "n": n})).one()
        seq, prev = int(row[0]) - n, bytes(row[1])
        made: list[AuditEntry] = []
        for event, at, ip in items:
            seq += 1
            prev = entry_hash(prev, chain, seq, at, event.action, event.actor_id, event.object_type,
                              event.object_id, ip, event.detail)
            made.append(AuditEntry(chain, seq, at, event.action, event.actor_id, event.object_type,
                                   event.object_id, ip, event.detail, prev))
        if set_hash:
            await self._conn.execute(_SET_HASH, {"c": chain, "h": prev})
        return made

    @staticmethod
    def stored_row(e: AuditEntry) -> dict[str, Any]:
        """An entry as a row of ``audit_entry``."""
        detail, conversation_id = stored_detail(e.detail)
        return dict(chain=e.chain, seq=e.seq, at=e.at, action=e.action, actor_id=e.actor_id,
                    object_type=e.object_type, object_id=e.object_id, ip=e.ip, detail=detail, hash=e.hash,
                    conversation_id=conversation_id)

    async def chains(self) -> list[uuid.UUID]:
        rows = await self._conn.execute(select(audit_head.c.chain).order_by(audit_head.c.chain))
        return [r[0] for r in rows]

    async def entries(self, chain: uuid.UUID) -> AsyncIterator[AuditEntry]:
        """The chain in order: its own rows and the messages that hold a place in it, merged."""
        last = 0
        while True:
            rows = [_entry(r) for r in await self._conn.execute(select(audit_entry).where(
                audit_entry.c.chain == chain, audit_entry.c.seq > last).order_by(audit_entry.c.seq).limit(_BATCH))]
            sent = [message_entry(chain, r) for r in await self._conn.execute(
                linked_messages(chain).where(entry.c.audit_seq > last).order_by(entry.c.audit_seq).limit(_BATCH))]
            if not rows and not sent:
                return
            # Both batches are complete up to the smaller of their last places.
            upto = min((b[-1].seq for b in (rows, sent) if len(b) == _BATCH), default=1 << 62)
            for e in merged(rows, sent, ascending=True):
                if e.seq > upto:
                    break
                last = e.seq
                yield e

    async def head(self, chain: uuid.UUID) -> tuple[int, bytes] | None:
        row = (await self._conn.execute(select(audit_head.c.seq, audit_head.c.hash)
                                        .where(audit_head.c.chain == chain))).first()
        return (int(row[0]), bytes(row[1])) if row else None

    async def query(self, chain: uuid.UUID, *, object_id: uuid.UUID | None = None,
                    actor_id: uuid.UUID | None = None, limit: int = 100) -> list[AuditEntry]:
        stmt = select(audit_entry).where(audit_entry.c.chain == chain)
        sent = linked_messages(chain)
        if object_id is not None:
            stmt = stmt.where(audit_entry.c.object_id == object_id)
            sent = sent.where(entry.c.id == object_id)
        if actor_id is not None:
            stmt = stmt.where(audit_entry.c.actor_id == actor_id)
            sent = sent.where(entry.c.author_id == actor_id)
        rows = [_entry(r) for r in await self._conn.execute(stmt.order_by(audit_entry.c.seq.desc()).limit(limit))]
        messages = [message_entry(chain, r) for r in
                    await self._conn.execute(sent.order_by(entry.c.audit_seq.desc()).limit(limit))]
        return merged(rows, messages, ascending=False)[:limit]

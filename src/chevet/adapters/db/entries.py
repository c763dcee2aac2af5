from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import Integer

from chevet.adapters.db.schema import entry, mention, search_reindex
from chevet.core import blind_index
from chevet.core.audit import AuditEntry
from chevet.core.entities import Entry
from chevet.core.message import EntryKind, MessageFlag

_COLS = [entry.c.id, entry.c.conversation_id, entry.c.seq, entry.c.kind, entry.c.author_id,
         entry.c.created_at, entry.c.body, entry.c.flags, entry.c.reply_to_seq, entry.c.target_seq,
         entry.c.subject_id, entry.c.edited_at]

# Built once (see conversations.py): the send path runs these for every message.
_GET = select(*_COLS).where(entry.c.id == bindparam("id"), entry.c.conversation_id == bindparam("cid"))
_INSERT = insert(entry)


def _entry(row: Any) -> Entry:
    m = row._mapping
    body = m["body"]
    return Entry(id=m["id"], conversation_id=m["conversation_id"], seq=m["seq"], kind=EntryKind(m["kind"]),
                 author_id=m["author_id"], created_at=m["created_at"],
                 body_sealed=bytes(body) if body is not None else None, flags=MessageFlag(m["flags"]),
                 reply_to_seq=m["reply_to_seq"], target_seq=m["target_seq"], subject_id=m["subject_id"],
                 edited_at=m["edited_at"])


class SqlEntries:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._pg = conn.dialect.name == "postgresql"

    async def add(self, e: Entry, terms: Sequence[int], mentions: Sequence[uuid.UUID]) -> None:
        await self.add_many([(e, terms, mentions)])

    async def add_many(self, items: Sequence[tuple[Entry, Sequence[int], Sequence[uuid.UUID]]],
                       audit: Sequence[AuditEntry] | None = None) -> None:
        links = [(a.seq, a.hash) for a in audit] if audit is not None else [(None, None)] * len(items)
        rows = [dict(id=e.id, conversation_id=e.conversation_id, seq=e.seq, kind=int(e.kind), author_id=e.author_id,
                     created_at=e.created_at, body=e.body_sealed, flags=int(e.flags), reply_to_seq=e.reply_to_seq,
                     target_seq=e.target_seq, subject_id=e.subject_id, edited_at=e.edited_at, terms=list(terms),
                     audit_seq=seq, audit_hash=hash_)
                for (e, terms, _), (seq, hash_) in zip(items, links, strict=True)]
        # One row is a plain execute; several go to the driver's executemany in one call.
        await self._conn.execute(_INSERT, rows[0] if len(rows) == 1 else rows)
        mentioned = [{"person_id": p, "conversation_id": e.conversation_id, "seq": e.seq}
                     for e, _, mentions in items for p in mentions]
        if mentioned:
            await self._conn.execute(insert(mention), mentioned)

    async def get(self, conversation_id: uuid.UUID, entry_id: uuid.UUID) -> Entry | None:
        row = (await self._conn.execute(_GET, {"id": entry_id, "cid": conversation_id})).first()
        return _entry(row) if row else None

    async def many(self, conversation_id: uuid.UUID, entry_ids: Sequence[uuid.UUID]) -> list[Entry]:
        if len(entry_ids) == 1:
            found = await self.get(conversation_id, entry_ids[0])
            return [found] if found else []
        rows = await self._conn.execute(select(*_COLS).where(
            entry.c.conversation_id == conversation_id, entry.c.id.in_(list(entry_ids))))
        return [_entry(r) for r in rows]

    async def at_seq(self, conversation_id: uuid.UUID, seq: int) -> Entry | None:
        row = (await self._conn.execute(select(*_COLS).where(
            entry.c.conversation_id == conversation_id, entry.c.seq == seq))).first()
        return _entry(row) if row else None

    async def after(self, conversation_id: uuid.UUID, after_seq: int, limit: int,
                    kinds: Sequence[int] | None = None) -> list[Entry]:
        stmt = select(*_COLS).where(entry.c.conversation_id == conversation_id, entry.c.seq > after_seq)
        if kinds is not None:
            stmt = stmt.where(entry.c.kind.in_(list(kinds)))
        rows = await self._conn.execute(stmt.order_by(entry.c.seq).limit(limit))
        return [_entry(r) for r in rows]

    async def before(self, conversation_id: uuid.UUID, before_seq: int, not_before_seq: int,
                     limit: int) -> list[Entry]:
        rows = await self._conn.execute(select(*_COLS).where(
            entry.c.conversation_id == conversation_id, entry.c.seq < before_seq,
            entry.c.seq >= not_before_seq).order_by(entry.c.seq.desc()).limit(limit))
        return [_entry(r) for r in reversed(list(rows))]

    async def update_body(self, conversation_id: uuid.UUID, seq: int, body_sealed: bytes | None,
                          flags: MessageFlag, terms: Sequence[int], edited_at: datetime | None) -> None:
        await self._conn.execute(update(entry).where(
            entry.c.conversation_id == conversation_id, entry.c.seq == seq).values(
            body=body_sealed, flags=int(flags), terms=list(terms), edited_at=edited_at))

    async def last_message(self, conversation_id: uuid.UUID, not_before_seq: int) -> Entry | None:
        row = (await self._conn.execute(select(*_COLS).where(
            entry.c.conversation_id == conversation_id, entry.c.seq >= not_before_seq,
            entry.c.kind == int(EntryKind.MESSAGE)).order_by(entry.c.seq.desc()).limit(1))).first()
        return _entry(row) if row else None

    async def erase_bodies_of(self, conversation_id: uuid.UUID, target_seq: int) -> None:
        await self._conn.execute(update(entry).where(
            entry.c.conversation_id == conversation_id, entry.c.target_seq == target_seq,
            entry.c.kind == int(EntryKind.EDIT)).values(body=None))

    def _contains_any(self, terms: list[int]) -> ColumnElement[bool]:
        if self._pg:
            # "&&" (overlap) is answered from the GIN index like "@>".
            return entry.c.terms.op("&&")(cast(postgresql.array(terms), postgresql.ARRAY(Integer)))
        # SQLite: terms are packed 4-byte values; instr() on blobs may match across a boundary,
        # and such rare false positives are removed by the caller after decryption.
        return or_(*(func.instr(entry.c.terms, literal(blind_index.pack([t]), LargeBinary)) > 0 for t in terms))

    async def search(self, wanted: dict[uuid.UUID, tuple[int, list[list[int]]]], limit: int,
                     offset: int = 0) -> list[Entry]:
        if not wanted:
            return []
        clauses = [and_(entry.c.conversation_id == conv, entry.c.seq >= visible_from,
                        *(self._contains_any(options) for options in alternatives))
                   for conv, (visible_from, alternatives) in wanted.items() if alternatives]
        if not clauses:
            return []
        rows = await self._conn.execute(select(*_COLS).where(
            or_(*clauses), entry.c.kind == int(EntryKind.MESSAGE),
            entry.c.flags.op("&")(int(MessageFlag.DELETED)) == 0,
        ).order_by(entry.c.created_at.desc(), entry.c.id).limit(limit).offset(offset))
        return [_entry(r) for r in rows]

    async def set_terms(self, conversation_id: uuid.UUID, terms: Sequence[tuple[int, Sequence[int]]]) -> None:
        if not terms:
            return
        await self._conn.execute(
            update(entry).where(entry.c.conversation_id == bindparam("cid"), entry.c.seq == bindparam("s"))
            .values(terms=bindparam("t")),
            [{"cid": conversation_id, "s": seq, "t": list(t)} for seq, t in terms])

    async def reindex_next(self) -> tuple[uuid.UUID, uuid.UUID, int, int] | None:
        """The next conversation waiting for new terms (organisation by organisation):
        (organisation, conversation, last re-indexed seq, last seq to re-index)."""
        row = (await self._conn.execute(select(
            search_reindex.c.org_id, search_reindex.c.conversation_id, search_reindex.c.done_seq,
            search_reindex.c.upto_seq).order_by(search_reindex.c.org_id, search_reindex.c.conversation_id)
            .limit(1))).first()
        return (row[0], row[1], row[2], row[3]) if row else None

    async def reindex_advance(self, conversation_id: uuid.UUID, done_seq: int) -> None:
        await self._conn.execute(update(search_reindex).where(
            search_reindex.c.conversation_id == conversation_id).values(done_seq=done_seq))

    async def reindex_finish(self, conversation_id: uuid.UUID) -> None:
        await self._conn.execute(delete(search_reindex).where(search_reindex.c.conversation_id == conversation_id))

    async def reindex_left(self, org_id: uuid.UUID | None = None) -> int:
        """Messages (at most; deleted ones included) still waiting, in one organisation or all."""
        stmt = select(func.coalesce(func.sum(search_reindex.c.upto_seq - search_reindex.c.done_seq), 0))
        if org_id is not None:
            stmt = stmt.where(search_reindex.c.org_id == org_id)
        return int((await self._conn.execute(stmt)).scalar_one())

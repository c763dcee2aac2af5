"""messages hold their own place in the audit chain: one row per message instead of two

Revision ID: 0014_message_in_audit_chain
Revises: 0008_compact_audit_entry, 0011_search_prefixes
Create Date: 2026-12-02

Every message sent wrote a second row, its ``message.sent`` audit entry (about 266 B on SQLite,
305 B on PostgreSQL with its indexes). Every field of that entry is the message's own (author,
id, conversation, place, urgent flag, time; no address), so the message row now holds the
entry's place in its organisation's chain and its hash (``entry.audit_seq``, ``audit_hash``).

Upgrade moves each existing ``message.sent`` entry into its message's row, but only when the
entry is exactly what the row gives back (same chain, author, time, detail, no address), so
every hash of every chain is unchanged and keeps verifying; any other entry stays a row.
Downgrade writes the rows back from the messages.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import UtcTimestamp, Uuid

revision = "0014_message_in_audit_chain"
down_revision = ("0008_compact_audit_entry", "0011_search_prefixes")
branch_labels = None
depends_on = None

_URGENT = 1  # core.message.MessageFlag.URGENT, as stored
_BATCH = 2000

_audit = sa.table("audit_entry", sa.column("chain", Uuid()), sa.column("seq", sa.Integer()),
                  sa.column("at", UtcTimestamp()), sa.column("action", sa.String()),
                  sa.column("actor_id", Uuid()), sa.column("object_type", sa.String()),
                  sa.column("object_id", Uuid()), sa.column("ip", sa.String()), sa.column("detail", sa.Text()),
                  sa.column("hash", sa.LargeBinary()), sa.column("conversation_id", Uuid()))
_entry = sa.table("entry", sa.column("id", Uuid()), sa.column("conversation_id", Uuid()),
                  sa.column("seq", sa.Integer()), sa.column("author_id", Uuid()), sa.column("flags", sa.SmallInteger()),
                  sa.column("created_at", UtcTimestamp()), sa.column("audit_seq", sa.Integer()),
                  sa.column("audit_hash", sa.LargeBinary()))
_conversation = sa.table("conversation", sa.column("id", Uuid()), sa.column("org_id", Uuid()))


def _detail(stored: str, conversation_id: Any) -> dict[str, Any]:
    detail: dict[str, Any] = orjson.loads(stored)
    if conversation_id is not None:
        detail["conversation"] = str(conversation_id)
    return detail


def upgrade() -> None:
    op.add_column("entry", sa.Column("audit_seq", sa.Integer(), nullable=True))
    op.add_column("entry", sa.Column("audit_hash", sa.LargeBinary(32), nullable=True))
    bind = op.get_bind()
    after: tuple[Any, int] | None = None
    query = (sa.select(_audit.c.chain, _audit.c.seq, _audit.c.at, _audit.c.actor_id, _audit.c.ip, _audit.c.detail,
                       _audit.c.hash, _audit.c.conversation_id, _entry.c.id, _entry.c.conversation_id.label("ec"),
                       _entry.c.seq.label("es"), _entry.c.author_id, _entry.c.flags, _entry.c.created_at,
                       _conversation.c.org_id)
             .select_from(_audit.join(_entry, _entry.c.id == _audit.c.object_id)
                          .join(_conversation, _conversation.c.id == _entry.c.conversation_id))
             .where(_audit.c.action == "message.sent", _audit.c.object_type == "message")
             .order_by(_audit.c.chain, _audit.c.seq).limit(_BATCH))
    while True:
        page = query if after is None else query.where(sa.or_(
            _audit.c.chain > after[0], sa.and_(_audit.c.chain == after[0], _audit.c.seq > after[1])))
        rows = bind.execute(page).all()
        if not rows:
            return
        moved = [r for r in rows if r.chain == r.org_id and r.actor_id == r.author_id and r.ip is None
                 and r.at == r.created_at and _detail(r.detail, r.conversation_id) == {
                     "conversation": str(r.ec), "seq": r.es, "urgent": bool(r.flags & _URGENT)}]
        if moved:
            bind.execute(sa.update(_entry).where(_entry.c.id == sa.bindparam("eid"))
                         .values(audit_seq=sa.bindparam("s"), audit_hash=sa.bindparam("h")),
                         [{"eid": r.id, "s": r.seq, "h": r.hash} for r in moved])
            bind.execute(sa.delete(_audit).where(_audit.c.chain == sa.bindparam("c"),
                                                 _audit.c.seq == sa.bindparam("q")),
                         [{"c": r.chain, "q": r.seq} for r in moved])
        after = (rows[-1].chain, rows[-1].seq)


def downgrade() -> None:
    bind = op.get_bind()
    query = (sa.select(_entry.c.id, _entry.c.conversation_id, _entry.c.seq, _entry.c.author_id, _entry.c.flags,
                       _entry.c.created_at, _entry.c.audit_seq, _entry.c.audit_hash, _conversation.c.org_id)
             .select_from(_entry.join(_conversation, _conversation.c.id == _entry.c.conversation_id))
             .where(_entry.c.audit_seq.is_not(None)).order_by(_entry.c.id).limit(_BATCH))
    last: Any = None
    while True:
        rows = bind.execute(query if last is None else query.where(_entry.c.id > last)).all()
        if not rows:
            break
        bind.execute(sa.insert(_audit), [
            {"chain": r.org_id, "seq": r.audit_seq, "at": r.created_at, "action": "message.sent",
             "actor_id": r.author_id, "object_type": "message", "object_id": r.id, "ip": None,
             "detail": orjson.dumps({"seq": r.seq, "urgent": bool(r.flags & _URGENT)},
                                    option=orjson.OPT_SORT_KEYS).decode(),
             "hash": bytes(r.audit_hash), "conversation_id": r.conversation_id} for r in rows])
        last = rows[-1].id
    op.drop_column("entry", "audit_hash")
    op.drop_column("entry", "audit_seq")

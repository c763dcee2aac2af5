"""compact audit entries: the conversation id as 16 bytes; on SQLite, no rowid

Revision ID: 0008_compact_audit_entry
Revises: 0001
Create Date: 2026-11-28

Every message sent writes an audit entry, so its size is half of what a message costs the
database. The conversation id leaves the JSON detail for a binary column (entries already
written keep it in the detail: both forms are read, and hashes are unchanged); on SQLite the
table becomes WITHOUT ROWID, clustered on its key (chain, seq), which drops the separate
key index.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import UtcTimestamp, Uuid

revision = "0008_compact_audit_entry"
down_revision = "0001"
branch_labels = None
depends_on = None

_COLUMNS = "chain, seq, at, action, actor_id, object_type, object_id, ip, detail, hash"


def _columns(with_conversation: bool) -> list[sa.Column[Any]]:
    cols: list[sa.Column[Any]] = [
        sa.Column("chain", Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", UtcTimestamp(), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("actor_id", Uuid(), nullable=True),
        sa.Column("object_type", sa.String(30), nullable=False),
        sa.Column("object_id", Uuid(), nullable=True),
        sa.Column("ip", sa.String(45), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    ]
    if with_conversation:
        cols.append(sa.Column("conversation_id", Uuid(), nullable=True))
    return cols


def _rebuild_sqlite(with_conversation: bool) -> None:
    op.create_table("audit_entry_new", *_columns(with_conversation),
                    sa.PrimaryKeyConstraint("chain", "seq", name="pk_audit_entry_new"),
                    sqlite_with_rowid=not with_conversation)
    op.execute(f"INSERT INTO audit_entry_new ({_COLUMNS}) SELECT {_COLUMNS} FROM audit_entry")  # noqa: S608
    op.drop_index("ix_audit_entry_object", table_name="audit_entry")
    op.drop_index("ix_audit_entry_actor", table_name="audit_entry")
    op.drop_table("audit_entry")
    op.rename_table("audit_entry_new", "audit_entry")
    op.create_index("ix_audit_entry_object", "audit_entry", ["chain", "object_id"])
    op.create_index("ix_audit_entry_actor", "audit_entry", ["chain", "actor_id"])


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(with_conversation=True)
    else:
        op.add_column("audit_entry", sa.Column("conversation_id", Uuid(), nullable=True))


def downgrade() -> None:
    # Put the conversation id back into the detail of the entries that hold it apart.
    bind = op.get_bind()
    table = sa.table("audit_entry", sa.column("chain", Uuid()), sa.column("seq", sa.Integer()),
                     sa.column("detail", sa.Text()), sa.column("conversation_id", Uuid()))
    rows = bind.execute(sa.select(table.c.chain, table.c.seq, table.c.detail, table.c.conversation_id)
                        .where(table.c.conversation_id.is_not(None))).all()
    for chain, seq, detail, conversation_id in rows:
        full = {**orjson.loads(detail), "conversation": str(conversation_id)}
        bind.execute(sa.update(table).where(table.c.chain == chain, table.c.seq == seq)
                     .values(detail=orjson.dumps(full, option=orjson.OPT_SORT_KEYS).decode()))
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite(with_conversation=False)
    else:
        op.drop_column("audit_entry", "conversation_id")

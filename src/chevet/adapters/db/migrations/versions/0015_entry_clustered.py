"""the conversation log keyed by its place: (conversation, seq) is the key, the message id unique

Revision ID: 0015_entry_clustered
Revises: 0014_message_in_audit_chain
Create Date: 2026-12-02

A message is found by its place far more often than by its id: history pages, the list's last
message, replies and reactions all read ``(conversation_id, seq)``. On SQLite a table keyed by a
UUID is a rowid table with two more indexes, one on the id and one on the place, each carrying
the rowid. Rebuilt ``WITHOUT ROWID`` and clustered on its place, the rows of a conversation sit
together in the table itself, and only the id keeps an index of its own: about 11 B less per
message at 100,000 messages (docs/performance.md). On PostgreSQL (a heap: where the key is does
not move rows) the two constraints swap names and roles, so that both databases have the same
key.

No other table refers to ``entry.id`` by a foreign key, so nothing else is rebuilt. Downgrade
makes the id the key again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import Terms, UtcTimestamp, Uuid

revision = "0015_entry_clustered"
down_revision = "0014_message_in_audit_chain"
branch_labels = None
depends_on = None

_COLUMNS = ("id, conversation_id, seq, kind, author_id, created_at, body, flags, reply_to_seq, target_seq, "
            "subject_id, edited_at, terms, audit_seq, audit_hash")


def _columns() -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("id", Uuid(length=16), nullable=False),
        sa.Column("conversation_id", Uuid(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("author_id", Uuid(length=16), nullable=True),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("flags", sa.SmallInteger(), nullable=False),
        sa.Column("reply_to_seq", sa.Integer(), nullable=True),
        sa.Column("target_seq", sa.Integer(), nullable=True),
        sa.Column("subject_id", Uuid(length=16), nullable=True),
        sa.Column("edited_at", UtcTimestamp(), nullable=True),
        sa.Column("terms", Terms(), nullable=True),
        sa.Column("audit_seq", sa.Integer(), nullable=True),
        sa.Column("audit_hash", sa.LargeBinary(32), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"],
                                name="fk_entry_conversation_id_conversation"),
    ]


def _rebuild_sqlite(clustered: bool) -> None:
    """Copy the log into a table of the other shape, in key order, then put it in its place."""
    if clustered:
        keys = [sa.PrimaryKeyConstraint("conversation_id", "seq", name="pk_entry"),
                sa.UniqueConstraint("id", name="uq_entry_id")]
    else:
        keys = [sa.PrimaryKeyConstraint("id", name="pk_entry"),
                sa.UniqueConstraint("conversation_id", "seq", name="uq_entry_conversation_id_seq")]
    op.create_table("entry_new", *_columns(), *keys, sqlite_with_rowid=not clustered)
    op.execute(f"INSERT INTO entry_new ({_COLUMNS}) SELECT {_COLUMNS} FROM entry ORDER BY conversation_id, seq")  # noqa: S608
    op.drop_table("entry")
    op.rename_table("entry_new", "entry")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(clustered=True)
        return
    op.drop_constraint("pk_entry", "entry", type_="primary")
    op.create_unique_constraint("uq_entry_id", "entry", ["id"])
    op.drop_constraint("uq_entry_conversation_id_seq", "entry", type_="unique")
    op.create_primary_key("pk_entry", "entry", ["conversation_id", "seq"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(clustered=False)
        return
    op.drop_constraint("pk_entry", "entry", type_="primary")
    op.create_unique_constraint("uq_entry_conversation_id_seq", "entry", ["conversation_id", "seq"])
    op.drop_constraint("uq_entry_id", "entry", type_="unique")
    op.create_primary_key("pk_entry", "entry", ["id"])

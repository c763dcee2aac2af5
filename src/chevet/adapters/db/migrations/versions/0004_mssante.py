"""MSSanté gateway and health directory

Revision ID: 0004_mssante
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import UtcTimestamp, Uuid

revision = "0004_mssante"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "directory_entry",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("mailbox_type", sa.String(3), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("search", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_directory_entry"),
    )
    op.create_index("ix_directory_entry_generation_address", "directory_entry", ["generation", "address"],
                    unique=True)
    if op.get_bind().dialect.name == "sqlite":
        # Word-prefix search: an FTS5 index over the folded words (external content, no copy).
        op.execute("CREATE VIRTUAL TABLE directory_fts USING fts5(search, content='directory_entry', "
                   "content_rowid='id', tokenize='ascii', prefix='2 3 4')")
    else:
        op.execute("CREATE INDEX ix_directory_entry_search ON directory_entry "
                   "USING gin (to_tsvector('simple', search))")
    op.create_table(
        "directory_state",
        sa.Column("name", sa.String(20), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("imported_at", UtcTimestamp(), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_directory_state"),
    )
    op.create_table(
        "mss_exchange",
        sa.Column("conversation_id", Uuid(), nullable=False),
        sa.Column("org_id", Uuid(), nullable=False),
        sa.Column("mailbox", sa.String(254), nullable=False),
        sa.Column("peers_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("peer_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"],
                                name="fk_mss_exchange_conversation_id_conversation"),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_mss_exchange_org_id_organisation"),
        sa.PrimaryKeyConstraint("conversation_id", name="pk_mss_exchange"),
    )
    op.create_index("ix_mss_exchange_peer", "mss_exchange", ["org_id", "mailbox", "peer_hash"])
    op.create_table(
        "mss_message",
        sa.Column("id", Uuid(), nullable=False),
        sa.Column("org_id", Uuid(), nullable=False),
        sa.Column("conversation_id", Uuid(), nullable=False),
        sa.Column("entry_id", Uuid(), nullable=True),
        sa.Column("direction", sa.SmallInteger(), nullable=False),
        sa.Column("mid_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("author_id", Uuid(), nullable=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcTimestamp(), nullable=True),
        sa.Column("lease_until", UtcTimestamp(), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("mime_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("meta_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.String(12), nullable=True),
        sa.Column("disposition", sa.String(12), nullable=True),
        sa.Column("disposition_at", UtcTimestamp(), nullable=True),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.Column("sent_at", UtcTimestamp(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_mss_message_org_id_organisation"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"],
                                name="fk_mss_message_conversation_id_conversation"),
        sa.PrimaryKeyConstraint("id", name="pk_mss_message"),
    )
    op.create_index("ix_mss_message_thread", "mss_message", ["org_id", "mid_hash"])
    op.create_index("ix_mss_message_due", "mss_message", ["state", "next_attempt_at"])
    op.create_index("ix_mss_message_conversation", "mss_message", ["conversation_id", "created_at"])
    op.create_table(
        "mss_attachment",
        sa.Column("id", Uuid(), nullable=False),
        sa.Column("org_id", Uuid(), nullable=False),
        sa.Column("conversation_id", Uuid(), nullable=False),
        sa.Column("message_id", Uuid(), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("data_sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_mss_attachment_org_id_organisation"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"],
                                name="fk_mss_attachment_conversation_id_conversation"),
        sa.ForeignKeyConstraint(["message_id"], ["mss_message.id"], name="fk_mss_attachment_message_id_mss_message"),
        sa.PrimaryKeyConstraint("id", name="pk_mss_attachment"),
    )
    op.create_index("ix_mss_attachment_message_id", "mss_attachment", ["message_id"])
    op.create_table(
        "mss_inbound",
        sa.Column("id", Uuid(), nullable=False),
        sa.Column("org_id", Uuid(), nullable=False),
        sa.Column("mailbox", sa.String(254), nullable=False),
        sa.Column("mid_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("received_at", UtcTimestamp(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("raw_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("resolved_at", UtcTimestamp(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_mss_inbound_org_id_organisation"),
        sa.PrimaryKeyConstraint("id", name="pk_mss_inbound"),
    )
    op.create_index("ix_mss_inbound_mid", "mss_inbound", ["org_id", "mailbox", "mid_hash"])
    op.create_index("ix_mss_inbound_state", "mss_inbound", ["org_id", "state"])
    op.create_table(
        "mss_cursor",
        sa.Column("mailbox", sa.String(254), nullable=False),
        sa.Column("uid_validity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("mailbox", name="pk_mss_cursor"),
    )


def downgrade() -> None:
    for name in ("mss_cursor", "mss_inbound", "mss_attachment", "mss_message", "mss_exchange", "directory_state"):
        op.drop_table(name)
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE directory_fts")
    op.drop_table("directory_entry")

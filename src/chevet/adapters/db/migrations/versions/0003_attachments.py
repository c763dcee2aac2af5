"""attachments: stored files, attachments and per-organisation rules

Revision ID: 0003_attachments
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import chevet.adapters.db.types

revision = "0003_attachments"
down_revision = "0001"
branch_labels = None
depends_on = None

Uuid = chevet.adapters.db.types.Uuid
UtcTimestamp = chevet.adapters.db.types.UtcTimestamp


def upgrade() -> None:
    op.create_table(
        "attachment_blob",
        sa.Column("conversation_id", Uuid(length=16), nullable=False),
        sa.Column("address", sa.LargeBinary(length=32), nullable=False),
        sa.Column("org_id", Uuid(length=16), nullable=False),
        sa.Column("owner_id", Uuid(length=16), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("variant", sa.String(length=10), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"],
                                name=op.f("fk_attachment_blob_conversation_id_conversation")),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"],
                                name=op.f("fk_attachment_blob_org_id_organisation")),
        sa.PrimaryKeyConstraint("conversation_id", "address", name=op.f("pk_attachment_blob")),
    )
    op.create_index("ix_attachment_blob_org_owner", "attachment_blob", ["org_id", "owner_id"])
    op.create_table(
        "attachment",
        sa.Column("id", Uuid(length=16), nullable=False),
        sa.Column("org_id", Uuid(length=16), nullable=False),
        sa.Column("conversation_id", Uuid(length=16), nullable=False),
        sa.Column("uploader_id", Uuid(length=16), nullable=False),
        sa.Column("entry_id", Uuid(length=16), nullable=True),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("mime", sa.String(length=40), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_size", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("content_address", sa.LargeBinary(length=32), nullable=False),
        sa.Column("thumbnail_address", sa.LargeBinary(length=32), nullable=True),
        sa.Column("original_address", sa.LargeBinary(length=32), nullable=True),
        sa.Column("dedup_tag", sa.LargeBinary(length=32), nullable=False),
        sa.Column("deduplicated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"],
                                name=op.f("fk_attachment_conversation_id_conversation")),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_attachment_org_id_organisation")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
    )
    op.create_index("ix_attachment_conversation_entry", "attachment", ["conversation_id", "entry_id"])
    op.create_index("ix_attachment_conversation_dedup", "attachment", ["conversation_id", "dedup_tag"])
    op.create_index("ix_attachment_org_created", "attachment", ["org_id", "created_at"])
    op.create_table(
        "attachment_rules",
        sa.Column("org_id", Uuid(length=16), nullable=False),
        sa.Column("org_quota_bytes", sa.BigInteger(), nullable=True),
        sa.Column("person_quota_bytes", sa.BigInteger(), nullable=True),
        sa.Column("keep_originals_for", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"],
                                name=op.f("fk_attachment_rules_org_id_organisation")),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_attachment_rules")),
    )


def downgrade() -> None:
    op.drop_table("attachment_rules")
    op.drop_index("ix_attachment_org_created", table_name="attachment")
    op.drop_index("ix_attachment_conversation_dedup", table_name="attachment")
    op.drop_index("ix_attachment_conversation_entry", table_name="attachment")
    op.drop_table("attachment")
    op.drop_index("ix_attachment_blob_org_owner", table_name="attachment_blob")
    op.drop_table("attachment_blob")

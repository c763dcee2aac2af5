"""attachments: resumable uploads and their sealed pieces

Revision ID: 0011_attachment_upload
Revises: 0003_attachments
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import UtcTimestamp, Uuid

revision = "0011_attachment_upload"
down_revision = "0003_attachments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachment_upload",
        sa.Column("id", Uuid(), nullable=False),
        sa.Column("org_id", Uuid(), nullable=False),
        sa.Column("conversation_id", Uuid(), nullable=False),
        sa.Column("person_id", Uuid(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.Column("updated_at", UtcTimestamp(), nullable=False),
        sa.Column("attachment_id", Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_attachment_upload_org_id_organisation")),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"],
                                name=op.f("fk_attachment_upload_conversation_id_conversation")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment_upload")),
    )
    op.create_index("ix_attachment_upload_org_person", "attachment_upload", ["org_id", "person_id"])
    op.create_index("ix_attachment_upload_updated", "attachment_upload", ["updated_at"])
    op.create_table(
        "attachment_upload_piece",
        sa.Column("upload_id", Uuid(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["upload_id"], ["attachment_upload.id"], ondelete="CASCADE",
                                name=op.f("fk_attachment_upload_piece_upload_id_attachment_upload")),
        sa.PrimaryKeyConstraint("upload_id", "offset", name=op.f("pk_attachment_upload_piece")),
    )


def downgrade() -> None:
    op.drop_table("attachment_upload_piece")
    op.drop_index("ix_attachment_upload_updated", "attachment_upload")
    op.drop_index("ix_attachment_upload_org_person", "attachment_upload")
    op.drop_table("attachment_upload")

"""mss documents: received MSSanté documents become attachments (no uploader, an origin);
received messages remember what was decided about their receipt request

Revision ID: 0008_mss_documents
Revises: 0003_attachments, 0004_mssante
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import Uuid

revision = "0008_mss_documents"
# It changes tables of both: it comes after both (and merges their two branches).
down_revision = ("0003_attachments", "0004_mssante")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.alter_column("uploader_id", existing_type=Uuid(length=16), nullable=True)
        batch_op.add_column(sa.Column("origin", sa.String(length=10), nullable=False, server_default="member"))
    with op.batch_alter_table("attachment_blob", schema=None) as batch_op:
        batch_op.alter_column("owner_id", existing_type=Uuid(length=16), nullable=True)
    with op.batch_alter_table("mss_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receipt", sa.String(length=12), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mss_message", schema=None) as batch_op:
        batch_op.drop_column("receipt")
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_column("origin")

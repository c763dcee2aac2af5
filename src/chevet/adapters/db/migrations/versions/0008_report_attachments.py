"""signalement: files filed with a report (photos, documents), sealed with the report's key

Revision ID: 0008_report_attachments
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import Uuid

revision = "0008_report_attachments"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_attachment",
        sa.Column("id", Uuid(), nullable=False),
        # No foreign key to ``report``: migrations of features run in no fixed order; the
        # report's purge deletes its files explicitly.
        sa.Column("report_id", Uuid(), nullable=False),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("mime", sa.String(40), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("stored_size", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("content_address", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_attachment"),
    )
    op.create_index("ix_report_attachment_report_id", "report_attachment", ["report_id"])


def downgrade() -> None:
    op.drop_index("ix_report_attachment_report_id", "report_attachment")
    op.drop_table("report_attachment")

"""Error receipts for mail that could not be integrated and belongs to no exchange yet: their
own small outbox, each sealed with its own data key under the organisation's key, like the
quarantine (the receipt carries the original mail)

Revision ID: 0022_mss_receipt_outbox
Revises: 0021_mss_psc_link
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import UtcTimestamp, Uuid

revision = "0022_mss_receipt_outbox"
down_revision = "0021_mss_psc_link"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mss_receipt_outbox",
        sa.Column("id", Uuid(), primary_key=True),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("mailbox", sa.String(254), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcTimestamp(), nullable=False),
        sa.Column("lease_until", UtcTimestamp(), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("mime_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("meta_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
    )
    op.create_index("ix_mss_receipt_outbox_due", "mss_receipt_outbox", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_mss_receipt_outbox_due", table_name="mss_receipt_outbox")
    op.drop_table("mss_receipt_outbox")

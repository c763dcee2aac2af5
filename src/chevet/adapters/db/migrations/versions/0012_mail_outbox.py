"""mail: the durable outbox of the installation's transactional mail (invitations)

Revision ID: 0012_mail_outbox
Revises: 0006_identity
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import UtcTimestamp, Uuid

revision = "0012_mail_outbox"
down_revision = "0006_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_outbox",
        sa.Column("id", Uuid(), primary_key=True),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subject_id", Uuid(), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("message_sealed", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UtcTimestamp(), nullable=False),
        sa.Column("lease_until", UtcTimestamp(), nullable=True),
        sa.Column("last_error", sa.String(60), nullable=True),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.Column("sent_at", UtcTimestamp(), nullable=True),
    )
    op.create_index("ix_mail_outbox_due", "mail_outbox", ["state", "next_attempt_at"])
    op.create_index("ix_mail_outbox_subject", "mail_outbox", ["org_id", "subject_id"])


def downgrade() -> None:
    op.drop_table("mail_outbox")

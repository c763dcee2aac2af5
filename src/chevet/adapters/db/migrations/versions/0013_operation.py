"""operation: the console's background exports, imports and backups

Revision ID: 0013_operation
Revises: 0006_identity
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import UtcTimestamp, Uuid

revision = "0013_operation"
down_revision = "0006_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operation",
        sa.Column("id", Uuid(), primary_key=True),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("requested_by", Uuid(), nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_until", UtcTimestamp(), nullable=True),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.Column("started_at", UtcTimestamp(), nullable=True),
        sa.Column("finished_at", UtcTimestamp(), nullable=True),
        sa.Column("expires_at", UtcTimestamp(), nullable=True),
        sa.Column("result_name", sa.String(80), nullable=True),
        sa.Column("result_bytes", sa.BigInteger, nullable=True),
        sa.Column("input_bytes", sa.BigInteger, nullable=True),
        sa.Column("error", sa.String(60), nullable=True),
        sa.Column("secret_sealed", sa.LargeBinary, nullable=True),
    )
    op.create_index("ix_operation_org", "operation", ["org_id", "created_at"])
    op.create_index("ix_operation_due", "operation", ["state", "lease_until"])


def downgrade() -> None:
    op.drop_table("operation")

"""identity: failed sign-ins per account and source in the database, shared by every process

Revision ID: 0012_sign_in_failure
Revises: 0006_identity
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import Uuid

revision = "0012_sign_in_failure"
down_revision = "0006_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failure",
        sa.Column("person_id", Uuid(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("source_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("since", sa.Double(), nullable=False),
        sa.Column("locked_until", sa.Double(), nullable=True),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", "source_hash"),
    )
    op.create_index("ix_sign_in_failure_expires_at", "sign_in_failure", ["expires_at"])


def downgrade() -> None:
    op.drop_table("sign_in_failure")

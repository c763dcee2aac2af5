"""each organisation's key-encryption keys (file or PKCS#11 token), one row per version

Revision ID: 0020_organisation_key
Revises: 0019_shared_device
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import UtcTimestamp, Uuid

revision = "0020_organisation_key"
down_revision = "0019_shared_device"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisation_key",
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.Column("destroyed_at", UtcTimestamp(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("organisation_key")

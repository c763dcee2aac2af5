"""shared devices of a care unit: registration, per-person periods and PINs

Revision ID: 0019_shared_device
Revises: 0018_handover
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import UtcTimestamp, Uuid

revision = "0019_shared_device"
down_revision = "0018_handover"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shared_device",
        sa.Column("id", Uuid(), primary_key=True),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.Column("created_by", Uuid(), nullable=True),
        sa.Column("last_used_at", UtcTimestamp(), nullable=True),
        sa.Column("revoked_at", UtcTimestamp(), nullable=True),
        sa.Column("active_session_id", Uuid(), nullable=True),
    )
    op.create_index("ix_shared_device_org_id", "shared_device", ["org_id"])
    op.create_table(
        "shared_device_policy",
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), primary_key=True),
        sa.Column("period_hours", sa.Integer(), nullable=False),
        sa.Column("idle_minutes", sa.Integer(), nullable=False),
    )
    op.create_table(
        "shared_device_period",
        sa.Column("id", Uuid(), primary_key=True),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("device_id", Uuid(), sa.ForeignKey("shared_device.id"), nullable=False),
        sa.Column("person_id", Uuid(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("opened_at", UtcTimestamp(), nullable=False),
        sa.Column("ends_at", UtcTimestamp(), nullable=False),
        sa.Column("closed_at", UtcTimestamp(), nullable=True),
        sa.Column("pin_hash", sa.String(200), nullable=True),
        sa.Column("pin_failures", sa.Integer(), nullable=False),
    )
    op.create_index("ix_shared_device_period_device", "shared_device_period", ["device_id", "closed_at"])
    op.create_table(
        "shared_device_session",
        sa.Column("session_id", Uuid(), primary_key=True),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("device_id", Uuid(), sa.ForeignKey("shared_device.id"), nullable=False),
        sa.Column("period_id", Uuid(), sa.ForeignKey("shared_device_period.id"), nullable=False),
        sa.Column("person_id", Uuid(), sa.ForeignKey("person.id"), nullable=False),
    )
    op.create_index("ix_shared_device_session_device_id", "shared_device_session", ["device_id"])


def downgrade() -> None:
    op.drop_table("shared_device_session")
    op.drop_table("shared_device_period")
    op.drop_table("shared_device_policy")
    op.drop_table("shared_device")

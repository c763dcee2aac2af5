"""urgent alerts that must be acknowledged, their escalation ladder and timeline

Revision ID: 0017_care_alert
Revises: 0016_duty_roster
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import UtcTimestamp, Uuid

revision = "0017_care_alert"
down_revision = "0016_duty_roster"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "care_alert",
        sa.Column("id", Uuid(), primary_key=True),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("conversation_id", Uuid(), nullable=False),
        sa.Column("message_id", Uuid(), nullable=False),
        sa.Column("message_seq", sa.Integer, nullable=False),
        sa.Column("team_id", Uuid(), nullable=True),
        sa.Column("raised_by", Uuid(), nullable=False),
        sa.Column("raised_at", UtcTimestamp(), nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("due_at", UtcTimestamp(), nullable=True),
        sa.Column("targeted", sa.Text, nullable=False),
        sa.Column("current", sa.Text, nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("acknowledged_by", Uuid(), nullable=True),
        sa.Column("acknowledged_at", UtcTimestamp(), nullable=True),
        sa.Column("ack", sa.String(10), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_care_alert_due", "care_alert", ["state", "due_at"])
    op.create_index("ix_care_alert_conversation", "care_alert", ["conversation_id", "raised_at"])
    op.create_index("ix_care_alert_org", "care_alert", ["org_id", "state"])
    op.create_table(
        "care_alert_event",
        sa.Column("id", Uuid(), primary_key=True),
        sa.Column("alert_id", Uuid(), sa.ForeignKey("care_alert.id"), nullable=False),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("at", UtcTimestamp(), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("people", sa.Text, nullable=False),
        sa.Column("actor_id", Uuid(), nullable=True),
        sa.Column("ack", sa.String(10), nullable=True),
        sa.Column("pushed_at", UtcTimestamp(), nullable=True),
    )
    op.create_index("ix_care_alert_event_alert", "care_alert_event", ["alert_id", "at"])
    op.create_table(
        "care_alert_ladder",
        sa.Column("scope_id", Uuid(), primary_key=True),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("day_delay_s", sa.Integer, nullable=False),
        sa.Column("night_delay_s", sa.Integer, nullable=False),
        sa.Column("night_starts", sa.Integer, nullable=False),
        sa.Column("night_ends", sa.Integer, nullable=False),
        sa.Column("steps", sa.String(500), nullable=False),
        sa.Column("updated_at", UtcTimestamp(), nullable=False),
        sa.Column("updated_by", Uuid(), nullable=True),
    )
    op.create_index("ix_care_alert_ladder_org", "care_alert_ladder", ["org_id"])


def downgrade() -> None:
    op.drop_table("care_alert_ladder")
    op.drop_table("care_alert_event")
    op.drop_table("care_alert")

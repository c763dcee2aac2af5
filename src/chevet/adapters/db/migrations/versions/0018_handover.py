"""handover notes from one shift to the next (DAR), their templates and confirmations

Revision ID: 0018_handover
Revises: 0017_care_alert
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import Terms, UtcTimestamp, Uuid

revision = "0018_handover"
down_revision = "0017_care_alert"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handover",
        sa.Column("id", Uuid(), primary_key=True),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("conversation_id", Uuid(), sa.ForeignKey("conversation.id"), nullable=False),
        sa.Column("team_id", Uuid(), nullable=True),
        sa.Column("author_id", Uuid(), nullable=False),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.Column("shift_name", sa.String(40), nullable=False),
        sa.Column("shift_starts_at", UtcTimestamp(), nullable=False),
        sa.Column("shift_ends_at", UtcTimestamp(), nullable=False),
        sa.Column("content_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("terms", Terms(), nullable=True),
        sa.Column("confirmed_by", Uuid(), nullable=True),
        sa.Column("confirmed_at", UtcTimestamp(), nullable=True),
        sa.Column("flagged_at", UtcTimestamp(), nullable=True),
    )
    op.create_index("ix_handover_conversation", "handover", ["conversation_id", "created_at"])
    op.create_index("ix_handover_open", "handover", ["org_id", "confirmed_at", "shift_starts_at"])
    op.create_index("ix_handover_due", "handover", ["confirmed_at", "flagged_at", "shift_starts_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_handover_terms", "handover", ["terms"], postgresql_using="gin")
    op.create_table(
        "handover_template",
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("team_id", Uuid(), sa.ForeignKey("team.id"), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("target", sa.String(80), nullable=False),
        sa.Column("prompt_data", sa.String(200), nullable=False),
        sa.Column("prompt_actions", sa.String(200), nullable=False),
        sa.Column("prompt_results", sa.String(200), nullable=False),
        sa.Column("updated_at", UtcTimestamp(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("handover_template")
    op.drop_table("handover")

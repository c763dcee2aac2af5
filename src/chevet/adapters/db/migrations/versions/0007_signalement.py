"""signalement: internal reports, qualification, regulatory forms, follow-up

Revision ID: 0007_signalement
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import UtcTimestamp, Uuid

revision = "0007_signalement"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report",
        sa.Column("id", Uuid(), primary_key=True),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("mode", sa.String(12), nullable=False),
        sa.Column("reporter_id", Uuid(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("team_id", Uuid(), nullable=True),
        sa.Column("received_at", UtcTimestamp(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("severity", sa.String(12), nullable=True),
        sa.Column("categories", sa.String(200), nullable=True),
        sa.Column("eigs", sa.String(60), nullable=True),
        sa.Column("security", sa.String(80), nullable=True),
        sa.Column("gdpr", sa.Boolean(), nullable=False),
        sa.Column("awareness_at", UtcTimestamp(), nullable=True),
        sa.Column("qualified_at", UtcTimestamp(), nullable=True),
        sa.Column("qualified_by", Uuid(), nullable=True),
        sa.Column("note", sa.LargeBinary(), nullable=True),
        sa.Column("analysis", sa.LargeBinary(), nullable=True),
        sa.Column("feedback", sa.LargeBinary(), nullable=True),
        sa.Column("feedback_at", UtcTimestamp(), nullable=True),
        sa.Column("closed_at", UtcTimestamp(), nullable=True),
        sa.Column("conversation_id", Uuid(), nullable=True),
        sa.Column("followup_hash", sa.LargeBinary(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_report"),
        sa.UniqueConstraint("followup_hash", name="uq_report_followup_hash"),
    )
    op.create_index("ix_report_org_received", "report", ["org_id", "received_at"])
    op.create_table(
        "report_key",
        sa.Column("report_id", Uuid(), sa.ForeignKey("report.id", ondelete="CASCADE"), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("report_id", name="pk_report_key"),
    )
    op.create_table(
        "report_reader",
        sa.Column("report_id", Uuid(), sa.ForeignKey("report.id", ondelete="CASCADE"), nullable=False),
        sa.Column("person_id", Uuid(), sa.ForeignKey("person.id"), nullable=False),
        sa.PrimaryKeyConstraint("report_id", "person_id", name="pk_report_reader"),
    )
    op.create_table(
        "report_form",
        sa.Column("report_id", Uuid(), sa.ForeignKey("report.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("updated_at", UtcTimestamp(), nullable=False),
        sa.Column("validated_by", Uuid(), nullable=True),
        sa.Column("validated_at", UtcTimestamp(), nullable=True),
        sa.PrimaryKeyConstraint("report_id", "kind", name="pk_report_form"),
    )
    op.create_table(
        "report_submission",
        sa.Column("id", Uuid(), nullable=False),
        sa.Column("report_id", Uuid(), sa.ForeignKey("report.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("at", UtcTimestamp(), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("recorded_by", Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_submission"),
    )
    op.create_index("ix_report_submission_report_id", "report_submission", ["report_id"])
    op.create_table(
        "report_action",
        sa.Column("id", Uuid(), nullable=False),
        sa.Column("report_id", Uuid(), sa.ForeignKey("report.id", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.LargeBinary(), nullable=False),
        sa.Column("owner_id", Uuid(), nullable=True),
        sa.Column("due_at", UtcTimestamp(), nullable=True),
        sa.Column("done_at", UtcTimestamp(), nullable=True),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_action"),
    )
    op.create_index("ix_report_action_report_id", "report_action", ["report_id"])
    op.create_table(
        "report_designation",
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("person_id", Uuid(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("function", sa.String(14), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "person_id", "function", name="pk_report_designation"),
    )
    op.create_table(
        "report_reminder",
        sa.Column("report_id", Uuid(), sa.ForeignKey("report.id", ondelete="CASCADE"), nullable=False),
        sa.Column("deadline", sa.String(14), nullable=False),
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("sent_at", UtcTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("report_id", "deadline", name="pk_report_reminder"),
    )


def downgrade() -> None:
    for name in ("report_reminder", "report_designation", "report_action", "report_submission",
                 "report_form", "report_reader", "report_key"):
        op.drop_table(name)
    op.drop_index("ix_report_org_received", "report")
    op.drop_table("report")

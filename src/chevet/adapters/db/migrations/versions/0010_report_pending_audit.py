"""signalement: the audit entries of anonymous filings, waiting for the periodic job that
appends them to the organisation's chain

Revision ID: 0010_report_pending_audit
Revises: 0009_report_retention
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import Uuid

revision = "0010_report_pending_audit"
down_revision = "0009_report_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_pending_audit",
        sa.Column("report_id", Uuid(), nullable=False),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("report_id", name="pk_report_pending_audit"),
    )


def downgrade() -> None:
    op.drop_table("report_pending_audit")

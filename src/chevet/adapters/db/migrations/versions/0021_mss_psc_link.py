"""MSSanté mailboxes (PER, ORG) linked to a professional's Pro Santé Connect login

Revision ID: 0021_mss_psc_link
Revises: 0020_organisation_key
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import UtcTimestamp, Uuid

revision = "0021_mss_psc_link"
down_revision = "0020_organisation_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mss_psc_link",
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), primary_key=True),
        sa.Column("mailbox", sa.String(254), primary_key=True),
        sa.Column("person_id", Uuid(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("kind", sa.String(3), nullable=False),
        sa.Column("refresh_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("refresh_expires_at", UtcTimestamp(), nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("linked_at", UtcTimestamp(), nullable=False),
        sa.Column("refreshed_at", UtcTimestamp(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mss_psc_link")

"""directory sync: the people an LDAP directory manages, and its sync runs

Revision ID: 0013_directory_sync
Revises: 0006_identity
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import UtcTimestamp, Uuid

revision = "0013_directory_sync"
down_revision = "0006_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "directory_account",
        sa.Column("person_id", Uuid(), sa.ForeignKey("person.id"), primary_key=True),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("dn", sa.String(1024), nullable=False),
    )
    op.create_index("ix_directory_account_org_id", "directory_account", ["org_id"])
    op.create_table(
        "directory_sync_run",
        sa.Column("id", Uuid(), primary_key=True),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("at", UtcTimestamp(), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("deactivated", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_directory_sync_run_org_id", "directory_sync_run", ["org_id"])
    op.create_table(
        "directory_sync_lease",
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("until", UtcTimestamp(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("directory_sync_lease")
    op.drop_table("directory_sync_run")
    op.drop_table("directory_account")

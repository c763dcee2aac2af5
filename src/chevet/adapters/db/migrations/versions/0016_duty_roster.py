"""duty rosters: shifts of a team, who is on duty or on call, role addresses

Revision ID: 0016_duty_roster
Revises: 0015_entry_clustered
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import UtcTimestamp, Uuid

revision = "0016_duty_roster"
down_revision = "0015_entry_clustered"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roster_shift",
        sa.Column("id", Uuid(), primary_key=True),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("team_id", Uuid(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("starts_min", sa.Integer, nullable=False),
        sa.Column("ends_min", sa.Integer, nullable=False),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
    )
    op.create_index("ix_roster_shift_team", "roster_shift", ["org_id", "team_id"])
    op.create_table(
        "roster_role",
        sa.Column("id", Uuid(), primary_key=True),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("slug", sa.String(40), nullable=False),
        sa.Column("label", sa.String(80), nullable=False),
        sa.Column("team_id", Uuid(), sa.ForeignKey("team.id"), nullable=True),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.UniqueConstraint("org_id", "slug", name="uq_roster_role_slug"),
    )
    op.create_table(
        "roster_assignment",
        sa.Column("id", Uuid(), primary_key=True),
        sa.Column("org_id", Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("team_id", Uuid(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("person_id", Uuid(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("starts_at", UtcTimestamp(), nullable=False),
        sa.Column("ends_at", UtcTimestamp(), nullable=False),
        sa.Column("shift_id", Uuid(), nullable=True),
        sa.Column("role_id", Uuid(), nullable=True),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.Column("created_by", Uuid(), nullable=True),
    )
    op.create_index("ix_roster_assignment_team", "roster_assignment", ["org_id", "team_id", "ends_at"])
    op.create_index("ix_roster_assignment_role", "roster_assignment", ["org_id", "role_id", "ends_at"])


def downgrade() -> None:
    op.drop_table("roster_assignment")
    op.drop_table("roster_role")
    op.drop_table("roster_shift")

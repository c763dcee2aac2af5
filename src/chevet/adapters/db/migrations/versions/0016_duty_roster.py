"""duty rosters: shifts of a team, who is on duty or on call, role addresses

Revision ID: 0016_duty_roster
Revises: 0015_entry_clustered
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0016_duty_roster"
down_revision = "0015_entry_clustered"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""urgent alerts that must be acknowledged, their escalation ladder and timeline

Revision ID: 0017_care_alert
Revises: 0016_duty_roster
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0017_care_alert"
down_revision = "0016_duty_roster"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

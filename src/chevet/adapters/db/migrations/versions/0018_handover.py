"""handover notes from one shift to the next (DAR), their templates and confirmations

Revision ID: 0018_handover
Revises: 0017_care_alert
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0018_handover"
down_revision = "0017_care_alert"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""shared devices of a care unit: registration, per-person periods and PINs

Revision ID: 0019_shared_device
Revises: 0018_handover
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0019_shared_device"
down_revision = "0018_handover"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

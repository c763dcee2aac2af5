"""governance: the breach log keeps the approximate number of records concerned (GDPR Art.
33(3)(a)) and the reasons for a notification made after 72 hours (Art. 33(1))

Revision ID: 0013_breach_details
Revises: 0005_governance
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_breach_details"
down_revision = "0005_governance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("breach") as batch:
        batch.add_column(sa.Column("records_affected", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("late_reason", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("breach") as batch:
        batch.drop_column("late_reason")
        batch.drop_column("records_affected")

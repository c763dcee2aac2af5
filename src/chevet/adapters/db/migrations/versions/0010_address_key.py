"""identity: a per-person key sealing sign-in addresses in the audit trail (destroyed on
anonymisation)

Revision ID: 0010_address_key
Revises: 0006_identity
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_address_key"
down_revision = "0006_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("person", sa.Column("address_key", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+, PostgreSQL): a batch copy of "person" would drop the
    # table that sessions, memberships and audit entries point to.
    op.execute("ALTER TABLE person DROP COLUMN address_key")

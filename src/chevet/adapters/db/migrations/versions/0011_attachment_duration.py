"""attachments: the duration of a voice message, measured from its Opus packets at upload, so
that a conversation shows "Voice message, 0:42" without opening the sealed file

Revision ID: 0011_attachment_duration
Revises: 0010_mss_inbound_once
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_attachment_duration"
down_revision = "0010_mss_inbound_once"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attachment", sa.Column("duration_ms", sa.Integer(), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+, PostgreSQL), as for the other added columns.
    op.execute("ALTER TABLE attachment DROP COLUMN duration_ms")

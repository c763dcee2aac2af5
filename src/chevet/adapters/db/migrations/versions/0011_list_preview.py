"""web: an organisation may hide the message preview of the conversation list (shared screens)

Revision ID: 0011_list_preview
Revises: 0002_web
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_list_preview"
down_revision = "0002_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("org_web_setting", sa.Column("list_preview", sa.Boolean(), nullable=False,
                                               server_default=sa.true()))


def downgrade() -> None:
    op.execute("ALTER TABLE org_web_setting DROP COLUMN list_preview")

"""search: word beginnings in the blind index; every existing conversation is queued for the
background job that gives its older messages their prefix terms

Revision ID: 0011_search_prefixes
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import chevet.adapters.db.types

revision = "0011_search_prefixes"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_reindex",
        sa.Column("conversation_id", chevet.adapters.db.types.Uuid(), nullable=False),
        sa.Column("org_id", chevet.adapters.db.types.Uuid(), nullable=False),
        sa.Column("done_seq", sa.Integer(), nullable=False),
        sa.Column("upto_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    # One row per conversation, read from the conversation table alone: quick even on a large
    # installation; the messages themselves are re-indexed later, in small transactions.
    op.execute("INSERT INTO search_reindex (conversation_id, org_id, done_seq, upto_seq) "
               "SELECT id, org_id, 0, last_seq FROM conversation WHERE last_seq > 0")


def downgrade() -> None:
    op.drop_table("search_reindex")

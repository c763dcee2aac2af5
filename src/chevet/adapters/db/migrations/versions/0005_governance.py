"""governance: audit checkpoints and anchors, retention, breach log

Revision ID: 0005_governance
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import UtcTimestamp, Uuid

revision = "0005_governance"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint",
        sa.Column("chain", Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("at", UtcTimestamp(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain", "seq", name=op.f("pk_audit_checkpoint")),
    )
    op.create_table(
        "audit_anchor",
        sa.Column("chain", Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("pruned_at", UtcTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_audit_anchor")),
    )
    op.create_table(
        "retention_policy",
        sa.Column("org_id", Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("min_days", sa.Integer(), nullable=False),
        sa.Column("max_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcTimestamp(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"],
                                name=op.f("fk_retention_policy_org_id_organisation")),
        sa.PrimaryKeyConstraint("org_id", "kind", name=op.f("pk_retention_policy")),
    )
    op.create_table(
        "conversation_retention",
        sa.Column("conversation_id", Uuid(), nullable=False),
        sa.Column("org_id", Uuid(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("closed_at", UtcTimestamp(), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"],
                                name=op.f("fk_conversation_retention_conversation_id_conversation")),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"],
                                name=op.f("fk_conversation_retention_org_id_organisation")),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_conversation_retention")),
    )
    op.create_index(op.f("ix_conversation_retention_org_id"), "conversation_retention", ["org_id"])
    op.create_table(
        "breach",
        sa.Column("id", Uuid(), nullable=False),
        sa.Column("org_id", Uuid(), nullable=False),
        sa.Column("discovered_at", UtcTimestamp(), nullable=False),
        sa.Column("recorded_at", UtcTimestamp(), nullable=False),
        sa.Column("recorded_by", Uuid(), nullable=True),
        sa.Column("nature", sa.Text(), nullable=False),
        sa.Column("data_categories", sa.Text(), nullable=False),
        sa.Column("people_affected", sa.Integer(), nullable=True),
        sa.Column("consequences", sa.Text(), nullable=False),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("authority_notified_at", UtcTimestamp(), nullable=True),
        sa.Column("people_notified_at", UtcTimestamp(), nullable=True),
        sa.Column("closed_at", UtcTimestamp(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_breach_org_id_organisation")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breach")),
    )
    op.create_index(op.f("ix_breach_org_id"), "breach", ["org_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_breach_org_id"), table_name="breach")
    op.drop_table("breach")
    op.drop_index(op.f("ix_conversation_retention_org_id"), table_name="conversation_retention")
    op.drop_table("conversation_retention")
    op.drop_table("retention_policy")
    op.drop_table("audit_anchor")
    op.drop_table("audit_checkpoint")

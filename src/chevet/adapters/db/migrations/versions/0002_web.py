"""web client: preferences, organisation notification policy, Web Push subscriptions

Revision ID: 0002_web
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import chevet.adapters.db.types

revision = "0002_web"
down_revision = "0001"
branch_labels = None
depends_on = None

Uuid = chevet.adapters.db.types.Uuid
Ts = chevet.adapters.db.types.UtcTimestamp


def upgrade() -> None:
    op.create_table(
        "web_preference",
        sa.Column("person_id", Uuid(length=16), nullable=False),
        sa.Column("org_id", Uuid(length=16), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=True),
        sa.Column("push_level", sa.String(length=12), nullable=False),
        sa.Column("quiet_start", sa.SmallInteger(), nullable=True),
        sa.Column("quiet_end", sa.SmallInteger(), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_web_preference_person_id_person")),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"],
                                name=op.f("fk_web_preference_org_id_organisation")),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_web_preference")),
    )
    op.create_table(
        "org_web_setting",
        sa.Column("org_id", Uuid(length=16), nullable=False),
        sa.Column("push_content", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"],
                                name=op.f("fk_org_web_setting_org_id_organisation")),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_org_web_setting")),
    )
    op.create_table(
        "push_subscription",
        sa.Column("id", Uuid(length=16), nullable=False),
        sa.Column("org_id", Uuid(length=16), nullable=False),
        sa.Column("person_id", Uuid(length=16), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("p256dh", sa.LargeBinary(length=65), nullable=False),
        sa.Column("auth", sa.LargeBinary(length=16), nullable=False),
        sa.Column("created_at", Ts(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"],
                                name=op.f("fk_push_subscription_org_id_organisation")),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_push_subscription_person_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscription")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_push_subscription_endpoint")),
    )
    op.create_index(op.f("ix_push_subscription_person_id"), "push_subscription", ["person_id"], unique=False)
    op.create_table(
        "push_budget",
        sa.Column("person_id", Uuid(length=16), nullable=False),
        sa.Column("org_id", Uuid(length=16), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("sent", sa.SmallInteger(), nullable=False),
        sa.Column("last_sent_at", Ts(), nullable=True),
        sa.Column("last_key", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_push_budget_org_id_organisation")),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_push_budget_person_id_person")),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_push_budget")),
    )


def downgrade() -> None:
    op.drop_table("push_budget")
    op.drop_index(op.f("ix_push_subscription_person_id"), table_name="push_subscription")
    op.drop_table("push_subscription")
    op.drop_table("org_web_setting")
    op.drop_table("web_preference")


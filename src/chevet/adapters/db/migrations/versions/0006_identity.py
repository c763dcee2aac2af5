"""identity: passkeys, recovery codes, WebAuthn challenges, session authentication, session policy

Revision ID: 0006_identity
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import UtcTimestamp, Uuid

revision = "0006_identity"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "passkey",
        sa.Column("id", Uuid(), nullable=False),
        sa.Column("org_id", Uuid(), nullable=False),
        sa.Column("person_id", Uuid(), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(length=1023), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("transports", sa.String(length=100), nullable=False),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.Column("last_used_at", UtcTimestamp(), nullable=True),
        sa.Column("revoked_at", UtcTimestamp(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_passkey_org_id_organisation")),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_passkey_person_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkey")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_passkey_credential_id")),
    )
    op.create_index(op.f("ix_passkey_person_id"), "passkey", ["person_id"])
    op.create_table(
        "recovery_code",
        sa.Column("person_id", Uuid(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("org_id", Uuid(), nullable=False),
        sa.Column("created_at", UtcTimestamp(), nullable=False),
        sa.Column("used_at", UtcTimestamp(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_recovery_code_org_id_organisation")),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_recovery_code_person_id_person")),
        sa.PrimaryKeyConstraint("person_id", "code_hash", name=op.f("pk_recovery_code")),
    )
    op.create_table(
        "webauthn_challenge",
        sa.Column("id", Uuid(), nullable=False),
        sa.Column("challenge", sa.LargeBinary(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=12), nullable=False),
        sa.Column("person_id", Uuid(), nullable=True),
        sa.Column("org_id", Uuid(), nullable=True),
        sa.Column("expires_at", UtcTimestamp(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"],
                                name=op.f("fk_webauthn_challenge_org_id_organisation")),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_webauthn_challenge_person_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webauthn_challenge")),
    )
    op.create_index(op.f("ix_webauthn_challenge_expires_at"), "webauthn_challenge", ["expires_at"])
    op.create_table(
        "session_auth",
        sa.Column("session_id", Uuid(), nullable=False),
        sa.Column("org_id", Uuid(), nullable=False),
        sa.Column("authenticated_at", UtcTimestamp(), nullable=False),
        sa.Column("psc_id_token_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("psc_sid", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_session_auth_org_id_organisation")),
        sa.ForeignKeyConstraint(["session_id"], ["session.id"], name=op.f("fk_session_auth_session_id_session")),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_session_auth")),
    )
    op.create_index(op.f("ix_session_auth_psc_sid"), "session_auth", ["psc_sid"])
    op.create_table(
        "org_session_policy",
        sa.Column("org_id", Uuid(), nullable=False),
        sa.Column("idle_minutes", sa.Integer(), nullable=False),
        sa.Column("absolute_minutes", sa.Integer(), nullable=False),
        sa.Column("reauth_minutes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"],
                                name=op.f("fk_org_session_policy_org_id_organisation")),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_org_session_policy")),
    )


def downgrade() -> None:
    op.drop_table("org_session_policy")
    op.drop_index(op.f("ix_session_auth_psc_sid"), "session_auth")
    op.drop_table("session_auth")
    op.drop_index(op.f("ix_webauthn_challenge_expires_at"), "webauthn_challenge")
    op.drop_table("webauthn_challenge")
    op.drop_table("recovery_code")
    op.drop_index(op.f("ix_passkey_person_id"), "passkey")
    op.drop_table("passkey")

"""Tables of the identity feature: passkeys, recovery codes, WebAuthn challenges, what a session
knows about its authentication, and each organisation's session policy.

Passkeys hold public keys only; recovery codes are stored hashed; the Pro Santé Connect ID
token kept for logout is sealed with the credentials key."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, LargeBinary, String, Table

from chevet.adapters.db.schema import metadata
from chevet.adapters.db.types import UtcTimestamp, Uuid

passkey = Table(
    "passkey", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("person_id", Uuid, ForeignKey("person.id"), nullable=False, index=True),
    Column("credential_id", LargeBinary(1023), nullable=False, unique=True),
    Column("public_key", LargeBinary, nullable=False),
    Column("sign_count", BigInteger, nullable=False),
    Column("name", String(100), nullable=False),
    Column("transports", String(100), nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("last_used_at", UtcTimestamp, nullable=True),
    Column("revoked_at", UtcTimestamp, nullable=True),
)

recovery_code = Table(
    "recovery_code", metadata,
    Column("person_id", Uuid, ForeignKey("person.id"), primary_key=True),
    Column("code_hash", LargeBinary(32), primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("used_at", UtcTimestamp, nullable=True),
)

webauthn_challenge = Table(
    "webauthn_challenge", metadata,
    Column("id", Uuid, primary_key=True),
    Column("challenge", LargeBinary(64), nullable=False),
    Column("purpose", String(12), nullable=False),
    Column("person_id", Uuid, ForeignKey("person.id"), nullable=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=True),
    Column("expires_at", UtcTimestamp, nullable=False, index=True),
)

session_auth = Table(
    "session_auth", metadata,
    Column("session_id", Uuid, ForeignKey("session.id"), primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("authenticated_at", UtcTimestamp, nullable=False),
    Column("psc_id_token_sealed", LargeBinary, nullable=True),
    Column("psc_sid", String(200), nullable=True, index=True),
)

org_session_policy = Table(
    "org_session_policy", metadata,
    Column("org_id", Uuid, ForeignKey("organisation.id"), primary_key=True),
    Column("idle_minutes", Integer, nullable=False),
    Column("absolute_minutes", Integer, nullable=False),
    Column("reauth_minutes", Integer, nullable=False),
)

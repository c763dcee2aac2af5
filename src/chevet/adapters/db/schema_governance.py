"""Governance tables: signed audit checkpoints and pruning anchors, retention policies and
per-conversation settings (override, legal hold, closing), and the breach log.

None of them holds care content: retention and breach rows are about conversations and
incidents, never their text."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, LargeBinary, String, Table, Text

from chevet.adapters.db.schema import metadata
from chevet.adapters.db.types import UtcTimestamp, Uuid

# A checkpoint is the head of one audit chain signed with the installation audit key.
audit_checkpoint = Table(
    "audit_checkpoint", metadata,
    Column("chain", Uuid, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("head_hash", LargeBinary(32), nullable=False),
    Column("at", UtcTimestamp, nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
)

# After pruning, a chain starts after this checkpoint instead of at its genesis.
audit_anchor = Table(
    "audit_anchor", metadata,
    Column("chain", Uuid, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("pruned_at", UtcTimestamp, nullable=False),
)

retention_policy = Table(
    "retention_policy", metadata,
    Column("org_id", Uuid, ForeignKey("organisation.id"), primary_key=True),
    Column("kind", String(12), primary_key=True),
    Column("days", Integer, nullable=False),
    Column("min_days", Integer, nullable=False),
    Column("max_days", Integer, nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
)

conversation_retention = Table(
    "conversation_retention", metadata,
    Column("conversation_id", Uuid, ForeignKey("conversation.id"), primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False, index=True),
    Column("days", Integer, nullable=True),
    Column("legal_hold", Boolean, nullable=False, default=False),
    Column("closed_at", UtcTimestamp, nullable=True),
)

breach = Table(
    "breach", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False, index=True),
    Column("discovered_at", UtcTimestamp, nullable=False),
    Column("recorded_at", UtcTimestamp, nullable=False),
    Column("recorded_by", Uuid, nullable=True),
    Column("nature", Text, nullable=False),
    Column("data_categories", Text, nullable=False),
    Column("people_affected", Integer, nullable=True),
    Column("consequences", Text, nullable=False),
    Column("measures", Text, nullable=False),
    Column("authority_notified_at", UtcTimestamp, nullable=True),
    Column("people_notified_at", UtcTimestamp, nullable=True),
    Column("closed_at", UtcTimestamp, nullable=True),
    Column("records_affected", Integer, nullable=True),
    Column("late_reason", Text, nullable=False, server_default=""),
)

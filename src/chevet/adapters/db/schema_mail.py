"""The outbox of the installation's own transactional mail (invitations): one row per mail, the
whole message sealed with the credentials key (it holds a one-time link), its recipient, its
delivery state and retry schedule."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Table

from chevet.adapters.db.schema import metadata
from chevet.adapters.db.types import UtcTimestamp, Uuid

mail_outbox = Table(
    "mail_outbox", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("kind", String(20), nullable=False),          # "invitation"
    Column("subject_id", Uuid, nullable=False),          # the person it is about
    Column("recipient", String(320), nullable=False),
    Column("message_sealed", LargeBinary, nullable=False),
    Column("state", String(10), nullable=False),         # pending, sending, sent, dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcTimestamp, nullable=False),
    Column("lease_until", UtcTimestamp, nullable=True),
    Column("last_error", String(60), nullable=True),     # an error code, never an answer's text
    Column("created_at", UtcTimestamp, nullable=False),
    Column("sent_at", UtcTimestamp, nullable=True),
    Index("ix_mail_outbox_due", "state", "next_attempt_at"),
    Index("ix_mail_outbox_subject", "org_id", "subject_id"),
)

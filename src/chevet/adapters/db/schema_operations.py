"""Console operations (export, import, backup run in the background): one row per operation."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, LargeBinary, String, Table

from chevet.adapters.db.schema import metadata
from chevet.adapters.db.sealed import register
from chevet.adapters.db.types import UtcTimestamp, Uuid

operation = Table(
    "operation", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("kind", String(10), nullable=False),            # export, import, backup
    Column("requested_by", Uuid, nullable=True),
    Column("state", String(10), nullable=False),           # queued, running, done, failed, expired
    Column("done", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("lease_until", UtcTimestamp, nullable=True),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("started_at", UtcTimestamp, nullable=True),
    Column("finished_at", UtcTimestamp, nullable=True),
    Column("expires_at", UtcTimestamp, nullable=True),
    Column("result_name", String(80), nullable=True),
    Column("result_bytes", BigInteger, nullable=True),
    Column("input_bytes", BigInteger, nullable=True),
    Column("error", String(60), nullable=True),            # a message id, never an exception's text
    Column("secret_sealed", LargeBinary, nullable=True),   # the archive passphrase while it runs
    Index("ix_operation_org", "org_id", "created_at"),
    Index("ix_operation_due", "state", "lease_until"),
)

register(operation, "secret_sealed", "credentials", "operation", "id")

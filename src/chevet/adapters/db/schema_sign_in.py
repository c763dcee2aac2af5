"""The failed sign-ins per account and source (``core/lockout.py``), shared by every server
process and kept across restarts. The source (a known device's id, else the client address) is
stored as its SHA-256 only; a row is deleted once ``expires_at`` (its window or lock) is over."""

from __future__ import annotations

from sqlalchemy import Column, Double, ForeignKey, Integer, LargeBinary, Table

from chevet.adapters.db.schema import metadata
from chevet.adapters.db.types import Uuid

sign_in_failure = Table(
    "sign_in_failure", metadata,
    Column("person_id", Uuid, ForeignKey("person.id"), primary_key=True),
    Column("source_hash", LargeBinary(32), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("since", Double, nullable=False),           # the clock's seconds, as core/lockout.py counts
    Column("locked_until", Double, nullable=True),
    Column("expires_at", Double, nullable=False, index=True),
)

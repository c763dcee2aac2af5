"""Each organisation's keys (ports/organisation_keys.py): one row per version. The ``file``
provider's key is stored here wrapped by the installation master key; a token's key stays on
the token and only its reference is stored."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, LargeBinary, String, Table

from chevet.adapters.db.schema import metadata
from chevet.adapters.db.types import UtcTimestamp, Uuid

organisation_key = Table(
    "organisation_key", metadata,
    Column("org_id", Uuid, ForeignKey("organisation.id"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("provider", String(20), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("wrapped", LargeBinary, nullable=True),
    Column("state", String(10), nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("destroyed_at", UtcTimestamp, nullable=True),
)

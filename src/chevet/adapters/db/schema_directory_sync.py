"""Directory synchronisation: which people an LDAP directory manages, and the syncs it ran."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Text

from chevet.adapters.db.schema import metadata
from chevet.adapters.db.types import UtcTimestamp, Uuid

# A person created (or adopted) by the directory; people without a row here are never touched.
directory_account = Table(
    "directory_account", metadata,
    Column("person_id", Uuid, ForeignKey("person.id"), primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False, index=True),
    Column("dn", String(1024), nullable=False),
)

directory_sync_run = Table(
    "directory_sync_run", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False, index=True),
    Column("at", UtcTimestamp, nullable=False),
    Column("applied", Boolean, nullable=False),
    Column("outcome", String(32), nullable=False),   # done, stopped, failed
    Column("created", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("deactivated", Integer, nullable=False),
    Column("reason", Text, nullable=True),           # a stable key, never directory content
)

# Which server process runs an organisation's scheduled sync, until when (one at a time).
directory_sync_lease = Table(
    "directory_sync_lease", metadata,
    Column("org_id", Uuid, ForeignKey("organisation.id"), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("until", UtcTimestamp, nullable=False),
)

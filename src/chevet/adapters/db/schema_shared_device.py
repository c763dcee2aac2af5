"""Shared devices of care units (``core/shared_device.py``): the registered devices (their
credential kept as its SHA-256 only), each person's period on one (her PIN as an argon2 hash),
the sessions opened on one, and each organisation's policy. No address, no content."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Table

from chevet.adapters.db.schema import metadata
from chevet.adapters.db.types import UtcTimestamp, Uuid

shared_device = Table(
    "shared_device", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False, index=True),
    Column("name", String(80), nullable=False),
    Column("secret_hash", LargeBinary(32), nullable=False, unique=True),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("created_by", Uuid, nullable=True),
    Column("last_used_at", UtcTimestamp, nullable=True),
    Column("revoked_at", UtcTimestamp, nullable=True),
    Column("active_session_id", Uuid, nullable=True),
)

shared_device_policy = Table(
    "shared_device_policy", metadata,
    Column("org_id", Uuid, ForeignKey("organisation.id"), primary_key=True),
    Column("period_hours", Integer, nullable=False),
    Column("idle_minutes", Integer, nullable=False),
)

shared_device_period = Table(
    "shared_device_period", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("device_id", Uuid, ForeignKey("shared_device.id"), nullable=False),
    Column("person_id", Uuid, ForeignKey("person.id"), nullable=False),
    Column("opened_at", UtcTimestamp, nullable=False),
    Column("ends_at", UtcTimestamp, nullable=False),
    Column("closed_at", UtcTimestamp, nullable=True),
    Column("pin_hash", String(200), nullable=True),
    Column("pin_failures", Integer, nullable=False),
    Index("ix_shared_device_period_device", "device_id", "closed_at"),
)

shared_device_session = Table(
    "shared_device_session", metadata,
    Column("session_id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("device_id", Uuid, ForeignKey("shared_device.id"), nullable=False, index=True),
    Column("period_id", Uuid, ForeignKey("shared_device_period.id"), nullable=False),
    Column("person_id", Uuid, ForeignKey("person.id"), nullable=False),
)

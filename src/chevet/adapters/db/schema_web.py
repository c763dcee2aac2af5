"""Tables of the web client: personal preferences (language, notifications, quiet hours), an
organisation's notification policy, Web Push subscriptions and the per-person push budget.

None of them holds care content: a push subscription is the address of the browser's push
service and its public keys, nothing more."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, LargeBinary, SmallInteger, String, Table, Text, true

from chevet.adapters.db.schema import metadata
from chevet.adapters.db.types import UtcTimestamp, Uuid

web_preference = Table(
    "web_preference", metadata,
    Column("person_id", Uuid, ForeignKey("person.id"), primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("language", String(5), nullable=True),  # NULL: follow the browser
    Column("push_level", String(12), nullable=False),
    Column("quiet_start", SmallInteger, nullable=True),  # minutes after midnight, Europe/Paris
    Column("quiet_end", SmallInteger, nullable=True),
)

org_web_setting = Table(
    "org_web_setting", metadata,
    Column("org_id", Uuid, ForeignKey("organisation.id"), primary_key=True),
    Column("push_content", String(12), nullable=False),
    # False: the conversation list shows no message preview (shared screens)
    Column("list_preview", Boolean, nullable=False, server_default=true()),
)

push_subscription = Table(
    "push_subscription", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("person_id", Uuid, ForeignKey("person.id"), nullable=False, index=True),
    Column("endpoint", Text, nullable=False, unique=True),
    Column("p256dh", LargeBinary(65), nullable=False),
    Column("auth", LargeBinary(16), nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
)

push_budget = Table(
    "push_budget", metadata,
    Column("person_id", Uuid, ForeignKey("person.id"), primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("day", Integer, nullable=False),  # local date as yyyymmdd
    Column("sent", SmallInteger, nullable=False),
    Column("last_sent_at", UtcTimestamp, nullable=True),
    Column("last_key", String(60), nullable=True),  # "<conversation>:<seq>" already handled
)

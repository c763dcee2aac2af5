"""Urgent alerts: one row per alert (its state and the version that guards each change), its
timeline, and each team's escalation ladder. No care content: the message's text stays in the
message, sealed; an alert holds ids, a role address, times and states."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from chevet.adapters.db.schema import metadata
from chevet.adapters.db.types import UtcTimestamp, Uuid

care_alert = Table(
    "care_alert", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("conversation_id", Uuid, nullable=False),  # no key: the retention purge may shred it first
    Column("message_id", Uuid, nullable=False),
    Column("message_seq", Integer, nullable=False),
    Column("team_id", Uuid, nullable=True),
    Column("raised_by", Uuid, nullable=False),
    Column("raised_at", UtcTimestamp, nullable=False),
    Column("target", String(100), nullable=False),      # person:<id>, role:<address>, on_call:<team id>
    Column("state", String(12), nullable=False),        # open, acknowledged
    Column("step", Integer, nullable=False),
    Column("due_at", UtcTimestamp, nullable=True),
    Column("targeted", Text, nullable=False),           # ids (hex, comma-separated) notified so far
    Column("current", Text, nullable=False),            # ids of the current step
    Column("late", Boolean, nullable=False),
    Column("acknowledged_by", Uuid, nullable=True),
    Column("acknowledged_at", UtcTimestamp, nullable=True),
    Column("ack", String(10), nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_care_alert_due", "state", "due_at"),
    Index("ix_care_alert_conversation", "conversation_id", "raised_at"),
    Index("ix_care_alert_org", "org_id", "state"),
)

care_alert_event = Table(
    "care_alert_event", metadata,
    Column("id", Uuid, primary_key=True),
    Column("alert_id", Uuid, ForeignKey("care_alert.id"), nullable=False),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("at", UtcTimestamp, nullable=False),
    Column("kind", String(12), nullable=False),
    Column("step", Integer, nullable=False),
    Column("people", Text, nullable=False),
    Column("actor_id", Uuid, nullable=True),
    Column("ack", String(10), nullable=True),
    Column("pushed_at", UtcTimestamp, nullable=True),  # set by the one process that pushed it
    Index("ix_care_alert_event_alert", "alert_id", "at"),
)

care_alert_ladder = Table(
    "care_alert_ladder", metadata,
    Column("scope_id", Uuid, primary_key=True),          # a team's id, or the organisation's for its default
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("day_delay_s", Integer, nullable=False),
    Column("night_delay_s", Integer, nullable=False),
    Column("night_starts", Integer, nullable=False),
    Column("night_ends", Integer, nullable=False),
    Column("steps", String(500), nullable=False),        # step codes, comma-separated
    Column("updated_at", UtcTimestamp, nullable=False),
    Column("updated_by", Uuid, nullable=True),
    Index("ix_care_alert_ladder_org", "org_id"),
)

"""Handover tables: the notes one shift leaves the next (content sealed with the care case's
data key, search terms as for messages) and each team's templates (no care content: names,
targets and prompts only)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Table

from chevet.adapters.db.schema import metadata
from chevet.adapters.db.types import Terms, UtcTimestamp, Uuid

handover = Table(
    "handover", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("conversation_id", Uuid, ForeignKey("conversation.id"), nullable=False),
    Column("team_id", Uuid, nullable=True),
    Column("author_id", Uuid, nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("shift_name", String(40), nullable=False),
    Column("shift_starts_at", UtcTimestamp, nullable=False),
    Column("shift_ends_at", UtcTimestamp, nullable=False),
    # target and DAR fields as one JSON document, sealed: aad("handover", conversation id, id)
    Column("content_sealed", LargeBinary, nullable=False),
    Column("terms", Terms, nullable=True),
    Column("confirmed_by", Uuid, nullable=True),
    Column("confirmed_at", UtcTimestamp, nullable=True),
    Column("flagged_at", UtcTimestamp, nullable=True),
    Index("ix_handover_conversation", "conversation_id", "created_at"),
    Index("ix_handover_open", "org_id", "confirmed_at", "shift_starts_at"),
    Index("ix_handover_due", "confirmed_at", "flagged_at", "shift_starts_at"),
)

handover_template = Table(
    "handover_template", metadata,
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("team_id", Uuid, ForeignKey("team.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("name", String(60), nullable=False),
    Column("target", String(80), nullable=False),
    Column("prompt_data", String(200), nullable=False),
    Column("prompt_actions", String(200), nullable=False),
    Column("prompt_results", String(200), nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
)

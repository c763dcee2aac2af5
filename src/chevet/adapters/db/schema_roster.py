"""Duty rosters: a team's shift patterns, who is on duty or on call, and role addresses.

Nothing here is care content (shift names, role labels, times): no sealed column. Times are
aware UTC; the wall-clock minutes of a shift pattern are resolved in Europe/Paris by the core."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from chevet.adapters.db.schema import metadata
from chevet.adapters.db.types import UtcTimestamp, Uuid

roster_shift = Table(
    "roster_shift", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("team_id", Uuid, ForeignKey("team.id"), nullable=False),
    Column("name", String(40), nullable=False),
    Column("starts_min", Integer, nullable=False),  # minutes after local midnight, Europe/Paris
    Column("ends_min", Integer, nullable=False),  # <= starts_min: ends the next day
    Column("created_at", UtcTimestamp, nullable=False),
    Index("ix_roster_shift_team", "org_id", "team_id"),
)

roster_role = Table(
    "roster_role", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("slug", String(40), nullable=False),  # folded: no accents, lower case
    Column("label", String(80), nullable=False),
    Column("team_id", Uuid, ForeignKey("team.id"), nullable=True),
    Column("created_at", UtcTimestamp, nullable=False),
    UniqueConstraint("org_id", "slug", name="uq_roster_role_slug"),
)

roster_assignment = Table(
    "roster_assignment", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("team_id", Uuid, ForeignKey("team.id"), nullable=False),
    Column("person_id", Uuid, ForeignKey("person.id"), nullable=False),
    Column("kind", String(8), nullable=False),  # duty, on_call
    Column("starts_at", UtcTimestamp, nullable=False),
    Column("ends_at", UtcTimestamp, nullable=False),
    Column("shift_id", Uuid, nullable=True),  # the pattern it was made from, if any
    Column("role_id", Uuid, nullable=True),  # the role address it holds, if any
    Column("rank", Integer, nullable=False),  # on-call ladder: 1 first
    Column("created_at", UtcTimestamp, nullable=False),
    Column("created_by", Uuid, nullable=True),
    Index("ix_roster_assignment_team", "org_id", "team_id", "ends_at"),
    Index("ix_roster_assignment_role", "org_id", "role_id", "ends_at"),
)

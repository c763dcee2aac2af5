"""Duty rosters in the organisation's archive: the teams' shifts, the role addresses and every
assignment, so that an organisation moved to another installation keeps who is on duty and on
call, and who held a role when (what an alert or a handover of the time refers to)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chevet.app.services import Unit
from chevet.core.care.roster import Assignment, DutyKind, RoleAddress, ShiftPattern
from chevet.ports import Transaction

NAMES = ("roster_shifts", "roster_roles", "roster_assignments")


def _time(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("naive time")
    return parsed


def _opt_id(value: Any) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(str(value))


def _s(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


async def export_records(tx: Transaction, org_id: uuid.UUID) -> dict[str, list[dict[str, object]]]:
    """Each file of the archive (``data/<name>.jsonl``) and its records."""
    return {
        "roster_shifts": [{"record": "roster_shift", "id": str(s.id), "team_id": str(s.team_id), "name": s.name,
                           "starts_minute": s.starts, "ends_minute": s.ends, "created_at": s.created_at.isoformat()}
                          for s in await tx.rosters.all_shifts(org_id)],
        "roster_roles": [{"record": "roster_role", "id": str(r.id), "slug": r.slug, "label": r.label,
                          "team_id": _s(r.team_id), "created_at": r.created_at.isoformat()}
                         for r in await tx.rosters.roles(org_id)],
        "roster_assignments": [{"record": "roster_assignment", "id": str(a.id), "team_id": str(a.team_id),
                                "person_id": str(a.person_id), "kind": a.kind.value,
                                "starts_at": a.starts_at.isoformat(), "ends_at": a.ends_at.isoformat(),
                                "shift_id": _s(a.shift_id), "role_id": _s(a.role_id), "rank": a.rank,
                                "created_at": a.created_at.isoformat(), "created_by": _s(a.created_by)}
                               for a in await tx.rosters.all_assignments(org_id)],
    }


async def import_records(u: Unit, org_id: uuid.UUID, shifts: Sequence[dict[str, Any]], roles: Sequence[dict[str, Any]],
                         assignments: Sequence[dict[str, Any]]) -> int:
    """Recreate the rosters of an imported organisation (its teams and people are in already);
    archives made before rosters were exported have none. Returns the assignments made."""
    for s in shifts:
        await u.tx.rosters.add_shift(ShiftPattern(uuid.UUID(str(s["id"])), org_id, uuid.UUID(str(s["team_id"])),
                                                  str(s["name"]), int(s["starts_minute"]) % 1440,
                                                  int(s["ends_minute"]) % 1440, _time(s["created_at"])))
    for r in roles:
        await u.tx.rosters.add_role(RoleAddress(uuid.UUID(str(r["id"])), org_id, str(r["slug"]), str(r["label"]),
                                                _opt_id(r.get("team_id")), _time(r["created_at"])))
    for a in assignments:
        await u.tx.rosters.add_assignment(Assignment(
            uuid.UUID(str(a["id"])), org_id, uuid.UUID(str(a["team_id"])), uuid.UUID(str(a["person_id"])),
            DutyKind(str(a["kind"])), _time(a["starts_at"]), _time(a["ends_at"]), _opt_id(a.get("shift_id")),
            _opt_id(a.get("role_id")), int(a["rank"]), _time(a["created_at"]), _opt_id(a.get("created_by"))))
    return len(assignments)

"""Each team's escalation ladder for urgent alerts: how long an alert waits for an
acknowledgement by day and by night, and the steps it goes through. A team without its own
ladder follows the organisation's default, and an organisation that set none the built-in one
(10 minutes by day, 5 at night from 21:00 to 07:00, then the next on call, the nurse manager,
the on-call physician ``@astreinte-medicale``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from chevet.app.access import require
from chevet.app.services import Actor, Services
from chevet.core.care.alert import MAX_STEPS, Ladder, LadderStep
from chevet.core.errors import InvalidInput, NotFound
from chevet.core.notification import format_clock, parse_clock
from chevet.core.roles import Permission
from chevet.ports import Transaction


@dataclass(frozen=True, slots=True)
class LadderView:
    scope_id: uuid.UUID          # a team's id, or the organisation's for its default
    team_name: str | None        # None: the organisation's default
    own: bool                    # set for this scope (else inherited)
    day_minutes: int
    night_minutes: int
    night_starts: str            # "21:00", Europe/Paris
    night_ends: str
    steps: tuple[LadderStep, ...]


async def ladder_for(tx: Transaction, org_id: uuid.UUID, team_id: uuid.UUID | None) -> Ladder:
    """The ladder an alert of this team follows now."""
    if team_id is not None and (own := await tx.alerts.ladder(org_id, team_id)) is not None:
        return own
    return await tx.alerts.ladder(org_id, org_id) or Ladder()


def _view(scope_id: uuid.UUID, name: str | None, own: bool, ladder: Ladder) -> LadderView:
    return LadderView(scope_id, name, own, int(ladder.day_delay.total_seconds() // 60),
                      int(ladder.night_delay.total_seconds() // 60), format_clock(ladder.night_starts),
                      format_clock(ladder.night_ends), ladder.steps)


async def ladders(services: Services, actor: Actor) -> list[LadderView]:
    """The organisation's default first, then each team's (its own, or the default it follows)."""
    require(actor, Permission.MANAGE_TEAMS)
    async with services.db.transaction() as tx:
        stored = await tx.alerts.ladders(actor.org_id)
        default = stored.get(actor.org_id) or Ladder()
        out = [_view(actor.org_id, None, actor.org_id in stored, default)]
        for team in sorted(await tx.teams.all(actor.org_id), key=lambda t: t.name.lower()):
            out.append(_view(team.id, team.name, team.id in stored, stored.get(team.id, default)))
        return out


def _minutes(value: str) -> timedelta:
    value = (value or "").strip()
    if not value.isdigit() or len(value) > 3:
        raise InvalidInput("alert_delay_invalid", min=1, max=120)
    return timedelta(minutes=int(value))


def parse_ladder(*, day_minutes: str, night_minutes: str, night_starts: str, night_ends: str,
                 steps: list[str]) -> Ladder:
    """A ladder from the console's form; any field out of bounds refused in words."""
    starts, ends = parse_clock(night_starts), parse_clock(night_ends)
    if starts is None or ends is None:
        raise InvalidInput("alert_night_invalid")
    chosen = [s.strip() for s in steps if s and s.strip()]
    if len(chosen) > MAX_STEPS:
        raise InvalidInput("alert_steps_too_many", max=MAX_STEPS)
    return Ladder(day_delay=_minutes(day_minutes), night_delay=_minutes(night_minutes), night_starts=starts,
                  night_ends=ends, steps=tuple(LadderStep.parse(s) for s in chosen))


async def set_ladder(services: Services, actor: Actor, scope_id: uuid.UUID, ladder: Ladder) -> None:
    """A team's ladder (or, with the organisation's id, the default); audited."""
    require(actor, Permission.MANAGE_TEAMS)
    async with services.unit(actor.ip) as u:
        if scope_id != actor.org_id and await u.tx.teams.get(actor.org_id, scope_id) is None:
            raise NotFound("team_not_found")
        await u.tx.alerts.set_ladder(actor.org_id, scope_id, ladder, services.clock.now(), actor.id)
        await u.audit(actor.org_id, "alert.ladder_changed", actor.id, "team" if scope_id != actor.org_id
                      else "organisation", scope_id, day_minutes=int(ladder.day_delay.total_seconds() // 60),
                      night_minutes=int(ladder.night_delay.total_seconds() // 60),
                      steps=[s.encode() for s in ladder.steps])

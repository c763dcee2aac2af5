"""Signalement: who handles reports (quality leads, directors), named by administrators or the
installation's operator."""

from __future__ import annotations

import uuid

from chevet.app.access import report_functions
from chevet.app.services import Actor, Services
from chevet.core.errors import Forbidden, NotFound
from chevet.core.roles import Permission, can
from chevet.core.signalement.recipients import check_designation
from chevet.core.signalement.report import (
    ReportFunction,
    parse_function,
)


async def designate(services: Services, actor: Actor, person_id: uuid.UUID, function: str, on: bool) -> None:
    """Administrators name the quality leads and, beside themselves and the people of role
    director, other directors. Refused: an external person, a deactivated one, or naming
    director someone who already is by role."""
    fn = parse_function(function)
    if not can(actor.person.role, Permission.MANAGE_ORGANISATION):
        raise Forbidden("forbidden")
    async with services.unit(actor.ip) as u:
        person = await u.tx.people.get(actor.org_id, person_id)
        if person is None:
            raise NotFound("person_not_found")
        check_designation(person, fn, on)
        await u.tx.reports.designate(actor.org_id, person_id, fn, on)
        await u.audit(actor.org_id, "report.designation_set", actor.id, "person", person_id,
                      function=fn.value, on=on)


async def designate_by_operator(services: Services, org_id: uuid.UUID, email: str, function: str,
                                on: bool) -> uuid.UUID:
    """The installation's operator (CLI) names a quality lead or a director."""
    fn = parse_function(function)
    async with services.unit(None) as u:
        person = await u.tx.people.by_email(email.strip().lower())
        if person is None or person.org_id != org_id:
            raise NotFound("person_not_found")
        check_designation(person, fn, on)
        await u.tx.reports.designate(org_id, person.id, fn, on)
        await u.audit(org_id, "report.designation_set", None, "person", person.id, function=fn.value, on=on,
                      via="cli")
        return person.id


async def my_functions(services: Services, actor: Actor) -> frozenset[ReportFunction]:
    async with services.db.transaction() as tx:
        return await report_functions(tx, actor)

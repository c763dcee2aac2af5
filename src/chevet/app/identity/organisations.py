"""Organisations: created by the installation's operator (CLI), strictly isolated."""

from __future__ import annotations

import re

from chevet.app.services import Services
from chevet.core.entities import Organisation
from chevet.core.errors import Conflict, InvalidInput
from chevet.core.ids import new_id

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


async def create_organisation(services: Services, slug: str, name: str) -> Organisation:
    slug = slug.strip().lower()
    name = " ".join(name.split())
    if not _SLUG.match(slug):
        raise InvalidInput("slug_invalid")
    if not name or len(name) > 200:
        raise InvalidInput("name_invalid")
    async with services.unit() as u:
        if await u.tx.organisations.by_slug(slug):
            raise Conflict("organisation_exists")
        org = Organisation(id=new_id(), slug=slug, name=name, created_at=services.clock.now())
        await u.tx.organisations.add(org)
        await u.audit(None, "organisation.created", None, "organisation", org.id, slug=slug)
        await u.audit(org.id, "organisation.created", None, "organisation", org.id, slug=slug)
    return org


async def organisation_by_slug(services: Services, slug: str) -> Organisation:
    from chevet.core.errors import NotFound

    async with services.db.transaction() as tx:
        org = await tx.organisations.by_slug(slug)
    if org is None:
        raise NotFound("organisation_not_found")
    return org

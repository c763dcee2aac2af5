"""Organisation key rows over ``Tables``, as adapters/db/organisation_keys.py stores them."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from chevet.ports.organisation_keys import DESTROYED, OrganisationKey
from tests.fakes.tables import Tables


def keys_of(t: Tables, org_id: uuid.UUID) -> list[OrganisationKey]:
    return sorted((k for (org, _), k in t.organisation_keys.items() if org == org_id), key=lambda k: k.version)


class FakeOrganisationKeys:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def of(self, org_id: uuid.UUID) -> list[OrganisationKey]:
        return keys_of(self._t, org_id)

    async def add(self, key: OrganisationKey) -> None:
        self._t.organisation_keys.setdefault((key.org_id, key.version), key)

    async def set_state(self, org_id: uuid.UUID, version: int, state: str, at: datetime | None = None) -> None:
        k = self._t.organisation_keys.get((org_id, version))
        if k is None:
            return
        self._t.organisation_keys[(org_id, version)] = replace(k, state=state) if state != DESTROYED \
            else replace(k, state=state, wrapped=None, destroyed_at=at)

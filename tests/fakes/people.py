"""People and what the session checks of sensitive actions read, in memory."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from chevet.core.entities import Credentials, Person, PersonStatus
from chevet.core.identity import SessionPolicy
from chevet.core.roles import Role
from tests.fakes.errors import ConstraintViolation, not_faked
from tests.fakes.tables import Tables


class FakePeople:
    """Like ``SqlPeople`` for profiles; credentials and address keys are not faked."""

    def __init__(self, t: Tables) -> None:
        self._t = t

    async def add(self, person: Person, credentials: Credentials) -> None:
        if person.id in self._t.people or any(p.email == person.email for p in self._t.people.values()):
            raise ConstraintViolation("person.id or person.email")
        self._t.people[person.id] = person

    async def get(self, org_id: uuid.UUID, person_id: uuid.UUID) -> Person | None:
        p = self._t.people.get(person_id)
        return p if p is not None and p.org_id == org_id else None

    async def many(self, org_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[Person]:
        wanted = set(ids)
        return [p for p in self._t.people.values() if p.org_id == org_id and p.id in wanted]

    async def by_email(self, email: str) -> Person | None:
        return next((p for p in self._t.people.values() if p.email == email), None)

    async def search(self, org_id: uuid.UUID, query: str, limit: int) -> list[Person]:
        q = query.lower()
        found = [p for p in self._t.people.values()
                 if p.org_id == org_id and (not q or q in p.name.lower() or q in p.email.lower())]
        return sorted(found, key=lambda p: p.name)[:limit]

    async def credentials(self, person_id: uuid.UUID, *, for_update: bool = False) -> Credentials:
        raise not_faked("PersonRepository.credentials")

    async def save_credentials(self, credentials: Credentials) -> None:
        raise not_faked("PersonRepository.save_credentials")

    async def set_status(self, org_id: uuid.UUID, person_id: uuid.UUID, status: PersonStatus) -> None:
        if (p := await self.get(org_id, person_id)) is not None:
            self._t.people[person_id] = replace(p, status=status)

    async def set_role(self, org_id: uuid.UUID, person_id: uuid.UUID, role: Role) -> None:
        if (p := await self.get(org_id, person_id)) is not None:
            self._t.people[person_id] = replace(p, role=role)

    async def address_key(self, person_id: uuid.UUID) -> bytes | None:
        raise not_faked("PersonRepository.address_key")

    async def set_address_key(self, person_id: uuid.UUID, wrapped: bytes) -> bytes:
        raise not_faked("PersonRepository.set_address_key")


class FakeSessionSecurity:
    """When each session last proved who it is, and organisations' session policies; the Pro
    Santé Connect and invitation parts are not faked."""

    def __init__(self, t: Tables) -> None:
        self._t = t

    async def record(self, session_id: uuid.UUID, org_id: uuid.UUID, at: datetime,
                     psc_id_token_sealed: bytes | None = None, psc_sid: str | None = None) -> None:
        if psc_id_token_sealed is not None or psc_sid is not None:
            raise not_faked("SessionSecurityRepository.record with Pro Santé Connect")
        self._t.authenticated_at[session_id] = at

    async def reauthenticated(self, session_id: uuid.UUID, at: datetime) -> None:
        if session_id in self._t.authenticated_at:
            self._t.authenticated_at[session_id] = at

    async def store_psc_id_token(self, session_id: uuid.UUID, sealed: bytes) -> None:
        raise not_faked("SessionSecurityRepository.store_psc_id_token")

    async def authenticated_at(self, session_id: uuid.UUID) -> datetime | None:
        return self._t.authenticated_at.get(session_id)

    async def psc_id_token(self, session_id: uuid.UUID) -> bytes | None:
        raise not_faked("SessionSecurityRepository.psc_id_token")

    async def sessions_with_psc_sid(self, sid: str) -> list[tuple[uuid.UUID, uuid.UUID]]:
        raise not_faked("SessionSecurityRepository.sessions_with_psc_sid")

    async def policy(self, org_id: uuid.UUID) -> SessionPolicy | None:
        return self._t.session_policies.get(org_id)

    async def set_policy(self, org_id: uuid.UUID, policy: SessionPolicy) -> None:
        self._t.session_policies[org_id] = policy

    async def people_by_rpps(self, rpps: str) -> list[Person]:
        raise not_faked("SessionSecurityRepository.people_by_rpps")

    async def open_invitation_of(self, person_id: uuid.UUID, now: datetime) -> uuid.UUID | None:
        raise not_faked("SessionSecurityRepository.open_invitation_of")

    async def close_invitation(self, invitation_id: uuid.UUID, at: datetime) -> None:
        raise not_faked("SessionSecurityRepository.close_invitation")

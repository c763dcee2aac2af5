from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema import person
from chevet.core.entities import Credentials, Person, PersonStatus
from chevet.core.roles import Role

_PUBLIC = [person.c.id, person.c.org_id, person.c.email, person.c.name, person.c.role,
           person.c.status, person.c.rpps, person.c.language, person.c.created_at]

_GET = select(*_PUBLIC).where(person.c.org_id == bindparam("org_id"), person.c.id == bindparam("id"))


def _person(row: Any) -> Person:
    m = row._mapping
    return Person(id=m["id"], org_id=m["org_id"], email=m["email"], name=m["name"], role=Role(m["role"]),
                  status=PersonStatus(m["status"]), rpps=m["rpps"], language=m["language"],
                  created_at=m["created_at"])


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlPeople:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, p: Person, c: Credentials) -> None:
        await self._conn.execute(insert(person).values(
            id=p.id, org_id=p.org_id, email=p.email, name=p.name, role=p.role.value,
            status=p.status.value, rpps=p.rpps, language=p.language, created_at=p.created_at,
            password_hash=c.password_hash, totp_sealed=c.totp_sealed, totp_last_step=c.totp_last_step,
            failed_logins=c.failed_logins, locked_until=c.locked_until))

    async def get(self, org_id: uuid.UUID, person_id: uuid.UUID) -> Person | None:
        row = (await self._conn.execute(_GET, {"org_id": org_id, "id": person_id})).first()
        return _person(row) if row else None

    async def many(self, org_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[Person]:
        if not ids:
            return []
        rows = await self._conn.execute(select(*_PUBLIC).where(
            person.c.org_id == org_id, person.c.id.in_(list(ids))))
        return [_person(r) for r in rows]

    async def by_email(self, email: str) -> Person | None:
        row = (await self._conn.execute(select(*_PUBLIC).where(person.c.email == email))).first()
        return _person(row) if row else None

    async def search(self, org_id: uuid.UUID, query: str, limit: int) -> list[Person]:
        stmt = select(*_PUBLIC).where(person.c.org_id == org_id)
        if query:
            pattern = f"%{_escape_like(query.lower())}%"
            stmt = stmt.where(or_(func.lower(person.c.name).like(pattern, escape="\\"),
                                  func.lower(person.c.email).like(pattern, escape="\\")))
        rows = await self._conn.execute(stmt.order_by(person.c.name).limit(limit))
        return [_person(r) for r in rows]

    async def credentials(self, person_id: uuid.UUID, *, for_update: bool = False) -> Credentials:
        stmt = select(person.c.id, person.c.password_hash, person.c.totp_sealed, person.c.totp_last_step,
                      person.c.failed_logins, person.c.locked_until).where(person.c.id == person_id)
        if for_update:
            stmt = stmt.with_for_update()
        m = (await self._conn.execute(stmt)).one()._mapping
        return Credentials(person_id=m["id"], password_hash=m["password_hash"], totp_sealed=m["totp_sealed"],
                           totp_last_step=m["totp_last_step"], failed_logins=m["failed_logins"],
                           locked_until=m["locked_until"])

    async def save_credentials(self, c: Credentials) -> None:
        await self._conn.execute(update(person).where(person.c.id == c.person_id).values(
            password_hash=c.password_hash, totp_sealed=c.totp_sealed, totp_last_step=c.totp_last_step,
            failed_logins=c.failed_logins, locked_until=c.locked_until))

    async def address_key(self, person_id: uuid.UUID) -> bytes | None:
        row = (await self._conn.execute(select(person.c.address_key).where(person.c.id == person_id))).first()
        return bytes(row[0]) if row and row[0] is not None else None

    async def set_address_key(self, person_id: uuid.UUID, wrapped: bytes) -> bytes:
        await self._conn.execute(update(person).where(person.c.id == person_id, person.c.address_key.is_(None))
                                 .values(address_key=wrapped))
        kept = await self.address_key(person_id)
        assert kept is not None
        return kept

    async def set_status(self, org_id: uuid.UUID, person_id: uuid.UUID, status: PersonStatus) -> None:
        await self._conn.execute(update(person).where(
            person.c.org_id == org_id, person.c.id == person_id).values(status=status.value))

    async def set_role(self, org_id: uuid.UUID, person_id: uuid.UUID, role: Role) -> None:
        await self._conn.execute(update(person).where(
            person.c.org_id == org_id, person.c.id == person_id).values(role=role.value))

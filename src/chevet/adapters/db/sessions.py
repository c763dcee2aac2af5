from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema import invitation, session
from chevet.core.entities import Invitation, Session

_BY_TOKEN = select(session).where(session.c.token_hash == bindparam("h"))


def _session(row: Any) -> Session:
    m = row._mapping
    return Session(id=m["id"], person_id=m["person_id"], org_id=m["org_id"], created_at=m["created_at"],
                   last_used_at=m["last_used_at"], expires_at=m["expires_at"], revoked_at=m["revoked_at"],
                   user_agent=m["user_agent"], ip=m["ip"], method=m["method"])


class SqlSessions:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, s: Session, token_hash: bytes) -> None:
        await self._conn.execute(insert(session).values(
            id=s.id, token_hash=token_hash, person_id=s.person_id, org_id=s.org_id, created_at=s.created_at,
            last_used_at=s.last_used_at, expires_at=s.expires_at, revoked_at=s.revoked_at,
            user_agent=s.user_agent, ip=s.ip, method=s.method))

    async def by_token_hash(self, token_hash: bytes) -> Session | None:
        row = (await self._conn.execute(_BY_TOKEN, {"h": token_hash})).first()
        return _session(row) if row else None

    async def for_person(self, person_id: uuid.UUID) -> list[Session]:
        rows = await self._conn.execute(select(session).where(session.c.person_id == person_id)
                                        .order_by(session.c.last_used_at.desc()))
        return [_session(r) for r in rows]

    async def revoke(self, person_id: uuid.UUID, session_id: uuid.UUID, at: datetime) -> bool:
        result = await self._conn.execute(update(session).where(
            session.c.person_id == person_id, session.c.id == session_id,
            session.c.revoked_at.is_(None)).values(revoked_at=at))
        return bool(result.rowcount)

    async def touch(self, session_id: uuid.UUID, at: datetime) -> None:
        await self._conn.execute(update(session).where(session.c.id == session_id).values(last_used_at=at))


def _invitation(row: Any) -> Invitation:
    m = row._mapping
    return Invitation(id=m["id"], person_id=m["person_id"], org_id=m["org_id"], expires_at=m["expires_at"],
                      used_at=m["used_at"], pending_password_hash=m["pending_password_hash"],
                      pending_totp_sealed=m["pending_totp_sealed"])


class SqlInvitations:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, inv: Invitation, token_hash: bytes) -> None:
        await self._conn.execute(insert(invitation).values(
            id=inv.id, token_hash=token_hash, person_id=inv.person_id, org_id=inv.org_id,
            expires_at=inv.expires_at, used_at=inv.used_at, pending_password_hash=inv.pending_password_hash,
            pending_totp_sealed=inv.pending_totp_sealed))

    async def by_token_hash(self, token_hash: bytes, *, for_update: bool = False) -> Invitation | None:
        stmt = select(invitation).where(invitation.c.token_hash == token_hash)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return _invitation(row) if row else None

    async def accept(self, org_id: uuid.UUID, invitation_id: uuid.UUID, password_hash: str, totp_sealed: bytes) -> bool:
        # Conditional: of two acceptances racing on one link, only the first write matches.
        done = await self._conn.execute(update(invitation).where(
            invitation.c.org_id == org_id, invitation.c.id == invitation_id, invitation.c.used_at.is_(None),
            invitation.c.pending_password_hash.is_(None)).values(
            pending_password_hash=password_hash, pending_totp_sealed=totp_sealed))
        return bool(done.rowcount == 1)

    async def use(self, org_id: uuid.UUID, invitation_id: uuid.UUID, at: datetime) -> bool:
        done = await self._conn.execute(update(invitation).where(
            invitation.c.org_id == org_id, invitation.c.id == invitation_id,
            invitation.c.used_at.is_(None)).values(used_at=at))
        return bool(done.rowcount == 1)

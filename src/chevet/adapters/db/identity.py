"""Storage of the identity feature: passkeys, recovery codes, WebAuthn challenges, session
authentication details and per-organisation session policies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.people import _PUBLIC, _person
from chevet.adapters.db.schema import invitation, person, session
from chevet.adapters.db.schema_identity import (
    org_session_policy,
    passkey,
    recovery_code,
    session_auth,
    webauthn_challenge,
)
from chevet.core.entities import Person
from chevet.core.identity import Challenge, Passkey, SessionPolicy


def _passkey(row: Any) -> Passkey:
    m = row._mapping
    return Passkey(id=m["id"], org_id=m["org_id"], person_id=m["person_id"], credential_id=bytes(m["credential_id"]),
                   public_key=bytes(m["public_key"]), sign_count=m["sign_count"], name=m["name"],
                   transports=m["transports"], created_at=m["created_at"], last_used_at=m["last_used_at"],
                   revoked_at=m["revoked_at"])


class SqlPasskeys:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, p: Passkey) -> None:
        await self._conn.execute(insert(passkey).values(
            id=p.id, org_id=p.org_id, person_id=p.person_id, credential_id=p.credential_id, public_key=p.public_key,
            sign_count=p.sign_count, name=p.name, transports=p.transports, created_at=p.created_at,
            last_used_at=p.last_used_at, revoked_at=p.revoked_at))

    async def for_person(self, org_id: uuid.UUID, person_id: uuid.UUID) -> list[Passkey]:
        rows = await self._conn.execute(select(passkey).where(
            passkey.c.org_id == org_id, passkey.c.person_id == person_id, passkey.c.revoked_at.is_(None))
            .order_by(passkey.c.created_at))
        return [_passkey(r) for r in rows]

    async def by_credential_id(self, credential_id: bytes, *, for_update: bool = False) -> Passkey | None:
        stmt = select(passkey).where(passkey.c.credential_id == credential_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return _passkey(row) if row else None

    async def used(self, passkey_id: uuid.UUID, sign_count: int, at: datetime) -> None:
        await self._conn.execute(update(passkey).where(passkey.c.id == passkey_id).values(
            sign_count=sign_count, last_used_at=at))

    async def revoke(self, org_id: uuid.UUID, person_id: uuid.UUID, passkey_id: uuid.UUID, at: datetime) -> bool:
        result = await self._conn.execute(update(passkey).where(
            passkey.c.org_id == org_id, passkey.c.person_id == person_id, passkey.c.id == passkey_id,
            passkey.c.revoked_at.is_(None)).values(revoked_at=at))
        return bool(result.rowcount)


class SqlRecoveryCodes:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def replace(self, org_id: uuid.UUID, person_id: uuid.UUID, hashes: list[bytes], at: datetime) -> None:
        await self._conn.execute(delete(recovery_code).where(recovery_code.c.person_id == person_id))
        if hashes:
            await self._conn.execute(insert(recovery_code), [
                {"person_id": person_id, "code_hash": h, "org_id": org_id, "created_at": at, "used_at": None}
                for h in hashes])

    async def use(self, person_id: uuid.UUID, code_hash: bytes, at: datetime) -> bool:
        result = await self._conn.execute(update(recovery_code).where(
            recovery_code.c.person_id == person_id, recovery_code.c.code_hash == code_hash,
            recovery_code.c.used_at.is_(None)).values(used_at=at))
        return bool(result.rowcount)

    async def remaining(self, person_id: uuid.UUID) -> int:
        rows = await self._conn.execute(select(recovery_code.c.code_hash).where(
            recovery_code.c.person_id == person_id, recovery_code.c.used_at.is_(None)))
        return len(rows.all())


class SqlChallenges:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, c: Challenge) -> None:
        await self._conn.execute(insert(webauthn_challenge).values(
            id=c.id, challenge=c.challenge, purpose=c.purpose, person_id=c.person_id, org_id=c.org_id,
            expires_at=c.expires_at))

    async def take(self, challenge_id: uuid.UUID, now: datetime) -> Challenge | None:
        """The challenge, removed so that it serves once; expired ones are swept on the way."""
        await self._conn.execute(delete(webauthn_challenge).where(webauthn_challenge.c.expires_at <= now))
        row = (await self._conn.execute(select(webauthn_challenge).where(
            webauthn_challenge.c.id == challenge_id))).first()
        if row is None:
            return None
        result = await self._conn.execute(delete(webauthn_challenge).where(webauthn_challenge.c.id == challenge_id))
        if not result.rowcount:
            return None
        m = row._mapping
        return Challenge(id=m["id"], challenge=bytes(m["challenge"]), purpose=m["purpose"], person_id=m["person_id"],
                         org_id=m["org_id"], expires_at=m["expires_at"])


class SqlSessionSecurity:
    """What a session knows about how and when its person last proved who they are, and the
    organisation's session policy."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def record(self, session_id: uuid.UUID, org_id: uuid.UUID, at: datetime,
                     psc_id_token_sealed: bytes | None = None, psc_sid: str | None = None) -> None:
        await self._conn.execute(insert(session_auth).values(
            session_id=session_id, org_id=org_id, authenticated_at=at, psc_id_token_sealed=psc_id_token_sealed,
            psc_sid=psc_sid))

    async def reauthenticated(self, session_id: uuid.UUID, at: datetime) -> None:
        result = await self._conn.execute(update(session_auth).where(session_auth.c.session_id == session_id)
                                          .values(authenticated_at=at))
        if not result.rowcount:
            row = (await self._conn.execute(select(session_auth.c.session_id).where(
                session_auth.c.session_id == session_id))).first()
            if row is None:
                org = (await self._conn.execute(select(session.c.org_id).where(session.c.id == session_id))).scalar()
                if org is not None:
                    await self.record(session_id, org, at)

    async def store_psc_id_token(self, session_id: uuid.UUID, sealed: bytes) -> None:
        await self._conn.execute(update(session_auth).where(session_auth.c.session_id == session_id)
                                 .values(psc_id_token_sealed=sealed))

    async def authenticated_at(self, session_id: uuid.UUID) -> datetime | None:
        return (await self._conn.execute(select(session_auth.c.authenticated_at).where(
            session_auth.c.session_id == session_id))).scalar()

    async def psc_id_token(self, session_id: uuid.UUID) -> bytes | None:
        value = (await self._conn.execute(select(session_auth.c.psc_id_token_sealed).where(
            session_auth.c.session_id == session_id))).scalar()
        return bytes(value) if value is not None else None

    async def sessions_with_psc_sid(self, sid: str) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(session id, person id) of the sessions opened by one Pro Santé Connect session."""
        rows = await self._conn.execute(select(session.c.id, session.c.person_id).join(
            session_auth, session_auth.c.session_id == session.c.id).where(session_auth.c.psc_sid == sid))
        return [(r[0], r[1]) for r in rows]

    async def policy(self, org_id: uuid.UUID) -> SessionPolicy | None:
        row = (await self._conn.execute(select(org_session_policy).where(
            org_session_policy.c.org_id == org_id))).first()
        if row is None:
            return None
        m = row._mapping
        return SessionPolicy.of_minutes(m["idle_minutes"], m["absolute_minutes"], m["reauth_minutes"])

    async def set_policy(self, org_id: uuid.UUID, policy: SessionPolicy) -> None:
        values = policy.minutes()
        result = await self._conn.execute(update(org_session_policy).where(
            org_session_policy.c.org_id == org_id).values(**values))
        if not result.rowcount:
            await self._conn.execute(insert(org_session_policy).values(org_id=org_id, **values))

    async def people_by_rpps(self, rpps: str) -> list[Person]:
        """Everyone carrying this RPPS/ADELI number, in every organisation (one professional
        may work for several); the caller decides which organisation the login is for."""
        rows = await self._conn.execute(select(*_PUBLIC).where(person.c.rpps == rpps).order_by(person.c.created_at))
        return [_person(r) for r in rows]

    async def open_invitation_of(self, person_id: uuid.UUID, now: datetime) -> uuid.UUID | None:
        return (await self._conn.execute(select(invitation.c.id).where(
            invitation.c.person_id == person_id, invitation.c.used_at.is_(None),
            invitation.c.expires_at > now))).scalar()

    async def close_invitation(self, invitation_id: uuid.UUID, at: datetime) -> None:
        await self._conn.execute(update(invitation).where(invitation.c.id == invitation_id).values(used_at=at))

"""Whole-organisation reads and writes for exports, imports and subject access requests."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.conversations import _CONV, _conversation, _membership
from chevet.adapters.db.entries import _COLS as _ENTRY_COLS
from chevet.adapters.db.entries import _entry
from chevet.adapters.db.people import _PUBLIC, _person
from chevet.adapters.db.schema import (
    conversation,
    entry,
    invitation,
    member,
    mention,
    person,
    session,
    team,
    team_member,
)
from chevet.core.entities import Conversation, Entry, Membership, Person, Team
from chevet.core.message import EntryKind


class SqlArchive:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def people(self, org_id: uuid.UUID) -> list[Person]:
        rows = await self._conn.execute(select(*_PUBLIC).where(person.c.org_id == org_id)
                                        .order_by(person.c.created_at, person.c.id))
        return [_person(r) for r in rows]

    async def teams(self, org_id: uuid.UUID) -> list[tuple[Team, list[uuid.UUID]]]:
        rows = list(await self._conn.execute(select(team).where(team.c.org_id == org_id)
                                             .order_by(team.c.created_at, team.c.id)))
        out = []
        for r in rows:
            members = await self._conn.execute(select(team_member.c.person_id).where(team_member.c.team_id == r.id)
                                               .order_by(team_member.c.person_id))
            out.append((Team(r.id, r.org_id, r.name, r.created_at), [m[0] for m in members]))
        return out

    async def conversations(self, org_id: uuid.UUID) -> list[tuple[Conversation, datetime, str | None]]:
        """Each conversation with its last activity and its direct pair key."""
        rows = await self._conn.execute(select(*_CONV, conversation.c.last_activity, conversation.c.direct_pair)
                                        .where(conversation.c.org_id == org_id)
                                        .order_by(conversation.c.created_at, conversation.c.id))
        return [(_conversation(r), r.last_activity, r.direct_pair) for r in rows]

    async def memberships(self, conversation_id: uuid.UUID) -> list[Membership]:
        rows = await self._conn.execute(select(member).where(member.c.conversation_id == conversation_id)
                                        .order_by(member.c.joined_at, member.c.person_id))
        return [_membership(r) for r in rows]

    async def memberships_of(self, org_id: uuid.UUID, person_id: uuid.UUID) -> list[Membership]:
        rows = await self._conn.execute(select(member).join(conversation, conversation.c.id == member.c.conversation_id)
                                        .where(member.c.person_id == person_id, conversation.c.org_id == org_id))
        return [_membership(r) for r in rows]

    async def entries(self, conversation_id: uuid.UUID, after_seq: int = 0, limit: int = 5000) -> list[Entry]:
        rows = await self._conn.execute(select(*_ENTRY_COLS).where(
            entry.c.conversation_id == conversation_id, entry.c.seq > after_seq).order_by(entry.c.seq).limit(limit))
        return [_entry(r) for r in rows]

    async def mentions(self, conversation_id: uuid.UUID) -> dict[int, list[uuid.UUID]]:
        out: dict[int, list[uuid.UUID]] = {}
        for r in await self._conn.execute(select(mention).where(mention.c.conversation_id == conversation_id)
                                          .order_by(mention.c.seq, mention.c.person_id)):
            out.setdefault(int(r.seq), []).append(r.person_id)
        return out

    async def authored(self, org_id: uuid.UUID, person_id: uuid.UUID) -> list[Entry]:
        joined = select(*_ENTRY_COLS).join(conversation, conversation.c.id == entry.c.conversation_id)
        rows = await self._conn.execute(joined.where(conversation.c.org_id == org_id, entry.c.author_id == person_id,
                                               entry.c.kind == int(EntryKind.MESSAGE))
                                        .order_by(entry.c.created_at, entry.c.seq))
        return [_entry(r) for r in rows]

    async def conversation_exists(self, ids: list[uuid.UUID]) -> bool:
        for start in range(0, len(ids), 500):
            found = (await self._conn.execute(select(conversation.c.id).where(
                conversation.c.id.in_(ids[start:start + 500])).limit(1))).first()
            if found:
                return True
        return False

    async def person_exists(self, ids: list[uuid.UUID]) -> bool:
        for start in range(0, len(ids), 500):
            found = (await self._conn.execute(select(person.c.id).where(
                person.c.id.in_(ids[start:start + 500])).limit(1))).first()
            if found:
                return True
        return False

    async def add_team(self, t: Team, member_ids: list[uuid.UUID]) -> None:
        await self._conn.execute(insert(team).values(id=t.id, org_id=t.org_id, name=t.name, created_at=t.created_at))
        if member_ids:
            await self._conn.execute(insert(team_member), [{"team_id": t.id, "person_id": p} for p in member_ids])

    async def set_last_activity(self, conversation_id: uuid.UUID, at: datetime) -> None:
        await self._conn.execute(update(conversation).where(conversation.c.id == conversation_id)
                                 .values(last_activity=at))

    async def anonymise_person(self, org_id: uuid.UUID, person_id: uuid.UUID, *, name: str, email: str) -> None:
        """Remove identity and credentials; the id stays so that the team's history keeps its shape."""
        await self._conn.execute(update(person).where(person.c.org_id == org_id, person.c.id == person_id).values(
            name=name, email=email, rpps=None, password_hash=None, totp_sealed=None, totp_last_step=None,
            address_key=None))  # the sign-in addresses sealed in the audit trail can no longer be opened
        await self._conn.execute(update(session).where(session.c.person_id == person_id).values(
            user_agent="", ip=None))
        await self._conn.execute(delete(invitation).where(invitation.c.person_id == person_id))
        await self._conn.execute(delete(team_member).where(team_member.c.person_id == person_id))

    async def counts(self, org_id: uuid.UUID) -> dict[str, Any]:
        from sqlalchemy import func

        people = (await self._conn.execute(select(func.count()).where(person.c.org_id == org_id))).one()[0]
        convs = (await self._conn.execute(select(func.count()).where(conversation.c.org_id == org_id))).one()[0]
        return {"people": int(people), "conversations": int(convs)}

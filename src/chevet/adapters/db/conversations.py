from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema import conversation, conversation_key, entry, member, mention
from chevet.core.conversation import ConversationKind
from chevet.core.entities import Conversation, ConversationSummary, Membership
from chevet.core.message import EntryKind, MessageFlag

_CONV = [conversation.c.id, conversation.c.org_id, conversation.c.kind, conversation.c.title_sealed,
         conversation.c.ref_sealed, conversation.c.team_id, conversation.c.created_by,
         conversation.c.created_at, conversation.c.last_seq]


# The statements of the send path, built once: building and cache-keying a SQLAlchemy
# statement costs more CPU than SQLite takes to run it.
_GET = select(*_CONV).where(conversation.c.org_id == bindparam("org_id"), conversation.c.id == bindparam("id"))
_WRAPPED = select(conversation_key.c.wrapped).where(conversation_key.c.conversation_id == bindparam("id"))
_MEMBERSHIP = select(member).where(member.c.conversation_id == bindparam("cid"), member.c.person_id == bindparam("pid"))
_MEMBERS = select(member).where(member.c.conversation_id == bindparam("cid")).order_by(member.c.joined_at)
# Everything an action on a conversation checks first, in one round trip: the conversation (in
# the actors' organisation), the actors' memberships and the wrapped key.
_ACCESS = (select(*_CONV, member.c.person_id, member.c.is_owner, member.c.visible_from_seq, member.c.read_seq,
                  member.c.joined_at, conversation_key.c.wrapped)
           .join(member, and_(member.c.conversation_id == conversation.c.id,
                              member.c.person_id.in_(bindparam("pids", expanding=True))))
           .join(conversation_key, conversation_key.c.conversation_id == conversation.c.id)
           .where(conversation.c.org_id == bindparam("org_id"), conversation.c.id == bindparam("id")))
_NEXT_SEQ = (update(conversation).where(conversation.c.id == bindparam("cid"))
             .values(last_seq=conversation.c.last_seq + bindparam("n"), last_activity=bindparam("at"))
             .returning(conversation.c.last_seq))


def _conversation(row: Any) -> Conversation:
    m = row._mapping
    return Conversation(id=m["id"], org_id=m["org_id"], kind=ConversationKind(m["kind"]),
                        title_sealed=m["title_sealed"], ref_sealed=m["ref_sealed"], team_id=m["team_id"],
                        created_by=m["created_by"], created_at=m["created_at"], last_seq=m["last_seq"])


def _membership(row: Any) -> Membership:
    m = row._mapping
    return Membership(conversation_id=m["conversation_id"], person_id=m["person_id"], is_owner=m["is_owner"],
                      visible_from_seq=m["visible_from_seq"], read_seq=m["read_seq"], joined_at=m["joined_at"])


def direct_pair(a: uuid.UUID, b: uuid.UUID) -> str:
    low, high = sorted((a.hex, b.hex))
    return f"{low}:{high}"


class SqlConversations:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, c: Conversation, wrapped_key: bytes,
                  pair: tuple[uuid.UUID, uuid.UUID] | None = None) -> None:
        await self._conn.execute(insert(conversation).values(
            id=c.id, org_id=c.org_id, kind=c.kind.value, title_sealed=c.title_sealed, ref_sealed=c.ref_sealed,
            team_id=c.team_id, created_by=c.created_by, created_at=c.created_at, last_seq=c.last_seq,
            last_activity=c.created_at, direct_pair=direct_pair(*pair) if pair else None))
        await self._conn.execute(insert(conversation_key).values(conversation_id=c.id, wrapped=wrapped_key))

    async def get(self, org_id: uuid.UUID, conversation_id: uuid.UUID) -> Conversation | None:
        row = (await self._conn.execute(_GET, {"org_id": org_id, "id": conversation_id})).first()
        return _conversation(row) if row else None

    async def access_of(self, org_id: uuid.UUID, conversation_id: uuid.UUID, person_ids: Sequence[uuid.UUID],
                        ) -> tuple[Conversation, bytes, dict[uuid.UUID, Membership]] | None:
        rows = list(await self._conn.execute(_ACCESS, {"org_id": org_id, "id": conversation_id,
                                                       "pids": list(person_ids)}))
        if not rows:
            return None
        members = {}
        for row in rows:
            m = row._mapping
            members[m["person_id"]] = Membership(
                conversation_id=conversation_id, person_id=m["person_id"], is_owner=m["is_owner"],
                visible_from_seq=m["visible_from_seq"], read_seq=m["read_seq"], joined_at=m["joined_at"])
        return _conversation(rows[0]), bytes(rows[0]._mapping["wrapped"]), members

    async def wrapped_key(self, conversation_id: uuid.UUID) -> bytes | None:
        row = (await self._conn.execute(_WRAPPED, {"id": conversation_id})).first()
        return bytes(row[0]) if row else None

    async def destroy_key(self, conversation_id: uuid.UUID) -> None:
        await self._conn.execute(delete(conversation_key).where(
            conversation_key.c.conversation_id == conversation_id))

    async def next_seq(self, conversation_id: uuid.UUID, at: datetime, count: int = 1) -> int:
        # The UPDATE takes the row lock that orders concurrent writers; it is released at commit,
        # so sequence numbers become visible in order.
        row = (await self._conn.execute(_NEXT_SEQ, {"cid": conversation_id, "at": at, "n": count})).one()
        return int(row[0])

    async def release_seqs(self, conversation_id: uuid.UUID, count: int) -> None:
        await self._conn.execute(update(conversation).where(conversation.c.id == conversation_id)
                                 .values(last_seq=conversation.c.last_seq - count))

    async def add_member(self, ms: Membership) -> None:
        await self._conn.execute(insert(member).values(
            conversation_id=ms.conversation_id, person_id=ms.person_id, is_owner=ms.is_owner,
            visible_from_seq=ms.visible_from_seq, read_seq=ms.read_seq, joined_at=ms.joined_at))

    async def remove_member(self, conversation_id: uuid.UUID, person_id: uuid.UUID) -> None:
        await self._conn.execute(delete(member).where(member.c.conversation_id == conversation_id,
                                                      member.c.person_id == person_id))

    async def membership(self, conversation_id: uuid.UUID, person_id: uuid.UUID) -> Membership | None:
        row = (await self._conn.execute(_MEMBERSHIP, {"cid": conversation_id, "pid": person_id})).first()
        return _membership(row) if row else None

    async def members(self, conversation_id: uuid.UUID) -> list[Membership]:
        rows = await self._conn.execute(_MEMBERS, {"cid": conversation_id})
        return [_membership(r) for r in rows]

    async def set_read(self, conversation_id: uuid.UUID, person_id: uuid.UUID, seq: int) -> None:
        await self._conn.execute(update(member).where(
            member.c.conversation_id == conversation_id, member.c.person_id == person_id,
            member.c.read_seq < seq).values(read_seq=seq))

    async def ids_for(self, org_id: uuid.UUID, person_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self._conn.execute(
            select(member.c.conversation_id).join(conversation, conversation.c.id == member.c.conversation_id)
            .where(member.c.person_id == person_id, conversation.c.org_id == org_id))
        return [r[0] for r in rows]

    async def positions(self, org_id: uuid.UUID, person_id: uuid.UUID) -> dict[uuid.UUID, int]:
        rows = await self._conn.execute(
            select(conversation.c.id, conversation.c.last_seq)
            .join(member, member.c.conversation_id == conversation.c.id)
            .where(member.c.person_id == person_id, conversation.c.org_id == org_id))
        return {r[0]: int(r[1]) for r in rows}

    async def direct_between(self, org_id: uuid.UUID, a: uuid.UUID, b: uuid.UUID) -> Conversation | None:
        row = (await self._conn.execute(select(*_CONV).where(
            conversation.c.org_id == org_id, conversation.c.direct_pair == direct_pair(a, b)))).first()
        return _conversation(row) if row else None

    async def team_channels(self, org_id: uuid.UUID, team_ids: Sequence[uuid.UUID]) -> list[Conversation]:
        if not team_ids:
            return []
        rows = await self._conn.execute(select(*_CONV).where(
            conversation.c.org_id == org_id, conversation.c.team_id.in_(list(team_ids))))
        return [_conversation(r) for r in rows]

    async def care_cases(self, org_id: uuid.UUID) -> list[Conversation]:
        rows = await self._conn.execute(select(*_CONV).where(
            conversation.c.org_id == org_id, conversation.c.kind == ConversationKind.CARE_CASE.value))
        return [_conversation(r) for r in rows]

    async def summaries(self, org_id: uuid.UUID, person_id: uuid.UUID) -> list[ConversationSummary]:
        unseen = and_(entry.c.conversation_id == conversation.c.id, entry.c.seq > member.c.read_seq,
                      entry.c.seq >= member.c.visible_from_seq, entry.c.kind == int(EntryKind.MESSAGE),
                      entry.c.author_id != person_id,
                      entry.c.flags.op("&")(int(MessageFlag.DELETED)) == 0)
        unread = select(func.count()).where(unseen).scalar_subquery()
        urgent = select(func.count()).where(
            unseen, entry.c.flags.op("&")(int(MessageFlag.URGENT)) != 0).scalar_subquery()
        mentions = select(func.count()).where(
            mention.c.conversation_id == conversation.c.id, mention.c.person_id == person_id,
            mention.c.seq > member.c.read_seq).scalar_subquery()
        stmt = (select(*_CONV, member, conversation.c.last_activity,
                       unread.label("unread"), urgent.label("urgent"), mentions.label("mentions"))
                .join(member, member.c.conversation_id == conversation.c.id)
                .where(member.c.person_id == person_id, conversation.c.org_id == org_id)
                .order_by(conversation.c.last_activity.desc()))
        out = []
        for row in await self._conn.execute(stmt):
            m = row._mapping
            out.append(ConversationSummary(
                conversation=_conversation(row), membership=_membership(row), unread=m["unread"],
                unread_mentions=m["mentions"], unread_urgent=m["urgent"], last_activity=m["last_activity"]))
        return out

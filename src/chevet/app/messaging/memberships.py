"""Who is in a conversation and how far each has read: member management and read markers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from chevet.app.access import conversation_access
from chevet.app.services import Actor, Services
from chevet.core.roles import Role


@dataclass(frozen=True, slots=True)
class MemberView:
    id: uuid.UUID
    name: str
    role: Role
    is_owner: bool
    read_seq: int


async def members_of(services: Services, actor: Actor, conversation_id: uuid.UUID) -> list[MemberView]:
    """The members of a conversation the actor belongs to (else NotFound), with their read cursor."""
    async with services.db.transaction() as tx:
        await conversation_access(services, tx, actor, conversation_id)
        memberships = await tx.conversations.members(conversation_id)
        people = {p.id: p for p in await tx.people.many(actor.org_id, [m.person_id for m in memberships])}
    out = [MemberView(m.person_id, people[m.person_id].name, people[m.person_id].role, m.is_owner, m.read_seq)
           for m in memberships if m.person_id in people]
    return sorted(out, key=lambda m: m.name.lower())

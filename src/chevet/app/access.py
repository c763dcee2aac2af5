"""Who may do what: the permission checks every feature makes before acting.

``require`` refuses an actor whose role lacks a permission. ``conversation_access`` is the one
permission-checked way to reach a conversation: another organisation's conversation, or one
the caller is not a member of, is simply not found. ``report_functions`` are the report
handling functions an actor holds (by role or designation).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from chevet.app.services import Actor, Services
from chevet.core.entities import Conversation, Membership
from chevet.core.envelope import DataKey
from chevet.core.errors import Forbidden, NotFound
from chevet.core.roles import Permission, can
from chevet.core.signalement.report import ReportFunction, functions_of
from chevet.ports import Transaction


def require(actor: Actor | None, permission: Permission) -> None:
    """``None`` is the installation itself (the operator's command line), which may do anything."""
    if actor is not None and not can(actor.person.role, permission):
        raise Forbidden("forbidden")


@dataclass(frozen=True, slots=True)
class Access:
    conversation: Conversation
    membership: Membership
    key: DataKey


async def conversation_access(services: Services, tx: Transaction, actor: Actor, conversation_id: uuid.UUID) -> Access:
    found = (await conversation_accesses(services, tx, [actor], conversation_id)).get(actor.id)
    if found is None:
        raise NotFound("conversation_not_found")
    return found


async def conversation_accesses(services: Services, tx: Transaction, actors: Sequence[Actor],
                        conversation_id: uuid.UUID) -> dict[uuid.UUID, Access]:
    """``conversation_access`` for several actors at once: those who may reach it, by person."""
    out: dict[uuid.UUID, Access] = {}
    for org_id in {a.org_id for a in actors}:
        found = await tx.conversations.access_of(org_id, conversation_id,
                                                 list({a.id for a in actors if a.org_id == org_id}))
        if found is not None:
            conv, wrapped, memberships = found
            key = await services.unwrap_key(conv.org_id, conv.id, wrapped)
            out.update((pid, Access(conv, ms, key)) for pid, ms in memberships.items())
    return out


async def report_functions(tx: Transaction, actor: Actor) -> frozenset[ReportFunction]:
    mine = [f for pid, f in await tx.reports.designations(actor.org_id) if pid == actor.id]
    return functions_of(actor.person.role, mine)

"""Organisation keys on SQLite and PostgreSQL: a new conversation's key is wrapped under its
organisation's key version 1, does not open for another organisation, and a master-key
rotation leaves it alone."""

from __future__ import annotations

import uuid

import pytest

from chevet.app.identity import keys as key_actions
from chevet.app.messaging import conversations
from chevet.bootstrap import Installation
from chevet.core.errors import IntegrityError
from tests.support import new_member, new_org


async def test_new_conversation_key_is_under_the_organisation_key(installation: Installation) -> None:
    svc = installation.services
    org, other = await new_org(svc), await new_org(svc)
    a, b = await new_member(svc, org, "nurse"), await new_member(svc, org, "nurse")
    view, _ = await conversations.create_conversation(svc, a.actor, kind="group", title="Nuit", member_ids=[b.id])
    cid = uuid.UUID(str(view["id"]))
    async with svc.db.transaction() as tx:
        wrapped = await tx.conversations.wrapped_key(cid)
        rows = await tx.organisation_keys.of(org.id)
    assert wrapped is not None and wrapped[0] == 0x03 and svc.org_keys.version_of(wrapped) == 1
    assert [(k.version, k.provider, k.state) for k in rows] == [(1, "file", "current")]
    svc.org_keys.wipe()
    await svc.unwrap_key(org.id, cid, wrapped)
    with pytest.raises(IntegrityError):
        await svc.unwrap_key(other.id, cid, wrapped)
    report = await key_actions.rewrap_all(svc)
    async with svc.db.transaction() as tx:
        assert await tx.conversations.wrapped_key(cid) == wrapped  # not the master key's to move
    assert report.done

"""A member of one organisation can neither read nor guess anything of another."""

from __future__ import annotations

import uuid

import pytest

from chevet.app.identity import people
from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
from chevet.core.errors import NotFound
from tests.support import new_member, new_org


async def test_another_organisation_sees_nothing(installation: Installation) -> None:
    svc = installation.services
    org_a, org_b = await new_org(svc), await new_org(svc)
    a1, a2 = await new_member(svc, org_a, "nurse"), await new_member(svc, org_a, "physician")
    intruder = await new_member(svc, org_b, "admin")
    view, _ = await conversations.create_conversation(svc, a1.actor, kind="care_case", title="Chambre 3",
                                                      member_ids=[a2.id], care_case_ref="CH3")
    cid = uuid.UUID(view["id"])
    sent, _ = await messages.send_message(svc, a1.actor, cid, body="confidentiel escarre", client_id="1")
    mid = uuid.UUID(sent["id"])

    for attempt in (
        conversations.get_conversation(svc, intruder.actor, cid),
        messages.history(svc, intruder.actor, cid),
        messages.send_message(svc, intruder.actor, cid, body="x", client_id="2"),
        messages.edit_message(svc, intruder.actor, cid, mid, "x"),
        messages.delete_message(svc, intruder.actor, cid, mid),
        conversations.mark_read(svc, intruder.actor, cid, 1),
        conversations.add_member(svc, intruder.actor, cid, intruder.id),
        conversations.remove_member(svc, intruder.actor, cid, a1.id),
        people.set_role(svc, intruder.actor, a1.id, "external"),
        people.deactivate(svc, intruder.actor, a1.id),
    ):
        with pytest.raises(NotFound):
            await attempt
    assert await conversations.list_conversations(svc, intruder.actor) == []
    assert await messages.search(svc, intruder.actor, "escarre") == []
    assert {p.id for p in await people.search_people(svc, intruder.actor, "")} == {intruder.id}
    with pytest.raises(Exception) as created:
        await conversations.create_conversation(svc, intruder.actor, kind="group", title="pièce",
                                                member_ids=[a1.id])
    assert created.value.code == "unknown_member"
    # an organisation's own members who are not in the conversation do not see it either
    a3 = await new_member(svc, org_a, "nurse")
    with pytest.raises(NotFound):
        await messages.history(svc, a3.actor, cid)
    assert await messages.search(svc, a3.actor, "escarre") == []

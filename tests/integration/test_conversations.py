"""Conversations and messages through the application layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
from chevet.core.errors import Forbidden, InvalidInput, NotFound
from tests.support import new_member, new_org


async def _team(installation: Installation, *roles: str):
    svc = installation.services
    org = await new_org(svc)
    return svc, org, [await new_member(svc, org, r) for r in roles]


async def test_idempotent_send_returns_the_first_message(installation: Installation) -> None:
    svc, _, (a, b) = await _team(installation, "nurse", "physician")
    view, _ = await conversations.create_conversation(svc, a.actor, kind="group", title="Nuit", member_ids=[b.id])
    cid = uuid.UUID(view["id"])
    first, created = await messages.send_message(svc, a.actor, cid, body="Tension 14/9", client_id="k1")
    again, created_again = await messages.send_message(svc, a.actor, cid, body="autre texte", client_id="k1")
    assert created and not created_again
    assert again["id"] == first["id"] and again["seq"] == first["seq"] and again["body"] == "Tension 14/9"
    # the same key from another author is another message
    other, created_other = await messages.send_message(svc, b.actor, cid, body="Vu", client_id="k1")
    assert created_other and other["id"] != first["id"]
    page = await messages.history(svc, a.actor, cid)
    assert [m.get("body") for m in page if m.get("type") is None] == ["Tension 14/9", "Vu"]


async def test_concurrent_sends_get_dense_ordered_sequence_numbers(installation: Installation) -> None:
    svc, _, (a, b) = await _team(installation, "nurse", "nurse")
    view, _ = await conversations.create_conversation(svc, a.actor, kind="group", title="Jour", member_ids=[b.id])
    cid = uuid.UUID(view["id"])
    results = await asyncio.gather(*[
        messages.send_message(svc, (a if i % 2 else b).actor, cid, body=f"message {i}", client_id=f"c{i}")
        for i in range(30)] + [messages.send_message(svc, a.actor, cid, body="doublon", client_id="c1")
                               for _ in range(5)])
    seqs = sorted({m["seq"] for m, _ in results})
    assert len(seqs) == 30 and seqs == list(range(seqs[0], seqs[0] + 30))
    assert sum(1 for _, created in results if created) == 30


async def test_edit_and_delete_leave_visible_traces(installation: Installation) -> None:
    svc, _, (a, b, manager) = await _team(installation, "nurse", "physician", "manager")
    view, _ = await conversations.create_conversation(svc, a.actor, kind="group", title="Plaies",
                                                      member_ids=[b.id, manager.id])
    cid = uuid.UUID(view["id"])
    m, _ = await messages.send_message(svc, a.actor, cid, body="Pansement refait à 8h", client_id="x")
    mid = uuid.UUID(m["id"])
    with pytest.raises(Forbidden):
        await messages.edit_message(svc, b.actor, cid, mid, "falsifié")
    edited = await messages.edit_message(svc, a.actor, cid, mid, "Pansement refait à 9h")
    assert edited["edited"] and edited["body"] == "Pansement refait à 9h" and edited["edited_at"]
    assert await messages.search(svc, b.actor, "9h") and not await messages.search(svc, b.actor, "8h")
    await messages.delete_message(svc, manager.actor, cid, mid)  # moderation by a manager
    page = [x for x in await messages.history(svc, b.actor, cid) if x.get("id") == m["id"]]
    assert page[0]["deleted"] and page[0]["body"] is None
    assert not await messages.search(svc, b.actor, "pansement")
    with pytest.raises(InvalidInput):
        await messages.edit_message(svc, a.actor, cid, mid, "ressuscité")
    # the stream replay shows both traces, in order
    events, _ = await messages.catch_up(svc, b.actor, {cid: 0})
    kinds = [e.payload["type"] for e in events]
    assert kinds[-3:] == ["message", "message.edited", "message.deleted"]
    assert events[-1].payload["message"]["deleted"] is True


async def test_unread_counts_mentions_and_urgent(installation: Installation) -> None:
    svc, _, (a, b) = await _team(installation, "nurse", "physician")
    view, _ = await conversations.create_conversation(svc, a.actor, kind="care_case", title="",
                                                      member_ids=[b.id], care_case_ref="CH7")
    cid = uuid.UUID(view["id"])
    await messages.send_message(svc, a.actor, cid, body="Constantes stables", client_id="1")
    await messages.send_message(svc, a.actor, cid, body=f"@[{b.id}] pouvez-vous passer ?", client_id="2",
                                urgent=True)
    last, _ = await messages.send_message(svc, a.actor, cid, body="Merci", client_id="3")
    [summary] = await conversations.list_conversations(svc, b.actor)
    assert (summary["unread"], summary["unread_mentions"], summary["unread_urgent"]) == (3, 1, 1)
    assert summary["care_case_ref"] == "CH7"
    [mine] = await conversations.list_conversations(svc, a.actor)
    assert mine["unread"] == 0  # one's own messages are never unread
    assert await conversations.mark_read(svc, b.actor, cid, last["seq"]) == last["seq"]
    assert await conversations.mark_read(svc, b.actor, cid, 1) == last["seq"]  # never goes back
    [summary] = await conversations.list_conversations(svc, b.actor)
    assert (summary["unread"], summary["unread_mentions"], summary["unread_urgent"]) == (0, 0, 0)


async def test_membership_rules_and_history_sharing(installation: Installation) -> None:
    svc, _, (a, b, c, d) = await _team(installation, "nurse", "nurse", "care_assistant", "physician")
    view, _ = await conversations.create_conversation(svc, a.actor, kind="group", title="Équipe", member_ids=[b.id])
    cid = uuid.UUID(view["id"])
    await messages.send_message(svc, a.actor, cid, body="avant arrivée", client_id="1")
    with pytest.raises(Forbidden):
        await conversations.add_member(svc, b.actor, cid, c.id)  # only owners and managers
    await conversations.add_member(svc, a.actor, cid, c.id, share_history=False)
    await conversations.add_member(svc, a.actor, cid, d.id, share_history=True)
    assert "avant arrivée" not in [m.get("body") for m in await messages.history(svc, c.actor, cid)]
    assert "avant arrivée" in [m.get("body") for m in await messages.history(svc, d.actor, cid)]
    with pytest.raises(InvalidInput):
        await conversations.add_member(svc, a.actor, cid, c.id)
    await conversations.remove_member(svc, c.actor, cid, c.id)  # leaving is always allowed
    with pytest.raises(NotFound):
        await messages.history(svc, c.actor, cid)
    direct, created = await conversations.create_conversation(svc, a.actor, kind="direct", title=None,
                                                              member_ids=[b.id])
    again, created_again = await conversations.create_conversation(svc, b.actor, kind="direct", title=None,
                                                                   member_ids=[a.id])
    assert created and not created_again and again["id"] == direct["id"]
    with pytest.raises(InvalidInput):
        await conversations.add_member(svc, a.actor, uuid.UUID(direct["id"]), c.id)


async def test_roles_limit_what_can_be_created(installation: Installation) -> None:
    svc, _, (ext, dpo, nurse) = await _team(installation, "external", "dpo", "nurse")
    with pytest.raises(Forbidden):
        await conversations.create_conversation(svc, ext.actor, kind="care_case", title="", member_ids=[nurse.id],
                                                care_case_ref="X1")
    with pytest.raises(Forbidden):
        await conversations.create_conversation(svc, dpo.actor, kind="care_case", title="", member_ids=[],
                                                care_case_ref="X1")
    with pytest.raises(Forbidden):
        await conversations.create_conversation(svc, nurse.actor, kind="team", title="Nuit", member_ids=[])
    with pytest.raises(InvalidInput):
        await conversations.create_conversation(svc, nurse.actor, kind="hologram", title="x", member_ids=[])


async def test_care_case_reads_are_audited(installation: Installation) -> None:
    svc, org, (a, b) = await _team(installation, "nurse", "physician")
    view, _ = await conversations.create_conversation(svc, a.actor, kind="care_case", title="",
                                                      member_ids=[b.id], care_case_ref="CH9")
    cid = uuid.UUID(view["id"])
    await messages.send_message(svc, a.actor, cid, body="Douleur 6/10", client_id="1")
    await messages.history(svc, b.actor, cid)
    async with svc.db.transaction() as tx:
        reads = await tx.audit.query(org.id, object_id=cid, actor_id=b.id)
    assert [e.action for e in reads] == ["care_case.read"]
    assert reads[0].detail["via"] == "history" and "Douleur" not in str(reads[0].detail)


async def test_teams_and_team_channels(installation: Installation) -> None:
    from chevet.app.messaging import teams

    svc, _, (manager, n1, n2, aide) = await _team(installation, "manager", "nurse", "nurse", "care_assistant")
    with pytest.raises(Forbidden):
        await teams.create_team(svc, n1.actor, "Nuit", [n1.id])
    night = await teams.create_team(svc, manager.actor, "  Nuit ", [n1.id, n2.id])
    assert night["name"] == "Nuit"
    with pytest.raises(Exception) as dup:
        await teams.create_team(svc, manager.actor, "nuit")
    assert dup.value.code == "team_exists"
    await teams.add_team_member(svc, manager.actor, uuid.UUID(night["id"]), aide.id)
    channel, _ = await conversations.create_conversation(svc, manager.actor, kind="team", title="Transmissions nuit",
                                                         member_ids=[], team_id=uuid.UUID(night["id"]))
    assert set(channel["member_ids"]) == {str(p.id) for p in (manager, n1, n2, aide)}
    await teams.remove_team_member(svc, manager.actor, uuid.UUID(night["id"]), aide.id)
    [listed] = await teams.list_teams(svc, n1.actor)
    assert set(listed["member_ids"]) == {str(n1.id), str(n2.id)}

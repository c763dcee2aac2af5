"""Sends that reach one conversation together are written in one transaction (group commit),
through the real send path over in-memory fakes: each send gets its own outcome, refusals take
nothing from the others, positions stay dense and in arrival order. (The same on SQLite and
PostgreSQL, with attachments: tests/integration/test_group_commit.py.)"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from chevet.app.messaging import messages
from chevet.core import blind_index
from chevet.core.conversation import ConversationKind
from chevet.core.errors import NotFound
from chevet.core.roles import Role
from tests.fakes.world import Member, World


def setup() -> tuple[World, Member, Member, Member, uuid.UUID]:
    w = World()
    org = w.organisation()
    a, b, outsider = w.member(org, Role.NURSE), w.member(org, Role.PHYSICIAN), w.member(org, Role.NURSE)
    return w, a, b, outsider, w.conversation(org, ConversationKind.GROUP, [a, b])


def sent_entries(w: World, org_id: uuid.UUID) -> list[tuple[uuid.UUID | None, int]]:
    return [(e.actor_id, e.detail["seq"]) for e in w.tables.audit.get(org_id, []) if e.action == "message.sent"]


async def test_a_batch_answers_every_send_on_its_own() -> None:
    w, a, b, outsider, cid = setup()
    earlier, _ = await messages.send_message(w.services, a.actor, cid, body="Chute chambre 12", client_id="e")
    commits, published = w.db.commits, len(w.bus.published)

    out = await asyncio.gather(
        messages.send_message(w.services, a.actor, cid, body="Constantes prises", client_id="1"),
        messages.send_message(w.services, b.actor, cid, body="Je passe à 22h", client_id="1",
                              reply_to=uuid.UUID(earlier["id"])),  # same client id, another author
        messages.send_message(w.services, a.actor, cid, body="réponse perdue", client_id="2", reply_to=uuid.uuid4()),
        messages.send_message(w.services, outsider.actor, cid, body="intrus", client_id="3"),
        messages.send_message(w.services, a.actor, cid, body="Constantes prises", client_id="1"),  # a retry
        messages.send_message(w.services, a.actor, cid, body="Chute chambre 12", client_id="e"),  # sent before
        messages.send_message(w.services, b.actor, cid, body="SpO2 88 %", client_id="6", urgent=True),
        return_exceptions=True)

    assert w.db.commits == commits + 1, "one transaction for the whole batch"
    first, second, lost, intruder, retry, again, urgent = out
    assert isinstance(lost, NotFound) and lost.code == "message_not_found"
    assert isinstance(intruder, NotFound) and intruder.code == "conversation_not_found"
    assert isinstance(first, tuple) and isinstance(second, tuple) and isinstance(urgent, tuple)
    assert isinstance(retry, tuple) and isinstance(again, tuple)
    assert [(m["body"], created) for m, created in (first, second, retry, again, urgent)] == [
        ("Constantes prises", True), ("Je passe à 22h", True), ("Constantes prises", False),
        ("Chute chambre 12", False), ("SpO2 88 %", True)]
    assert retry[0]["id"] == first[0]["id"] and again[0]["id"] == earlier["id"]
    assert second[0]["reply_to_seq"] == earlier["seq"] and urgent[0]["urgent"] and not first[0]["urgent"]

    # Dense positions in arrival order; the positions reserved for the refused and the retries
    # were given back, so the next send follows on.
    new = [first[0], second[0], urgent[0]]
    assert [m["seq"] for m in new] == [earlier["seq"] + 1, earlier["seq"] + 2, earlier["seq"] + 3]
    assert sorted(w.tables.entries[cid]) == list(range(1, earlier["seq"] + 4))
    assert w.tables.conversations[cid].conversation.last_seq == earlier["seq"] + 3
    assert [[e.seq for e in events] for events in w.bus.published[published:]] == [[m["seq"] for m in new]]
    assert sent_entries(w, a.actor.org_id)[1:] == [(a.id, new[0]["seq"]), (b.id, new[1]["seq"]),
                                                   (b.id, new[2]["seq"])]
    after, _ = await messages.send_message(w.services, b.actor, cid, body="suite", client_id="7")
    assert after["seq"] == earlier["seq"] + 4


async def test_sends_that_arrive_while_a_batch_is_written_go_together_in_the_next() -> None:
    w, a, b, _, cid = setup()
    first = asyncio.create_task(messages.send_message(w.services, a.actor, cid, body="un", client_id="1"))
    while not w.db.in_transaction:  # the first send's batch (itself alone) is being written
        await asyncio.sleep(0)
    rest = await asyncio.gather(*(messages.send_message(w.services, (b, a)[i % 2].actor, cid, body=text,
                                                        client_id=str(i + 2))
                                  for i, text in enumerate(["deux", "trois", "quatre"])))
    assert (await first)[0]["seq"] == 2 and [m["seq"] for m, _ in rest] == [3, 4, 5]
    assert [[e.seq for e in events] for events in w.bus.published] == [[2], [3, 4, 5]]
    assert w.db.commits == 2


async def test_a_batch_of_refusals_gives_every_position_back_and_publishes_nothing() -> None:
    w, a, _, outsider, cid = setup()
    last_seq = w.tables.conversations[cid].conversation.last_seq
    out = await asyncio.gather(
        messages.send_message(w.services, outsider.actor, cid, body="intrus", client_id="1"),
        messages.send_message(w.services, a.actor, cid, body="réponse perdue", client_id="2", reply_to=uuid.uuid4()),
        return_exceptions=True)
    assert [type(x) for x in out] == [NotFound, NotFound]
    assert w.tables.conversations[cid].conversation.last_seq == last_seq
    assert sorted(w.tables.entries[cid]) == list(range(1, last_seq + 1))
    assert w.bus.published == [] and sent_entries(w, a.actor.org_id) == []


async def test_a_batch_that_fails_is_written_again_send_by_send(monkeypatch: pytest.MonkeyPatch) -> None:
    """One send's unexpected failure rolls its batch back; the others are then written one by
    one and only that send fails."""
    w, a, b, _, cid = setup()
    terms = blind_index.terms

    def failing_terms(key: bytes, text: str) -> list[int]:
        if text == "panne":
            raise RuntimeError("an unexpected failure while writing this one")
        return terms(key, text)

    monkeypatch.setattr(blind_index, "terms", failing_terms)
    out = await asyncio.gather(*(messages.send_message(w.services, (a, b)[i % 2].actor, cid, body=text,
                                                       client_id=str(i))
                                 for i, text in enumerate(["avant", "panne", "après"])), return_exceptions=True)

    assert isinstance(out[1], RuntimeError)
    assert [(m["body"], m["seq"], created) for m, created in (out[0], out[2])] == [  # type: ignore[misc]
        ("avant", 2, True), ("après", 3, True)]
    assert w.db.rollbacks == 2  # the batch, then "panne" alone
    assert sorted(w.tables.entries[cid]) == [1, 2, 3] and len(w.bus.published) == 2

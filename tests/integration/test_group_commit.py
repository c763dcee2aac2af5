"""Sends that reach one conversation together are written in one transaction (group commit),
on SQLite and PostgreSQL: each still gets its own answer, refusals take nothing from the others,
the log stays dense and in arrival order, and every message keeps its own audit entry."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest

from chevet.app.attachments import upload
from chevet.app.governance import audit
from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
from chevet.core import blind_index
from chevet.core.entities import RealtimeEvent
from chevet.core.errors import InvalidInput, NotFound
from tests.media_samples import pdf
from tests.support import new_member, new_org


@dataclass
class Publications:
    calls: list[list[RealtimeEvent]] = field(default_factory=list)

    async def publish(self, events: Sequence[RealtimeEvent]) -> None:
        self.calls.append(list(events))

    async def start(self, deliver: Callable[[RealtimeEvent], None]) -> None:
        pass

    async def close(self) -> None:
        pass


async def test_a_batch_answers_every_send_on_its_own(installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc)
    a, b, outsider = [await new_member(svc, org, r) for r in ("nurse", "physician", "nurse")]
    view, _ = await conversations.create_conversation(svc, a.actor, kind="group", title="Nuit", member_ids=[b.id])
    cid = uuid.UUID(view["id"])
    earlier, _ = await messages.send_message(svc, a.actor, cid, body="Chute chambre 12", client_id="e")
    reply_to = uuid.UUID(earlier["id"])
    file_id = uuid.UUID((await upload.upload(svc, a.actor, cid, data=pdf("Bilan"), name="bilan.pdf"))[0]["id"])
    bus = Publications()
    svc.bus = bus
    sends = [
        messages.send_message(svc, a.actor, cid, body="Constantes prises", client_id="1"),
        messages.send_message(svc, b.actor, cid, body="Je passe à 22h", client_id="1", reply_to=reply_to),
        messages.send_message(svc, a.actor, cid, body="réponse perdue", client_id="2", reply_to=uuid.uuid4()),
        messages.send_message(svc, outsider.actor, cid, body="intrus", client_id="3"),
        messages.send_message(svc, a.actor, cid, body="Constantes prises", client_id="1"),  # a retry, same batch
        messages.send_message(svc, a.actor, cid, body="", client_id="4", attachment_ids=[file_id]),
        messages.send_message(svc, a.actor, cid, body="", client_id="5", attachment_ids=[file_id]),
        messages.send_message(svc, a.actor, cid, body="Chute chambre 12", client_id="e"),  # already sent before
        messages.send_message(svc, b.actor, cid, body="Urgent : SpO2 88 %", client_id="6", urgent=True),
    ]
    out = await asyncio.gather(*sends, return_exceptions=True)

    assert len(bus.calls) == 1, "all of them were written in one transaction"
    ok = [r for r in out if isinstance(r, tuple)]
    assert [(m["body"], created) for m, created in ok] == [
        ("Constantes prises", True), ("Je passe à 22h", True), ("Constantes prises", False), ("", True),
        ("Chute chambre 12", False), ("Urgent : SpO2 88 %", True)]
    assert out[4][0]["id"] == out[0][0]["id"] and out[7][0]["id"] == earlier["id"]  # type: ignore[index]
    assert isinstance(out[2], NotFound) and isinstance(out[3], NotFound)
    assert isinstance(out[6], InvalidInput)  # the file went with the message before it
    assert out[1][0]["reply_to_seq"] == earlier["seq"] and out[8][0]["urgent"]  # type: ignore[index]
    assert [att["id"] for att in out[5][0]["attachments"]] == [str(file_id)]  # type: ignore[index]

    # Dense, in arrival order, nothing reserved left unused; one event per new message.
    created = [m for m, new in ok if new]
    assert [m["seq"] for m in created] == list(range(earlier["seq"] + 1, earlier["seq"] + 5))
    assert [e.seq for e in bus.calls[0]] == [m["seq"] for m in created]
    after = await messages.send_message(svc, b.actor, cid, body="suite", client_id="7")
    assert after[0]["seq"] == created[-1]["seq"] + 1
    page = await messages.history(svc, b.actor, cid)
    assert [m.get("body") for m in page if m.get("type") is None][-6:] == [
        "Chute chambre 12", "Constantes prises", "Je passe à 22h", "", "Urgent : SpO2 88 %", "suite"]

    # Each message has its own audit entry, and the chain verifies.
    async with svc.db.transaction() as tx:
        sent = [e for e in await tx.audit.query(org.id, limit=50) if e.action == "message.sent"]
    assert sorted(e.detail["seq"] for e in sent) == [earlier["seq"], *(m["seq"] for m in created), after[0]["seq"]]
    assert {e.actor_id for e in sent} == {a.id, b.id}
    assert all(r.broken is None and r.entries for r in await audit.verify_audit(svc))


async def test_a_batch_that_fails_is_retried_send_by_send(installation: Installation,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    svc = installation.services
    org = await new_org(svc)
    a, b = await new_member(svc, org, "nurse"), await new_member(svc, org, "physician")
    view, _ = await conversations.create_conversation(svc, a.actor, kind="group", title="Jour", member_ids=[b.id])
    cid = uuid.UUID(view["id"])
    terms = blind_index.terms

    def failing_terms(key: bytes, text: str) -> list[int]:
        if text == "panne":
            raise RuntimeError("an unexpected failure while writing this one")
        return terms(key, text)

    monkeypatch.setattr(blind_index, "terms", failing_terms)
    out = await asyncio.gather(*(messages.send_message(svc, (a, b)[i % 2].actor, cid, body=text, client_id=str(i))
                                 for i, text in enumerate(["avant", "panne", "après"])), return_exceptions=True)
    assert isinstance(out[1], RuntimeError)
    assert [(m["body"], m["seq"], created) for m, created in (out[0], out[2])] == [  # type: ignore[misc]
        ("avant", 2, True), ("après", 3, True)]
    assert all(r.broken is None and r.entries for r in await audit.verify_audit(svc))

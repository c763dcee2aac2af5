"""The console's retention section, on SQLite and PostgreSQL: before a period is saved, the DPO
or the director sees what it would delete, counted from the real conversations (legal holds
left out); bad input is answered in French and changes nothing; a legal hold needs a reason."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chevet.app.governance import retention, retention_preview
from chevet.app.messaging import conversations
from chevet.bootstrap import Installation
from chevet.core.errors import Forbidden, InvalidInput
from chevet.web.app import create_app
from tests.governance_support import Scene, say, scene, use_clock
from tests.support import new_member
from tests.web_client import Browserless


async def _seed(installation: Installation, start: datetime) -> tuple[Scene, Any]:
    """A team channel with two old messages and a recent one; another, inactive and under legal hold."""
    svc = installation.services
    clock = use_clock(svc, start)
    s = await scene(svc)
    held, _ = await conversations.create_conversation(svc, s.manager.actor, kind="team", title="Relève jour",
                                                      member_ids=[s.nurse.id])
    held_id = uuid.UUID(held["id"])
    clock.advance(days=10)
    await say(svc, s.manager, s.team, "relève J10")
    await say(svc, s.nurse, s.team, "retour J10")
    await say(svc, s.nurse, s.direct, "question J10")
    await say(svc, s.manager, held_id, "relève jour J10")
    await retention.set_legal_hold(svc, s.dpo.actor, s.org.id, held_id, True, "plainte d'une famille")
    clock.advance(days=60)
    await say(svc, s.manager, s.team, "relève J70")
    return s, clock


async def _team_days(installation: Installation, s: Scene) -> int:
    rules = await retention.policies(installation.services, s.dpo.actor, s.org.id)
    return next(r["days"] for r in rules if r["kind"] == "team")


async def _entries(installation: Installation, conversation_id: object) -> int:
    async with installation.services.db.transaction() as tx:
        return await tx.retention.count_entries(conversation_id)  # type: ignore[arg-type]


async def test_preview_counts_what_the_new_period_deletes_and_leaves_held_conversations(
        installation: Installation) -> None:
    svc = installation.services
    s, clock = await _seed(installation, datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    before = await _entries(installation, s.team)
    v = await retention_preview.preview_policy(svc, s.dpo.actor, "team", 30)
    # The creation entry and the two J10 messages are older than 30 days at the next purge;
    # the held channel would be destroyed whole, but the hold protects it.
    assert (v.messages, v.conversations, v.shredded, v.held) == (3, 1, 0, 1)
    assert v.purge_at == clock.now() + timedelta(hours=24) and v.old_days == 90
    # The current period deletes nothing yet: the preview is about the change.
    assert (await retention_preview.preview_policy(svc, s.dpo.actor, "team", 90)).messages == 0
    # Nothing changed by looking.
    assert await _team_days(installation, s) == 90 and await _entries(installation, s.team) == before
    # The preview agrees with what the purge then does.
    await retention.set_policy(svc, s.dpo.actor, s.org.id, "team", days=30, min_days=7, max_days=365)
    done = await retention.purge(svc, v.purge_at)
    assert sum(e["entries"] for e in done.expired_messages) == 3 and len(done.held) == 1
    with pytest.raises(InvalidInput) as exc:
        await retention_preview.preview_policy(svc, s.dpo.actor, "team", 3)
    assert exc.value.code == "retention_out_of_limits"
    with pytest.raises(Forbidden):
        await retention_preview.preview_policy(svc, s.nurse.actor, "team", 30)


async def test_finding_a_conversation_for_a_hold_by_title_or_reference(installation: Installation) -> None:
    svc = installation.services
    s, _ = await _seed(installation, datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    [case] = await retention_preview.find_for_hold(svc, s.dpo.actor, "ch12")
    assert case.conversation_id == s.care and case.care_case_ref == "CH12-R" and not case.legal_hold
    found = await retention_preview.find_for_hold(svc, s.dpo.actor, "relève")
    assert {c.title for c in found} == {"Relève nuit", "Relève jour"}
    assert [c.legal_hold for c in found if c.title == "Relève jour"] == [True]


@pytest.fixture
async def client(installation: Installation) -> AsyncIterator[Browserless]:
    c = Browserless(app=create_app(installation))
    yield c
    await c.close()


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


async def test_director_shortens_team_retention_through_the_confirmation_step(
        installation: Installation, client: Browserless) -> None:
    svc = installation.services
    s, clock = await _seed(installation, datetime.now(UTC) - timedelta(days=70))
    clock.current = datetime.now(UTC)
    director = await new_member(svc, s.org, "director", "Diane Roux")
    await client.sign_in(director)
    page = await client.get("/gouvernance/conservation")
    said = _text(page.text)
    assert page.status_code == 200 and "Canaux d'équipe" in said and "entre 7 jours et 1 an" in said

    # Bad input: a French error, nothing changed.
    bad = await client.get("/gouvernance/conservation/apercu", params={"kind": "team", "value": "trois",
                                                                        "unit": "days"})
    assert bad.status_code == 422 and "Indiquez une durée" in _text(bad.text)
    far = await client.get("/gouvernance/conservation/apercu", params={"kind": "team", "value": "5", "unit": "years"})
    assert far.status_code == 422 and "Durée hors des limites" in _text(far.text)
    posted = await client.post("/gouvernance/conservation/politique", {"kind": "team", "days": "2"},
                               from_page="/gouvernance/conservation")
    assert posted.status_code == 422 and "Durée hors des limites" in _text(posted.text)
    assert await _team_days(installation, s) == 90

    # The consequence, before saving; then « Confirmer ».
    preview = await client.get("/gouvernance/conservation/apercu", params={"kind": "team", "value": "1",
                                                                            "unit": "months"})
    said = _text(preview.text)
    assert preview.status_code == 200 and "3 messages seront supprimés le" in said
    assert "1 conversation sous gel juridique ne sera pas touchée" in said
    assert await _team_days(installation, s) == 90
    done = await client.post("/gouvernance/conservation/politique", {"kind": "team", "days": "30"},
                             from_page="/gouvernance/conservation/apercu?kind=team&value=1&unit=months")
    assert done.status_code == 303 and done.headers["location"] == "/gouvernance/conservation?notice=saved"
    assert await _team_days(installation, s) == 30
    shown = await client.get(done.headers["location"])
    assert "Durée actuelle : 1 mois." in _text(shown.text)
    async with svc.db.transaction() as tx:
        [entry] = await tx.audit_trail.search(s.org.id, actions=["retention.policy_changed"], limit=5)
    assert entry.detail["days"] == 30 and entry.detail["old_days"] == 90


async def test_hold_needs_a_reason_and_others_are_refused_in_words(installation: Installation,
                                                                   client: Browserless) -> None:
    svc = installation.services
    s, clock = await _seed(installation, datetime.now(UTC) - timedelta(days=70))
    clock.current = datetime.now(UTC)
    await client.sign_in(s.dpo)
    found = await client.get("/gouvernance/conservation", params={"q": "CH12"})
    assert "Suivi chambre 12" in found.text and "Geler" in found.text
    r = await client.post("/gouvernance/conservation/gel", {"conversation_id": str(s.care), "hold": "1",
                                                             "reason": "  "}, from_page="/gouvernance/conservation")
    assert r.status_code == 422 and "Indiquez le motif" in _text(r.text)
    assert not (await retention.conversation_retention(svc, s.nurse.actor, s.care))["legal_hold"]
    r = await client.post("/gouvernance/conservation/gel", {"conversation_id": str(s.care), "hold": "1",
                                                             "reason": "Enquête ARS"},
                          from_page="/gouvernance/conservation")
    assert r.status_code == 303
    assert (await retention.conversation_retention(svc, s.nurse.actor, s.care))["legal_hold"]
    async with svc.db.transaction() as tx:
        [entry] = await tx.audit_trail.search(s.org.id, actions=["retention.legal_hold_set"], object_id=s.care,
                                              limit=5)
    assert entry.detail["reason"] == "Enquête ARS"

    nurse = Browserless(app=client.http._transport.app)  # type: ignore[attr-defined]
    try:
        await nurse.sign_in(s.nurse)
        refused = await nurse.get("/gouvernance/conservation")
        assert refused.status_code == 403 and "réservée au DPO, à la direction" in _text(refused.text)
    finally:
        await nurse.close()


async def test_confirming_after_the_reauthentication_window_asks_identity_first(
        installation: Installation, client: Browserless) -> None:
    s, clock = await _seed(installation, datetime.now(UTC) - timedelta(days=70))
    clock.current = datetime.now(UTC)
    await client.sign_in(s.dpo)
    back = "/gouvernance/conservation/apercu?kind=team&value=30&unit=days"
    token = await client.csrf(back)
    clock.advance(minutes=15)  # beyond the ten minutes after the last proof of identity
    r = await client.post("/gouvernance/conservation/politique", {"kind": "team", "days": "30", "back": back},
                          csrf=token)
    assert r.status_code == 303 and r.headers["location"].startswith("/compte/confirmer?")
    assert "apercu" in r.headers["location"]  # back to the confirmation step afterwards
    assert await _team_days(installation, s) == 90

"""The handover pages without JavaScript, on SQLite and PostgreSQL: a note written from a team
template in a care case, listed « à reprendre » for the incoming nurse and confirmed in one
form; bad input answered in French with the text kept and nothing stored; the manager's late
view with its « en retard » mark after the hour (manual clock); templates edited per team; the
search page finds the note."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chevet.app.care import handovers
from chevet.app.messaging import conversations, teams
from chevet.bootstrap import Installation
from chevet.core import totp
from chevet.web.app import create_app
from tests.governance_support import FakeClock, use_clock
from tests.support import Member, new_member, new_org
from tests.web_client import Browserless


@pytest.fixture
def app(installation: Installation) -> Any:
    return create_app(installation)


@pytest.fixture
async def clients(app: Any) -> AsyncIterator[list[Browserless]]:
    made = [Browserless(app=app) for _ in range(3)]
    yield made
    for c in made:
        await c.close()


async def sign_in(client: Browserless, member: Member, clock: FakeClock) -> None:
    """Signing in with the code of the test's clock (the server checks codes against it)."""
    code = totp.code_at(member.totp_secret, totp.step_of(clock.now().timestamp()))
    r = await client.post("/login", {"email": member.email, "password": member.password, "otp": code})
    assert r.status_code == 303, r.status_code


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())


async def _scene(installation: Installation) -> tuple[FakeClock, Member, Member, Member, uuid.UUID, uuid.UUID]:
    svc = installation.services
    clock = use_clock(svc, datetime.now(UTC))  # sign-in codes follow the clock: start from now
    org = await new_org(svc)
    outgoing = await new_member(svc, org, "nurse", "Sophie Bernard")
    incoming = await new_member(svc, org, "nurse", "Inès Moreau")
    manager = await new_member(svc, org, "manager", "Claire Martin")
    care, _ = await conversations.create_conversation(svc, outgoing.actor, kind="care_case", title="Mme D., ch. 12",
                                                      member_ids=[incoming.id], care_case_ref="CH12")
    team = await teams.create_team(svc, manager.actor, "Unité Glycine", [outgoing.id, incoming.id, manager.id])
    return clock, outgoing, incoming, manager, uuid.UUID(care["id"]), uuid.UUID(str(team["id"]))


async def test_write_resume_confirm_and_flag_through_the_pages(installation: Installation,
                                                               clients: list[Browserless]) -> None:
    clock, outgoing, incoming, manager, care, team = await _scene(installation)
    as_out, as_in, as_manager = clients
    await sign_in(as_out, outgoing, clock)
    await sign_in(as_in, incoming, clock)

    conv = await as_out.get(f"/c/{care}")
    assert f'href="/c/{care}/transmission"' in conv.text
    form = await as_out.get(f"/c/{care}/transmission?modele=1")  # the default « Chute » template
    assert form.status_code == 200
    shown = text_of(form.text)
    assert "Transmission ciblée" in shown and "Heure, lieu, circonstances" in shown and 'value="Chute"' in form.text

    # Bad input: a French error, the text kept, nothing stored.
    bad = await as_out.post(f"/c/{care}/transmission", {"target": "Chute", "data": "Retrouvée au sol",
                                                        "actions": " ", "results": "", "team": str(team)})
    assert bad.status_code == 422
    assert "Les actions (A) sont vides" in text_of(bad.text) and "Retrouvée au sol" in bad.text
    async with installation.services.db.transaction() as tx:
        assert await tx.handovers.of_conversation(outgoing.actor.org_id, care) == []

    done = await as_out.post(f"/c/{care}/transmission", {
        "target": "Chute", "data": "Retrouvée au sol à 3 h, hématome frontal", "actions": "Relevée, glace",
        "results": "Consciente", "team": str(team)}, from_page=f"/c/{care}/transmission")
    assert done.status_code == 303
    after = await as_out.get(done.headers["location"])
    assert "Transmission enregistrée" in text_of(after.text) and "Pas encore reprise" in text_of(after.text)

    home = await as_in.get("/")
    assert re.search(r'handovers-count">1<span class="sr"> transmissions à reprendre', home.text)
    assert "handovers-count" not in (await as_out.get("/")).text  # her own note awaits others
    listed = await as_in.get("/transmissions")
    page = text_of(listed.text)
    assert listed.status_code == 200 and "1 transmission à reprendre" in page
    assert "hématome frontal" in page and "Sophie Bernard" in page and "Mme D., ch. 12" in page
    assert "UTC" not in page and "+00:00" not in page
    assert "T0" not in page and not re.search(r"\d{4}-\d{2}-\d{2}T", page)
    assert "Lu, je reprends" in page
    hid = re.search(r'action="/transmissions/([0-9a-f-]{36})/confirmer"', listed.text)
    assert hid
    confirmed = await as_in.post(f"/transmissions/{hid.group(1)}/confirmer", {}, from_page="/transmissions")
    assert confirmed.status_code == 303
    empty = text_of((await as_in.get(confirmed.headers["location"])).text)
    assert "Transmission confirmée" in empty and "Rien à reprendre" in empty
    assert "handovers-count" not in (await as_in.get("/")).text
    history = text_of((await as_out.get(f"/c/{care}/transmission")).text)
    assert "Reprise par Inès Moreau" in history

    # Another note, never confirmed: after the hour, flagged and marked « en retard » for the manager.
    second = await handovers.write(installation.services, outgoing.actor, care, target="Douleur",
                                   data="Genou droit EVA 6", actions="Paracétamol 1 g", results="")
    clock.current = second.shift_starts_at + timedelta(hours=1)
    assert await handovers.flag_overdue(installation.services) == 1
    await sign_in(as_manager, manager, clock)
    late = await as_manager.get("/transmissions/en-retard")
    shown = text_of(late.text)
    assert late.status_code == 200 and "en retard" in shown and "Douleur" in shown and "Mme D., ch. 12" in shown
    assert "Genou droit" not in shown  # the manager's view names the case and the target, not the note
    await sign_in(as_in, incoming, clock)  # her session went idle meanwhile
    forbidden = await as_in.get("/transmissions/en-retard")
    assert forbidden.status_code == 403


async def test_templates_search_and_refusals(installation: Installation, clients: list[Browserless]) -> None:
    clock, outgoing, incoming, manager, care, team = await _scene(installation)
    as_out, as_in, as_manager = clients
    for client, member in ((as_manager, manager), (as_out, outgoing), (as_in, incoming)):
        await sign_in(client, member, clock)

    page = await as_manager.get("/transmissions/modeles")
    assert page.status_code == 200 and "Unité Glycine" in page.text and "Modèles par défaut" in text_of(page.text)
    saved = await as_manager.post(f"/transmissions/modeles/{team}", {
        "name-0": "Plaie", "target-0": "Plaie", "data-0": "Aspect, taille, exsudat", "actions-0": "Pansement",
        "results-0": "Évolution"}, from_page="/transmissions/modeles")
    assert saved.status_code == 303
    form = text_of((await as_out.get(f"/c/{care}/transmission?modele=0")).text)
    assert "Aspect, taille, exsudat" in form and "Heure, lieu, circonstances" not in form
    refused = await as_manager.post(f"/transmissions/modeles/{team}", {"name-0": "", "target-0": "Plaie"},
                                    from_page="/transmissions/modeles")
    assert refused.status_code == 422 and "besoin d'un nom et d'une cible" in text_of(refused.text)
    assert (await as_out.get("/transmissions/modeles")).status_code == 403

    await handovers.write(installation.services, outgoing.actor, care, target="Plaie",
                          data="Escarre talon gauche stade 2", actions="Pansement hydrocolloïde", results="")
    found = text_of((await as_in.get("/search?q=escarre")).text)
    assert "Transmissions" in found and "Escarre talon gauche" in found

    group, _ = await conversations.create_conversation(installation.services, outgoing.actor, kind="group",
                                                       title="Café", member_ids=[incoming.id])
    # Only a care case takes notes: a group's handover address leads to the group itself, which
    # offers no « Transmission » button (and a note posted there is refused, below).
    not_care = await as_out.get(f"/c/{group['id']}/transmission")
    assert not_care.status_code == 303 and not_care.headers["location"] == f"/c/{group['id']}"
    assert f"/c/{group['id']}/transmission" not in (await as_out.get(f"/c/{group['id']}")).text
    other = await new_org(installation.services)
    stranger = await new_member(installation.services, other, "nurse")
    as_stranger = Browserless(app=as_out.http._transport.app)  # type: ignore[attr-defined]
    try:
        await sign_in(as_stranger, stranger, clock)
        assert (await as_stranger.get(f"/c/{care}/transmission")).status_code == 404
        assert "Rien à reprendre" in text_of((await as_stranger.get("/transmissions")).text)
    finally:
        await as_stranger.close()


async def test_hostile_requests_are_answered_in_words(installation: Installation,
                                                      clients: list[Browserless]) -> None:
    clock, outgoing, _incoming, manager, care, _team = await _scene(installation)
    as_out, _as_in, as_manager = clients
    await sign_in(as_out, outgoing, clock)
    await sign_in(as_manager, manager, clock)
    token = await as_out.csrf(f"/c/{care}/transmission")
    for path, data in ((f"/transmissions/{'x' * 40}/confirmer", {"csrf": token}),
                       (f"/transmissions/{uuid.uuid4()}/confirmer", {"csrf": token}),
                       ("/c/pas-un-id/transmission", {"csrf": token}),
                       (f"/c/{care}/transmission", {"csrf": token, "team": "pas-un-id", "target": "Chute", "data": "d",
                                                    "actions": "a"}),
                       (f"/c/{care}/transmission", {"target": "Chute", "data": "d", "actions": "a"}),  # no CSRF
                       (f"/c/{care}/transmission", {"csrf": token, "target": "Chute", "data": "d" * 50_000,
                                                    "actions": "a"})):
        r = await as_out.http.post(path, data=data)
        assert 400 <= r.status_code < 500, (path, r.status_code)
        assert 'lang="fr"' in r.text and "Traceback" not in r.text
    other = await new_org(installation.services)
    stranger_team = await teams.create_team(installation.services, (await new_member(
        installation.services, other, "manager")).actor, "Ailleurs")
    r = await as_manager.post(f"/transmissions/modeles/{stranger_team['id']}", {"name-0": "X", "target-0": "Y"},
                              from_page="/transmissions/modeles")
    assert r.status_code == 404
    async with installation.services.db.transaction() as tx:
        assert await tx.handovers.of_conversation(outgoing.actor.org_id, care) == []
        assert await tx.handovers.templates(other.id, uuid.UUID(str(stranger_team["id"]))) is None

"""Urgent alerts through the pages a browser without JavaScript uses, and the API: the composer
names who must act, the conversation shows the alert and its two buttons, one tap takes it, a
second is answered in French with nothing changed; the console lists open and late alerts for
the director and sets a team's ladder; the API acknowledges with the same rules."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
import pytest

from chevet.app.care import alert_policy, alerts
from chevet.app.identity import auth
from chevet.bootstrap import Installation
from chevet.core.care.alert import Ladder
from chevet.jobs import alerts as alert_job
from chevet.web.app import create_app
from chevet.web.formats import clock
from tests.integration.test_alert_escalation import ManualClock, Ward, raise_on_call, ward
from tests.support import Member, new_member
from tests.web_client import Browserless

# Signing in checks one-time codes and session times against the real time: these tests start
# at the real minute, and the team's delay is the same by day and by night.
NOW = datetime.now(UTC)  # set again as each test starts (a code is valid 30 seconds either side)
FIVE = Ladder(day_delay=timedelta(minutes=5), night_delay=timedelta(minutes=5))


@pytest.fixture
async def app(installation: Installation) -> AsyncIterator[object]:
    global NOW
    NOW = datetime.now(UTC).replace(microsecond=0)
    installation.services.clock = ManualClock(NOW)
    yield create_app(installation)


async def unit(installation: Installation) -> Ward:
    w = await ward(installation, NOW)
    await alert_policy.set_ladder(installation.services, w.manager.actor, w.team_id, FIVE)
    return w


async def browser(app: object, member: Member) -> Browserless:
    b = Browserless(app=app)
    await b.sign_in(member)
    return b


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


async def test_the_composer_raises_an_alert_that_one_tap_takes(installation: Installation, app: object) -> None:
    w: Ward = await unit(installation)
    page = f"/c/{w.conversation_id}"
    author = await browser(app, w.author)
    try:
        shown = await author.get(page)
        assert "Qui doit agir ?" in shown.text and f'value="on_call:{w.team_id}"' in shown.text
        r = await author.post(f"{page}/send", {"body": "Chute en chambre 4", "client_id": "c1", "urgent": "1",
                                               "alert_for": f"on_call:{w.team_id}"}, from_page=page)
        assert r.status_code == 303
        r = await author.post(f"{page}/send", {"body": "Pour qui ?", "client_id": "c2", "urgent": "1",
                                               "alert_for": "n'importe qui"}, from_page=page)
        assert r.status_code == 422 and "Choisissez qui doit agir dans la liste proposée." in text(r.text)
    finally:
        await author.close()
    [alert] = await alerts.of_conversation(installation.services, w.author.actor, w.conversation_id)

    nurse = await browser(app, w.first_call)
    try:
        shown = text((await nurse.get(page)).text)
        assert "Alerte en attente" in shown and "pour l'astreinte de Unité Alzheimer" in shown
        assert f"{clock(NOW, 'fr')} Envoyée par Aïcha Diallo" in shown
        assert "Notification envoyée à Sophie Bernard" in shown and "Je m'en occupe" in shown
        assert f"escalade à {clock(NOW + timedelta(minutes=5), 'fr')} sans réponse" in shown
        taken = NOW + timedelta(minutes=3)
        installation.services.clock = ManualClock(taken)
        r = await nurse.post(f"/alertes/{alert.id}/prise-en-charge", {"ack": "taken"}, from_page=page)
        assert r.status_code == 303 and r.headers["location"] == f"{page}#alert-{alert.id}"
        shown = text((await nurse.get(page)).text)
        assert f"Prise en charge par Sophie Bernard à {clock(taken, 'fr')}." in shown
        assert f"{clock(taken, 'fr')} Sophie Bernard : « Je m'en occupe »" in shown
        r = await nurse.post(f"/alertes/{alert.id}/prise-en-charge", {"ack": "seen"}, from_page=page)
        assert r.status_code == 409
        assert "Cette alerte est déjà prise en charge par Sophie Bernard à " in text(r.text)
        assert "Rien n'a été changé." in text(r.text) and "Revenir à la conversation" in r.text
        r = await nurse.post(f"/alertes/{uuid.uuid4()}/prise-en-charge", {"ack": "taken"}, from_page=page)
        assert r.status_code == 404 and "Cette alerte n'existe pas" in text(r.text)
    finally:
        await nurse.close()
    after = await alerts.alert_view(installation.services, w.author.actor, alert.id)
    assert [line.kind.value for line in after.timeline] == ["raised", "notified", "acknowledged"]


async def test_the_director_sees_late_alerts_and_a_manager_sets_the_ladder(installation: Installation,
                                                                           app: object) -> None:
    s = installation.services
    w = await unit(installation)
    director = await new_member(s, w.author.actor.organisation, "director", "Hélène Roy")
    boss, nurse, manager = [await browser(app, m) for m in (director, w.first_call, w.manager)]
    await raise_on_call(installation, w)
    s.clock = ManualClock(NOW + timedelta(minutes=5))
    assert await alert_job.run_once(installation) == 1
    try:
        console = await boss.get("/console")
        assert 'href="/console/alertes"' in console.text
        shown = text((await boss.get("/console/alertes")).text)
        assert "En retard (1)" in shown and "Alerte en retard" in shown and "alerte transmise à Léa Martin" in shown
        assert "M. Roux" not in shown  # no care case title on the console
    finally:
        await boss.close()
    try:
        assert (await nurse.get("/console/alertes")).status_code == 403
    finally:
        await nurse.close()

    try:
        ladders = "/console/alertes/echelles"
        shown = text((await manager.get(ladders)).text)
        assert "Unité Alzheimer" in shown and "Suit le réglage de l'établissement." in shown
        r = await manager.post(f"{ladders}/{w.team_id}", {"day_minutes": "0", "night_minutes": "3",
                                                          "night_starts": "21:00", "night_ends": "07:00",
                                                          "steps": ["manager"]}, from_page=ladders)
        assert r.status_code == 422
        assert "Le délai doit être un nombre entier de minutes, entre 1 et 120." in text(r.text)
        r = await manager.post(f"{ladders}/{w.team_id}", {"day_minutes": "8", "night_minutes": "3",
                                                          "night_starts": "22:00", "night_ends": "06:30",
                                                          "steps": ["manager", "", "address:astreinte-medicale"]},
                               from_page=ladders)
        assert r.status_code == 303
        shown = text((await manager.get(ladders)).text)
        assert "Réglage propre. Délai : 8 min le jour, 3 min la nuit (de 22:00 à 06:30)." in shown
    finally:
        await manager.close()


async def test_the_api_acknowledges_once_and_refuses_in_french(installation: Installation, app: object) -> None:
    w = await unit(installation)
    alert_id = await raise_on_call(installation, w)

    tokens: dict[uuid.UUID, str] = {}

    async def bearer(m: Member) -> dict[str, str]:  # one sign-in each: a one-time code is used once
        if m.id not in tokens:
            tokens[m.id] = (await auth.login(installation.services, m.email, m.password, m.otp())).token
        return {"Authorization": f"Bearer {tokens[m.id]}", "Accept-Language": "fr"}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:  # type: ignore[arg-type]
        url = f"/api/v1/alerts/{alert_id}/acknowledge"
        r = await c.post(url, json={"ack": "plus tard"}, headers=await bearer(w.first_call))
        assert r.status_code == 422
        r = await c.post(url, json={"ack": "seen"}, headers=await bearer(w.author))
        assert r.status_code == 403 and "seules les personnes prévenues" in r.json()["detail"]
        r = await c.post(url, json={"ack": "seen"}, headers=await bearer(w.first_call))
        assert r.status_code == 200 and r.json()["ack"] == "seen" and r.json()["state"] == "acknowledged"
        r = await c.post(url, json={"ack": "taken"}, headers=await bearer(w.first_call))
        assert r.status_code == 409 and "déjà prise en charge par Sophie Bernard" in r.json()["detail"]
        r = await c.get(f"/api/v1/alerts/{alert_id}", headers=await bearer(w.outsider))
        assert r.status_code == 404
        # The API's send names who must act as the composer does.
        sent = await c.post(f"/api/v1/conversations/{w.conversation_id}/messages", headers=await bearer(w.author),
                            json={"body": "Saturation 85 %", "client_id": "api-1",
                                  "alert_for": f"person:{w.first_call.id}"})
        assert sent.status_code == 201 and sent.json()["urgent"] is True
        refused = await c.post(f"/api/v1/conversations/{w.conversation_id}/messages", headers=await bearer(w.author),
                               json={"body": "x", "client_id": "api-2", "alert_for": "le chef"})
        assert refused.status_code == 422
        assert refused.json()["detail"] == "Choisissez qui doit agir dans la liste proposée."
        opened = await alerts.of_conversation(installation.services, w.author.actor, w.conversation_id)
        assert [v.open for v in opened] == [True, False]
        spec = (await c.get("/api/openapi.json")).json()
        assert "409" in spec["paths"]["/api/v1/alerts/{alert_id}/acknowledge"]["post"]["responses"]

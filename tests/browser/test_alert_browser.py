"""Urgent alerts in Chromium at 360×780: the on-call nurse's phone receives the alert's Web Push
(through a loopback push service, decrypted by the test: no content in it), takes it with
« Je m'en occupe » through the service worker's own notification handler, and a second tap is
answered by a notification saying who took it; in the conversation the alert's card and
timeline are axe-clean, and its buttons acknowledge without leaving the page.

How the subscription is stubbed and the push service stood in for: see test_notify.py."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.async_api import Browser, expect

from chevet.app.care import alert_policy, alerts
from chevet.bootstrap import Installation
from chevet.core.care.alert import AckKind, Ladder
from tests.browser.conftest import AXE, sign_in
from tests.browser.test_notify import phone, receiver, service_worker, turn_on_notifications  # noqa: F401
from tests.browser.test_quality import _axe
from tests.integration.test_alert_escalation import ward
from tests.push_support import Device, Receiver
from tests.support import Server
from tests.web_client import Browserless


async def raise_from_the_composer(author: Browserless, conversation: uuid.UUID, alert_for: str, body: str,
                                  client_id: str) -> None:
    """The author's composer without JavaScript: the form the page posts."""
    r = await author.post(f"/c/{conversation}/send", {"body": body, "client_id": client_id, "urgent": "1",
                                                      "alert_for": alert_for}, from_page=f"/c/{conversation}")
    assert r.status_code == 303, r.text[:300]


async def test_the_on_call_nurse_takes_an_alert_from_its_notification(
        browser: Browser, web_installation: Installation, receiver: Receiver) -> None:  # noqa: F811
    s = web_installation.services
    w = await ward(web_installation, datetime.now(UTC))
    # The same delay by day and by night: what the card says does not depend on when the test runs.
    await alert_policy.set_ladder(s, w.manager.actor, w.team_id,
                                  Ladder(day_delay=timedelta(minutes=30), night_delay=timedelta(minutes=30)))
    server = Server(web_installation.settings, env={"CHEVET_PUSH_SERVICES": receiver.origin})
    device = Device(f"{receiver.origin}/push/{uuid.uuid4().hex}")
    ctx, page = await phone(browser, device, bypass_csp=AXE.exists())  # bypassed only to inject axe itself
    author = Browserless(server.url)
    try:
        await author.sign_in(w.author)
        await sign_in(page, server.url, w.first_call)
        await turn_on_notifications(page, server.url)
        await raise_from_the_composer(author, w.conversation_id, f"on_call:{w.team_id}",
                                      "M. Roux a chuté, hématome frontal", "a1")
        for _ in range(200):
            if receiver.received:
                break
            await asyncio.sleep(0.05)
        assert len(receiver.received) == 1
        payload: dict[str, Any] = device.decrypt(receiver.received[0][2])
        [alert] = await alerts.of_conversation(s, w.first_call.actor, w.conversation_id)
        assert payload["body"] == "Alerte urgente : vous devez agir" and payload["urgent"] is True
        assert (payload["alert"], payload["for"], payload["take"], payload["seen"]) == (
            str(alert.id), str(w.first_call.id), "Je m'en occupe", "Vu, pas d'action")
        assert payload["tag"] == f"alert-{alert.id}-0"
        for secret in ("Roux", "CH4", "chuté", "hématome", "Aïcha"):
            assert secret not in json.dumps(payload, ensure_ascii=False)

        sw = await service_worker(ctx, page)
        await page.goto(f"{server.url}/")  # a signed-in page: the service worker knows who is here
        shown = await sw.evaluate("""async (payload) => {
          await showPush(payload);
          const [n] = await self.registration.getNotifications({ tag: payload.tag });
          return { data: n.data, actions: (n.actions || []).map((a) => [a.action, a.title]) };
        }""", payload)
        assert shown["data"] == {"url": f"/c/{w.conversation_id}#alert-{alert.id}", "for": str(w.first_call.id),
                                 "alert": str(alert.id)}
        assert shown["actions"] in ([["alert-taken", "Je m'en occupe"], ["alert-seen", "Vu, pas d'action"]], [])
        # Another person signed in on this browser: nothing is acknowledged as them.
        assert await sw.evaluate("(data) => acknowledgeFromNotification({ ...data, for: 'someone-else' }, 'taken')",
                                 shown["data"]) is False
        await sw.evaluate("(data) => onNotificationClick(data, 'alert-taken')", shown["data"])
        taken = await alerts.alert_view(s, w.author.actor, alert.id)
        assert (taken.open, taken.acknowledged_by, taken.ack) == (False, "Sophie Bernard", AckKind.TAKEN)

        # A second tap changes nothing and is answered by a notification saying who took it.
        await sw.evaluate("(data) => onNotificationClick(data, 'alert-seen')", shown["data"])
        said = await sw.evaluate(f"""self.registration.getNotifications({{ tag: "alert-{alert.id}-done" }})
                                    .then((ns) => ns.map((n) => n.body))""")
        assert len(said) == 1 and said[0].startswith("Cette alerte est déjà prise en charge par Sophie Bernard à ")
        assert (await alerts.alert_view(s, w.author.actor, alert.id)).ack is AckKind.TAKEN

        # The conversation at 360×780: the card, its timeline in Paris time, axe-clean.
        await page.goto(f"{server.url}/c/{w.conversation_id}")
        card = page.locator(f"#alert-{alert.id}")
        await expect(card.locator(".alert-status")).to_contain_text("Alerte prise en charge")
        await expect(card.locator(".alert-status")).to_contain_text("Prise en charge par Sophie Bernard à ")
        await card.get_by_text("Déroulé de l'alerte").click()
        await expect(card.locator(".alert-timeline li")).to_have_count(3)
        await expect(card.locator(".alert-timeline li").last).to_contain_text("Sophie Bernard : « Je m'en occupe »")
        assert await card.get_by_role("button", name="Je m'en occupe").count() == 0
        if AXE.exists():
            assert await _axe(page, "alert taken") == {}

        # Named in person this time: her buttons in the conversation, with the page's script.
        await raise_from_the_composer(author, w.conversation_id, f"person:{w.first_call.id}",
                                      "Glycémie à 0,5 g/L", "a2")
        await page.reload()
        waiting = page.locator(".alert-card.open")
        await expect(waiting).to_have_count(1)
        await expect(waiting.locator(".alert-status")).to_contain_text("En attente de Sophie Bernard")
        if AXE.exists():
            assert await _axe(page, "alert waiting") == {}
        await waiting.get_by_role("button", name="Vu, pas d'action").click()
        await expect(page.locator(".alert-card.seen .alert-status")).to_contain_text(
            "Vue par Sophie Bernard à ")
        await expect(page.locator(".alert-card.open")).to_have_count(0)
        assert page.url.endswith(f"/c/{w.conversation_id}")  # acknowledged in place

        # Raised while her page is open: the block is drawn again live, without a reload.
        await raise_from_the_composer(author, w.conversation_id, f"person:{w.first_call.id}", "Tension 18/10", "a3")
        await expect(page.locator(".alert-card.open")).to_have_count(1)
        assert page.url.endswith(f"/c/{w.conversation_id}")
    finally:
        await author.close()
        await ctx.close()
        server.stop()


async def test_the_director_sees_the_late_alert_in_the_console(browser: Browser, web_installation: Installation,
                                                                web_server: Server) -> None:
    """The console's alert page and the ladders page at 360×780 then 1280×800, axe-clean, in the
    console's menu; a ladder changed from its form."""
    from chevet.app.messaging import messages
    from chevet.jobs import alerts as alert_job
    from tests.browser.conftest import french_context
    from tests.integration.test_alert_escalation import ManualClock
    from tests.support import new_member

    s = web_installation.services
    now = datetime.now(UTC)
    w = await ward(web_installation, now - timedelta(minutes=40))
    director = await new_member(s, w.author.actor.organisation, "director", "Hélène Roy")
    # 30 minutes by day and by night: the step reached below is not due again while the test runs.
    await alert_policy.set_ladder(s, w.manager.actor, w.team_id,
                                  Ladder(day_delay=timedelta(minutes=30), night_delay=timedelta(minutes=30)))
    s.clock = ManualClock(now - timedelta(minutes=40))
    await messages.send_message(s, w.author.actor, w.conversation_id, body="Chute", client_id="c1",
                                alert_for=f"on_call:{w.team_id}")
    s.clock = ManualClock(now - timedelta(minutes=10))
    assert await alert_job.run_once(web_installation) == 1
    for size in ({"width": 360, "height": 780}, {"width": 1280, "height": 800}):
        ctx: Any = await french_context(browser, viewport=size, bypass_csp=AXE.exists())
        page = await ctx.new_page()
        try:
            await sign_in(page, web_server.url, director, offset_steps=0 if size["width"] == 360 else 1)
            await page.goto(f"{web_server.url}/console")
            await page.get_by_role("link", name="Alertes urgentes").first.click()
            await expect(page.get_by_role("heading", name="En retard (1)")).to_be_visible()
            late = page.locator(".alert-card.late .alert-status")
            await expect(late).to_contain_text("alerte transmise à Léa Martin")
            if AXE.exists():
                assert await _axe(page, f"console alerts {size['width']}") == {}
            await page.get_by_role("link", name="Délais et échelles d'escalade des équipes").click()
            if AXE.exists():
                assert await _axe(page, f"ladders {size['width']}") == {}
            if size["width"] == 1280:
                team = page.locator("section.alert-ladder", has_text="Unité Alzheimer")
                await team.get_by_text("Modifier").click()
                await team.get_by_label("Délai de nuit, en minutes").fill("4")
                await team.get_by_role("button", name="Enregistrer").click()
                await expect(page.get_by_role("status")).to_have_text("Échelle enregistrée.")
                await expect(page.locator("section.alert-ladder", has_text="Unité Alzheimer")).to_contain_text(
                    "Réglage propre. Délai : 30 min le jour, 4 min la nuit")
        finally:
            await ctx.close()

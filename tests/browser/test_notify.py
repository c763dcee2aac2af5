"""Notifications and the offline outbox in Chromium at 360×780.

Headless Chromium has no real push service to subscribe to (Debian's build reaches none, and the
tests reach no network): the page's ``PushManager.subscribe`` is replaced by one returning a
subscription whose keys the test made, so that the page's own code posts it, and the delivery
side is a push service stood in for by a loopback HTTP receiver served by the test itself. The
test decrypts what arrives (RFC 8291) and checks it carries no content; then it takes the
notification's "Répondre" through the service worker's own click handler."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Worker, expect

from chevet.app.messaging import conversations
from chevet.bootstrap import Installation
from tests.browser.conftest import AXE, french_context, sign_in
from tests.browser.test_quality import _axe
from tests.push_support import Device, Receiver, b64
from tests.support import Member, Server, login, new_member, new_org

PHONE = {"viewport": {"width": 360, "height": 780}, "permissions": ["notifications"]}
CARE = "Mme Quatrefages, chambre 12"
FIRST, SECOND, THIRD = "Glycémie 1,2 g/L à 7h", "Pansement refait, plaie propre", "Tension 13/8 à 8h"
REPLY = "Je passe à 9h, surveillance neurologique d'ici là"

# Stands in for the browser's push subscription (see the module's docstring).
STUB_SUBSCRIBE = """([endpoint, p256dh, auth]) => {
  const bytes = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)).buffer;
  let current = null;
  const sub = { endpoint, getKey: (n) => bytes(n === "p256dh" ? p256dh : auth),
                unsubscribe: async () => { current = null; return true; } };
  PushManager.prototype.subscribe = async function () { current = sub; return sub; };
  PushManager.prototype.getSubscription = async function () { return current; };
}"""

# What waits in this browser's outbox (IndexedDB), read as the page would.
OUTBOX = """() => new Promise((ok) => {
  const r = indexedDB.open("chevet-outbox", 1);
  r.onupgradeneeded = () => {
    r.result.createObjectStore("items", { keyPath: "client_id" });
    r.result.createObjectStore("meta");
  };
  r.onsuccess = () => { const q = r.result.transaction("items").objectStore("items").getAll();
                        q.onsuccess = () => { r.result.close(); ok(q.result.map((i) => i.body)); }; };
})"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


async def phone(browser: Browser, device: Device | None = None, **options: Any) -> tuple[BrowserContext, Page]:
    ctx: BrowserContext = await french_context(browser, **PHONE, **options)  # type: ignore[assignment]
    if device is not None:
        keys = json.dumps([device.endpoint, b64(device.public), b64(device.auth)])
        await ctx.add_init_script(f"({STUB_SUBSCRIBE})({keys})")
    return ctx, await ctx.new_page()


async def service_worker(ctx: BrowserContext, page: Page) -> Worker:
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    for _ in range(100):
        if ctx.service_workers:
            return ctx.service_workers[0]
        await asyncio.sleep(0.05)
    raise AssertionError("no service worker")


async def turn_on_notifications(page: Page, base: str) -> None:
    await page.goto(f"{base}/account")
    await page.get_by_role("button", name="Activer sur cet appareil", exact=True).click()
    await expect(page.locator("[data-push-status]")).to_have_text("Notifications activées sur cet appareil.")
    await expect(page.locator("[data-push-devices]")).to_have_text("Appareils recevant les notifications : 1")


def bodies(base: str, token: str, conversation: str) -> list[str]:
    r = httpx.get(f"{base}/api/v1/conversations/{conversation}/messages", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    return [m.get("body") for m in r.json() if m.get("type", "message") == "message"]


async def care_case(installation: Installation, org_slug: str) -> tuple[Member, Member, str]:
    svc = installation.services
    org = await new_org(svc, org_slug)
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    doctor = await new_member(svc, org, "physician", "Paul Lefèvre")
    conv, _ = await conversations.create_conversation(svc, nurse.actor, kind="care_case", title=CARE,
                                                      member_ids=[doctor.id], care_case_ref="CH12")
    return nurse, doctor, str(conv["id"])


async def test_a_fresh_installation_offers_notifications_and_chromium_subscribes(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    nurse, _, _ = await care_case(web_installation, "ehpad-fresh")
    device = Device(f"https://fcm.googleapis.com/fcm/send/{uuid.uuid4().hex}")  # allowed with no configuration
    ctx, page = await phone(browser, device)
    try:
        await sign_in(page, web_server.url, nurse)
        await turn_on_notifications(page, web_server.url)
        async with web_installation.services.db.transaction() as tx:
            subs = await tx.push.for_person(nurse.actor.org_id, nurse.id)
        assert [(s.endpoint, s.p256dh, s.auth) for s in subs] == [(device.endpoint, device.public, device.auth)]
        await page.get_by_role("button", name="Désactiver sur cet appareil").click()
        await expect(page.locator("[data-push-devices]")).to_have_text("Appareils recevant les notifications : 0")
    finally:
        await ctx.close()


async def test_a_reply_from_the_notification_arrives_once(browser: Browser, web_installation: Installation,
                                                         receiver: Receiver) -> None:
    nurse, doctor, conv = await care_case(web_installation, "ehpad-reply")
    server = Server(web_installation.settings, env={"CHEVET_PUSH_SERVICES": receiver.origin})
    device = Device(f"{receiver.origin}/push/{uuid.uuid4().hex}")
    ctx, page = await phone(browser, device)
    try:
        await sign_in(page, server.url, doctor)
        await turn_on_notifications(page, server.url)
        token = login(server.url, nurse)
        r = httpx.post(f"{server.url}/api/v1/conversations/{conv}/messages",
                       headers={"Authorization": f"Bearer {token}"},
                       json={"body": "Chute à 6h, hématome frontal", "client_id": "n1"})
        assert r.status_code == 201
        for _ in range(200):
            if receiver.received:
                break
            await asyncio.sleep(0.05)
        payload: dict[str, Any] = device.decrypt(receiver.received[0][2])
        assert payload["body"] == "Nouveau message" and payload["url"] == f"/c/{conv}"
        assert (payload["reply"], payload["for"]) == ("Répondre", str(doctor.id))
        for secret in ("Quatrefages", "CH12", "Chute", "hématome", "Sophie"):
            assert secret not in json.dumps(payload, ensure_ascii=False)

        # The notification as the service worker shows it, then "Répondre" with a typed answer.
        sw = await service_worker(ctx, page)
        shown = await sw.evaluate("""async (payload) => {
          await showPush(payload);
          const [n] = await self.registration.getNotifications();
          return { data: n.data, actions: (n.actions || []).map((a) => [a.action, a.title, a.type]) };
        }""", payload)
        assert shown["data"] == {"url": f"/c/{conv}", "for": str(doctor.id)}
        assert shown["actions"] in ([["reply", "Répondre", "text"]], [])  # [] where the browser shows no actions
        await sw.evaluate("([data, text]) => onNotificationClick(data, 'reply', text)", [shown["data"], REPLY])
        assert bodies(server.url, token, conv).count(REPLY) == 1
        assert await sw.evaluate("outboxItems().then((items) => items.length)") == 0

        # Another person signed in on this browser: the reply is not sent as them.
        assert await sw.evaluate("([data, text]) => replyFromNotification({ ...data, for: 'someone-else' }, text)",
                                 [shown["data"], "Ne doit pas partir"]) is False

        # Where the browser takes no text, "Répondre" opens the conversation with the composer focused.
        await page.goto(f"{server.url}/c/{conv}#composer")
        await expect(page.get_by_label("Message", exact=True)).to_be_focused()
    finally:
        await ctx.close()
        server.stop()


async def test_offline_messages_wait_on_the_device_and_leave_once(browser: Browser, web_installation: Installation,
                                                                 web_server: Server) -> None:
    nurse, doctor, conv = await care_case(web_installation, "ehpad-offline")
    base = web_server.url
    ctx, page = await phone(browser, bypass_csp=AXE.exists())  # bypassed only to inject axe itself
    try:
        await sign_in(page, base, nurse)
        await page.goto(f"{base}/c/{conv}")
        await service_worker(ctx, page)
        await ctx.set_offline(True)
        composer = page.get_by_label("Message", exact=True)
        for text in (FIRST, SECOND):
            await composer.fill(text)
            await page.get_by_role("button", name="Envoyer").click()
            await expect(page.locator(".msg.waiting .body").last).to_have_text(text)
        waiting = page.locator(".msg.waiting")
        await expect(waiting).to_have_count(2)
        await expect(waiting.locator(".tag")).to_have_text(["en attente", "en attente"])
        await expect(page.locator("#live-status")).to_have_text(
            "Pas encore envoyé : le message est gardé sur cet appareil et partira dès le retour du réseau.")
        assert "Failed" not in await page.locator("main").inner_text()
        if AXE.exists():
            assert await _axe(page, "waiting messages") == {}

        await page.reload()  # offline: the offline page, the queue kept on the device
        await expect(page.locator("[data-outbox-count]")).to_have_text(
            "2 messages attendent sur cet appareil : ils partiront au retour du réseau.")
        assert sorted(await page.evaluate(OUTBOX)) == sorted([FIRST, SECOND])
        await ctx.set_offline(False)
        await page.goto(f"{base}/c/{conv}")
        await expect(page.locator(".msg.mine .body")).to_have_text([FIRST, SECOND])
        await expect(page.locator(".msg.waiting")).to_have_count(0)
        assert await page.evaluate(OUTBOX) == []
        await page.reload()
        await asyncio.sleep(0.5)
        token = login(base, doctor)
        assert [b for b in bodies(base, token, conv) if b in (FIRST, SECOND)] == [FIRST, SECOND]  # once each

        # Offline again, the page kept open: the message leaves as soon as the network returns.
        await ctx.set_offline(True)
        await composer.fill(THIRD)
        await page.get_by_role("button", name="Envoyer").click()
        await expect(page.locator(".msg.waiting .body")).to_have_text([THIRD])
        await ctx.set_offline(False)
        await expect(page.locator(".msg.waiting")).to_have_count(0)
        await expect(page.locator(".msg.mine .body")).to_have_text([FIRST, SECOND, THIRD])
        await expect(page.locator("#live-status")).to_have_text("")
        assert [b for b in bodies(base, token, conv) if b in (FIRST, SECOND, THIRD)] == [FIRST, SECOND, THIRD]

        # A message that could not leave is never shown or sent as another person on this browser...
        await page.route("**/send", lambda route: route.abort())
        await composer.fill("Pour Sophie seulement")
        await page.get_by_role("button", name="Envoyer").click()
        await expect(page.locator(".msg.waiting")).to_have_count(1)
        await page.unroute("**/send")
        await ctx.clear_cookies()  # her session ends without a sign-out
        await sign_in(page, base, doctor, offset_steps=1)
        await page.goto(f"{base}/c/{conv}")
        await expect(page.locator(".msg.mine .body")).to_have_count(0)
        await expect(page.locator(".msg.waiting")).to_have_count(0)
        assert await page.evaluate(OUTBOX) == []
        assert "Pour Sophie seulement" not in bodies(base, token, conv)

        # ... and signing out forgets what waits.
        await page.route("**/send", lambda route: route.abort())
        await composer.fill("Réponse du Dr Lefèvre")
        await page.get_by_role("button", name="Envoyer").click()
        await expect(page.locator(".msg.waiting")).to_have_count(1)
        await page.goto(f"{base}/account")  # still unable to send: it keeps waiting
        assert await page.evaluate(OUTBOX) == ["Réponse du Dr Lefèvre"]
        await page.get_by_role("button", name="Se déconnecter").click()
        await page.wait_for_url("**/login**")
        assert await page.evaluate(OUTBOX) == []
    finally:
        await ctx.close()

"""Notifications and the offline outbox in Chromium at 360×780.

Headless Chromium has no real push service to subscribe to (Debian's build reaches none, and the
tests reach no network): the page's ``PushManager.subscribe`` is replaced by one returning a
subscription whose keys the test made, so that the page's own code posts it, and the delivery
side is a push service stood in for by a loopback HTTP receiver served by the test itself. The
test decrypts what arrives (RFC 8291) and checks it carries no content; then it takes the
notification's "Répondre" through the service worker's own click handler."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Worker, expect

from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
from tests.browser.conftest import AXE, french_context, sign_in
from tests.browser.test_files import DIALOG, choose
from tests.browser.test_quality import _axe
from tests.media_samples import phone_photo
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

# What waits in this browser's outbox (IndexedDB), read as the page would: each item's text, and
# the files waiting with it (name, size and type of each blob, the server's upload id).
_OUTBOX_ITEMS = """() => new Promise((ok) => {
  const r = indexedDB.open("chevet-outbox", 1);
  r.onupgradeneeded = () => {
    r.result.createObjectStore("items", { keyPath: "client_id" });
    r.result.createObjectStore("meta");
  };
  r.onsuccess = () => { const q = r.result.transaction("items").objectStore("items").getAll();
                        q.onsuccess = () => { r.result.close(); ok(q.result.map((i) => ({ body: i.body,
                          files: (i.uploads || []).map((u) => ({ name: u.name, size: u.blob.size, type: u.blob.type,
                                                                upload: u.upload })) }))); }; };
})"""


async def outbox(page: Any) -> list[str]:
    """The texts waiting in the outbox."""
    return [i["body"] for i in await page.evaluate(_OUTBOX_ITEMS)]


async def outbox_files(page: Any) -> list[dict[str, Any]]:
    """The files waiting in the outbox, with whichever message."""
    return [f for i in await page.evaluate(_OUTBOX_ITEMS) for f in i["files"]]


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
        assert sorted(await outbox(page)) == sorted([FIRST, SECOND])
        await ctx.set_offline(False)
        await page.goto(f"{base}/c/{conv}")
        await expect(page.locator(".msg.mine .body")).to_have_text([FIRST, SECOND])
        await expect(page.locator(".msg.waiting")).to_have_count(0)
        assert await outbox(page) == []
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
        assert await outbox(page) == []
        assert "Pour Sophie seulement" not in bodies(base, token, conv)

        # ... and signing out forgets what waits.
        await page.route("**/send", lambda route: route.abort())
        await composer.fill("Réponse du Dr Lefèvre")
        await page.get_by_role("button", name="Envoyer").click()
        await expect(page.locator(".msg.waiting")).to_have_count(1)
        await page.goto(f"{base}/account")  # still unable to send: it keeps waiting
        assert await outbox(page) == ["Réponse du Dr Lefèvre"]
        await page.get_by_role("button", name="Se déconnecter").click()
        await page.wait_for_url("**/login**")
        assert await outbox(page) == []
    finally:
        await ctx.close()


PHOTO_TEXT = "Escarre talon droit, photo prise sans réseau"


async def test_a_photo_chosen_offline_waits_on_the_device_and_leaves_once_after_the_page_was_closed(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    svc = web_installation.services
    nurse, doctor, conv = await care_case(web_installation, "ehpad-photo-hors-ligne")
    base = web_server.url
    ctx, page = await phone(browser, bypass_csp=AXE.exists())  # bypassed only to inject axe itself
    d_ctx, d = await phone(browser)
    try:
        await sign_in(page, base, nurse)
        await page.goto(f"{base}/c/{conv}")
        await service_worker(ctx, page)
        await ctx.set_offline(True)
        await page.get_by_label("Message", exact=True).fill(PHOTO_TEXT)
        photo = phone_photo(4000, 3000, quality=90)
        await choose(page, "talon-droit.jpg", photo)
        dialog = page.get_by_role("dialog", name=DIALOG)
        await dialog.get_by_role("button", name="Envoyer").click()
        await expect(dialog).to_have_count(0)
        waiting = page.locator(".msg.waiting")
        await expect(waiting).to_have_count(1)
        await expect(waiting.locator(".tag")).to_have_text("en attente")
        await expect(waiting.locator(".body")).to_have_text(PHOTO_TEXT)
        await expect(waiting.locator(".file-waiting")).to_have_text("talon-droit.jpg")
        await expect(waiting.locator(".file-waiting canvas")).to_be_visible()  # drawn from the stored photo
        await expect(page.locator("#live-status")).to_have_text(
            "Pas encore envoyé : le message est gardé sur cet appareil et partira dès le retour du réseau.")
        await expect(page.locator(".pending li")).to_have_count(0)
        assert "impossible" not in await page.locator("main").inner_text()
        [kept] = await outbox_files(page)
        # The edited, resized photo waits, never the 4 MB original (which carries a GPS position).
        assert kept["name"] == "talon-droit.jpg" and kept["type"] in ("image/webp", "image/jpeg")
        assert kept["size"] < 400_000 < len(photo), kept
        if AXE.exists():
            assert await _axe(page, "waiting photo") == {}
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]

        await page.reload()  # still offline: the offline page, the photo kept on the device
        await expect(page.locator("[data-outbox-count]")).to_have_text(
            "1 message attend sur cet appareil : il partira au retour du réseau.")
        await page.close()  # and the page closed
        async with svc.db.transaction() as tx:
            assert await tx.uploads.open_bytes(nurse.actor.org_id, nurse.id, svc.clock.now().replace(year=2000)) == 0

        await ctx.set_offline(False)
        await sign_in(d, base, doctor)
        await d.goto(f"{base}/c/{conv}")
        page = await ctx.new_page()
        await page.goto(f"{base}/c/{conv}")
        arrived = d.locator(".msg", has_text=PHOTO_TEXT)
        await expect(arrived.locator("img[alt^='talon-droit.']")).to_be_visible(timeout=30_000)
        await expect(page.locator(".msg.mine", has_text=PHOTO_TEXT).locator(".files img")).to_have_count(1)
        await expect(page.locator(".msg.waiting")).to_have_count(0)
        assert await outbox_files(page) == []

        await page.reload()  # nothing leaves a second time
        await asyncio.sleep(0.5)
        await d.reload()
        await expect(d.locator(".msg", has_text=PHOTO_TEXT)).to_have_count(1)
        await expect(d.locator(".msg .files img")).to_have_count(1)
        history: Any = await messages.history(svc, doctor.actor, uuid.UUID(conv))
        sent = [m for m in history if m.get("body") == PHOTO_TEXT]
        assert len(sent) == 1 and len(sent[0]["attachments"]) == 1, sent  # once, with its photo
    finally:
        await ctx.close()
        await d_ctx.close()


# In the service worker: an upload begun before the network went (300 KB of it on the server),
# one the server forgot (expired), and a file it refuses wait in the outbox; a flush finishes
# the first at the server's offset, starts the second again from zero and drops the third with
# the server's words. The worker's fetch is watched for the offsets the pieces start at.
FLUSH_UPLOADS = """async ([b64, conversation]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const photo = new Blob([bytes], { type: "image/jpeg" });
  const json = { Accept: "application/json", "Content-Type": "application/json" };
  const made = await (await fetch(`/api/v1/conversations/${conversation}/uploads`, { method: "POST",
    headers: json, body: JSON.stringify({ size: photo.size, name: "plaie.jpg" }) })).json();
  await fetch(`/api/v1/uploads/${made.id}`, { method: "PATCH", body: photo.slice(0, 300000),
    headers: { "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream" } });
  const me = await outboxMe();
  const item = (client_id, body, blob, name, upload) => outboxPut({ person: me.person, conversation, client_id, body,
    reply_to: "", urgent: false, attachment_ids: [], at: Date.now(), uploads: [{ blob, name, upload }] });
  await item("a-resumed", "Reprise", photo, "plaie.jpg", made.id);
  await item("b-forgotten", "Oubliée", photo, "plaie.jpg", crypto.randomUUID());
  await item("c-refused", "Refusée", new Blob(["MZ\\u0090\\u0000"]), "outil.exe", null);
  const offsets = [], real = self.fetch;
  self.fetch = (url, init = {}) => {
    if (init.method === "PATCH") offsets.push(Number(init.headers["Upload-Offset"]));
    return real(url, init);
  };
  try {
    const done = await outboxFlush(me.person, me.csrf);
    return { offsets, done: done.map((d) => [d.item.body, d.message ? d.message.attachments.length : d.refused]),
             left: (await outboxItems()).length };
  } finally { self.fetch = real; }
}"""


async def test_the_service_worker_finishes_queued_uploads_at_the_servers_offset(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    svc = web_installation.services
    nurse, doctor, conv = await care_case(web_installation, "ehpad-reprise-sw")
    ctx, page = await phone(browser)
    try:
        await sign_in(page, web_server.url, nurse)
        await page.goto(f"{web_server.url}/c/{conv}")
        sw = await service_worker(ctx, page)
        photo = phone_photo(2000, 1500, quality=90)
        assert 2**20 < len(photo) <= 300_000 + 2**20, len(photo)  # the rest is one piece, the whole two
        result = await sw.evaluate(FLUSH_UPLOADS, [base64.b64encode(photo).decode(), conv])
        assert result["offsets"] == [300_000, 0, 2**20, 0], result  # resumed; from zero; the refused file
        assert result["done"][:2] == [["Reprise", 1], ["Oubliée", 1]], result
        assert result["done"][2][0] == "Refusée" and "n'est pas accepté" in result["done"][2][1], result
        assert result["left"] == 0
        history: Any = await messages.history(svc, doctor.actor, uuid.UUID(conv))
        assert [(m.get("body"), len(m.get("attachments", []))) for m in history if m.get("body")] == [
            ("Reprise", 1), ("Oubliée", 1)]
    finally:
        await ctx.close()

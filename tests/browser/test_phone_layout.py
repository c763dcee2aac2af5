"""The phone layout at 360×780 first, then 1280×800: a compact app bar and four tabs that leave
the screen to the messages, new messages never hidden behind the composer (or announced by
the "Nouveaux messages ↓" pill), @mention autocomplete, the list's previews, the home-screen
install prompt and its icons, no script error on the daily screens, and axe-core clean."""

from __future__ import annotations

import io
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from PIL import Image
from playwright.async_api import Browser, Page, expect

from chevet.app.attachments import upload
from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
from tests.browser.conftest import AXE, french_context, sign_in
from tests.browser.test_quality import _axe
from tests.support import IN_CI, Member, Server, login, new_member, new_org

PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 800}
TITLE = "Chute chambre 12 : surveillance de la plaie du talon gauche et de la douleur"
LAST = "Pansement refait ce matin, plaie propre, pas de signe d'infection."


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 120, 90)).save(out, "JPEG")
    return out.getvalue()


async def _seed(installation: Installation) -> tuple[Member, Member, Member, str]:
    """An EHPAD: an admin, a nurse, a physician; a busy care case with a long title, a group
    whose last message is a photo, another whose last message was deleted."""
    svc = installation.services
    org = await new_org(svc, "ehpad-phone")
    admin = await new_member(svc, org, "admin", "Claire Martin")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    doctor = await new_member(svc, org, "physician", "Paul Lefèvre")
    view, _ = await conversations.create_conversation(svc, nurse.actor, kind="care_case", title=TITLE,
                                                      member_ids=[doctor.id, admin.id], care_case_ref="CH12")
    cid = uuid.UUID(view["id"])
    for i in range(24):
        who = nurse if i % 2 else doctor
        await messages.send_message(svc, who.actor, cid, client_id=f"seed-{i}",
                                    body=f"Transmission {i} : tension 12/7, douleur 2/10, a bien mangé.")
    await messages.send_message(svc, doctor.actor, cid, body=LAST, client_id="last")
    photo, _ = await conversations.create_conversation(svc, doctor.actor, kind="group", title="Équipe de nuit",
                                                       member_ids=[nurse.id])
    att, _ = await upload.upload(svc, doctor.actor, uuid.UUID(photo["id"]), data=_jpeg(), name="talon.jpg")
    await messages.send_message(svc, doctor.actor, uuid.UUID(photo["id"]), body="", client_id="photo",
                                attachment_ids=[uuid.UUID(att["id"])])
    gone, _ = await conversations.create_conversation(svc, nurse.actor, kind="group", title="Transmissions du soir",
                                                      member_ids=[doctor.id])
    sent, _ = await messages.send_message(svc, doctor.actor, uuid.UUID(gone["id"]), body="Erreur de chambre",
                                          client_id="gone")
    await messages.delete_message(svc, doctor.actor, uuid.UUID(gone["id"]), uuid.UUID(sent["id"]))
    return admin, nurse, doctor, view["id"]


async def _box(page: Page, selector: str) -> dict[str, float]:
    box = await page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box


async def _height(page: Page, selector: str) -> float:
    """The height an element takes on screen (0 when not displayed)."""
    return float(await page.evaluate(
        "(s) => { const e = document.querySelector(s); if (!e) return 0; const r = e.getBoundingClientRect();"
        " return getComputedStyle(e).display === 'none' ? 0 : r.height; }", selector))


def _send_as(server: Server, token: str, cid: str, body: str) -> None:
    """Another person's message, sent through the server (its stream delivers it live)."""
    r = httpx.post(f"{server.url}/api/v1/conversations/{cid}/messages", headers={"Authorization": f"Bearer {token}"},
                   json={"body": body, "client_id": uuid.uuid4().hex})
    assert r.status_code in (200, 201), r.text


async def test_phone_bars_leave_the_screen_to_the_messages(browser: Browser, web_installation: Installation,
                                                           web_server: Server) -> None:
    """Bars at most 20 % of the height, the four tabs, the title on one line, no script error on
    the daily screens (the 'kind' error of the conversation page) and axe-core clean."""
    if not AXE.exists():
        if IN_CI:
            pytest.fail("axe-core is required in CI: run .ci/setup-browsers")
        pytest.skip("axe-core not installed (run .ci/setup-browsers)")
    admin, nurse, _, cid = await _seed(web_installation)
    ctx: Any = await french_context(browser, viewport=PHONE, bypass_csp=True)  # bypass: only to inject axe
    page: Page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    await sign_in(page, web_server.url, nurse)
    problems: dict[str, list[str]] = {}

    # The list: app bar and tab bar together at most 20 % of 780 px.
    bars = await _height(page, "header.top") + await _height(page, "nav.tabbar")
    assert 0 < bars <= 0.20 * PHONE["height"], bars
    tabbar = await _box(page, "nav.tabbar")
    assert tabbar["y"] + tabbar["height"] == pytest.approx(PHONE["height"], abs=1)  # at the bottom
    problems.update(await _axe(page, "list @360"))
    tabs = page.get_by_role("navigation", name="Onglets")
    for name, path in [("Signaler", "/signalement/nouveau"), ("Recherche", "/search"), ("Moi", "/account"),
                       ("Conversations", "/")]:
        await tabs.get_by_role("link", name=name).click()
        await page.wait_for_url(web_server.url + path)
        await expect(tabs.get_by_role("link", name=name)).to_have_attribute("aria-current", "page")
    for path in ["/new", "/search?q=pansement", "/account"]:
        await page.goto(web_server.url + path)
        await page.wait_for_load_state("networkidle")

    # The conversation: its own header is the app bar, the composer takes the tabs' place.
    await page.goto(f"{web_server.url}/c/{cid}")
    await page.wait_for_load_state("networkidle")
    bars = await _height(page, "header.top") + await _height(page, "nav.tabbar") + await _height(page, ".conv-head")
    assert 0 < bars <= 0.20 * PHONE["height"], bars
    title = page.get_by_role("heading", level=1)
    await expect(title).to_have_text(TITLE)  # whole for screen readers
    one_line = await title.evaluate("h => [h.getBoundingClientRect().height,"
                                    " parseFloat(getComputedStyle(h).lineHeight), h.scrollWidth > h.clientWidth]")
    assert one_line[0] <= one_line[1] * 1.2 and one_line[2], one_line  # one line, cut with an ellipsis
    await title.click()  # a tap shows it whole
    assert (await title.bounding_box() or {"height": 0})["height"] > one_line[1] * 1.5
    await page.get_by_role("link", name="Aller à la saisie").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_label("Message", exact=True)).to_be_focused()
    problems.update(await _axe(page, "conversation @360"))

    await page.set_viewport_size(DESKTOP)
    for path in ["/", f"/c/{cid}"]:
        await page.goto(web_server.url + path)
        await page.wait_for_load_state("networkidle")
        assert await _height(page, "nav.tabbar") == 0  # the desktop keeps its header navigation
        await expect(page.get_by_role("navigation", name="Navigation principale")
                     .get_by_role("link", name="Recherche")).to_be_visible()
        problems.update(await _axe(page, f"{path} @1280"))
    await ctx.close()
    ctx = await french_context(browser, viewport=PHONE, bypass_csp=True)
    page = await ctx.new_page()
    await sign_in(page, web_server.url, admin)
    for size in (PHONE, DESKTOP):
        await page.set_viewport_size(size)
        await page.goto(web_server.url + "/admin/organisation")
        problems.update(await _axe(page, f"/admin/organisation @{size['width']}"))
    await ctx.close()
    assert problems == {}
    assert errors == []


async def test_new_messages_are_never_hidden_by_the_composer(browser: Browser, web_installation: Installation,
                                                             web_server: Server) -> None:
    _, nurse, doctor, cid = await _seed(web_installation)
    ctx: Any = await french_context(browser, viewport=PHONE, bypass_csp=AXE.exists())  # bypass: to inject axe
    page: Page = await ctx.new_page()
    await sign_in(page, web_server.url, nurse)
    await page.goto(f"{web_server.url}/c/{cid}")
    await page.wait_for_load_state("networkidle")
    composer = page.locator("#composer")
    textarea = page.get_by_label("Message", exact=True)
    # Compact until focused: one line and its icons.
    assert (await _box(page, "#composer"))["height"] <= 0.15 * PHONE["height"]
    await expect(page.get_by_label("Urgent")).to_be_hidden()
    narrow = (await _box(page, "#composer textarea"))["width"]
    await textarea.focus()
    await expect(page.get_by_label("Urgent")).to_be_visible()
    # The options shown on focus take a line of their own: the text field keeps its width.
    assert (await _box(page, "#composer textarea"))["width"] >= narrow - 1
    await textarea.blur()
    await page.wait_for_timeout(100)
    assert (await _box(page, "#composer"))["height"] <= 0.15 * PHONE["height"]

    async def fully_visible(text: str) -> bool:
        msg = await _box(page, f".msg:has-text('{text}')")
        top = (await _box(page, "#composer"))["y"]
        return msg["y"] >= 0 and msg["y"] + msg["height"] <= top + 0.5

    # At the bottom, a live reply lands above the composer, never under it.
    token = login(web_server.url, doctor)
    _send_as(web_server, token, cid, "Je passe à 11h voir le talon, préparez le matériel de pansement.")
    await expect(page.locator(".msg", has_text="Je passe à 11h")).to_be_visible()
    await page.wait_for_timeout(200)
    assert await fully_visible("Je passe à 11h")
    pill = page.get_by_role("button", name="Nouveaux messages ↓")
    await expect(pill).to_be_hidden()

    # Scrolled up to read older messages: the page stays put, the pill says something came.
    await page.evaluate("scrollTo({top: 0, behavior: 'instant'})")
    _send_as(web_server, token, cid, "Famille prévenue, elle passera ce soir.")
    await expect(pill).to_be_visible()
    assert not await fully_visible("Famille prévenue")
    assert await page.evaluate("scrollY") < 50
    if AXE.exists():
        assert await _axe(page, "conversation with the pill @360") == {}
    await pill.click()
    await expect(pill).to_be_hidden()
    await page.wait_for_timeout(200)
    assert await fully_visible("Famille prévenue")

    # One's own message, sent from the composer, is in view above it too.
    await textarea.fill("Bien noté, matériel prêt en salle de soins.")
    await page.get_by_role("button", name="Envoyer").click()
    await expect(page.locator(".msg.mine", has_text="matériel prêt")).to_be_visible()
    await page.wait_for_timeout(200)
    assert await fully_visible("matériel prêt")
    await expect(composer).to_be_visible()
    # Scrolled up, then sent with no network: her message waits « en attente », in view too.
    await page.evaluate("scrollTo({top: 0, behavior: 'instant'})")
    await ctx.set_offline(True)
    await textarea.fill("Pas de réseau en chambre 12, je renvoie en sortant.")
    await page.get_by_role("button", name="Envoyer").click()
    await expect(page.locator(".msg.waiting", has_text="Pas de réseau")).to_be_visible()
    await page.wait_for_timeout(200)
    assert await fully_visible("Pas de réseau")
    await ctx.set_offline(False)
    # While she types, the buttons stay where they are when the field loses the focus: a tap on
    # « Joindre » opens the file chooser instead of landing where the button was a moment before.
    await textarea.focus()
    async with page.expect_file_chooser(timeout=5000):
        await page.locator("#composer label[for=files]").click()
    await ctx.close()


async def test_a_live_message_shows_its_time_in_paris_whatever_the_device_clock(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    """A ward computer left in UTC (or a phone abroad) still shows the times of the
    establishment, the same for a message placed live as for one the server rendered."""
    _, nurse, doctor, cid = await _seed(web_installation)
    ctx: Any = await french_context(browser, viewport=PHONE, timezone_id="UTC")
    page: Page = await ctx.new_page()
    await sign_in(page, web_server.url, nurse)
    await page.goto(f"{web_server.url}/c/{cid}")
    await page.wait_for_load_state("networkidle")
    _send_as(web_server, login(web_server.url, doctor), cid, "Tension prise, 13/8.")
    live = page.locator(".msg", has_text="Tension prise").locator("time")
    await expect(live).to_be_visible()
    at = datetime.fromisoformat(str(await live.get_attribute("datetime")))
    await expect(live).to_have_text(at.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M"))
    await page.reload()
    await expect(page.locator(".msg", has_text="Tension prise").locator("time")).to_have_text(
        at.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M"))
    await ctx.close()


ANDROID_CHROME = ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
                  "Mobile Safari/537.36")


async def test_her_devices_are_named_in_words_on_the_account_and_security_pages(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    _, nurse, _, _ = await _seed(web_installation)
    ctx: Any = await french_context(browser, viewport=PHONE, user_agent=ANDROID_CHROME, timezone_id="UTC")
    page: Page = await ctx.new_page()
    await sign_in(page, web_server.url, nurse)
    for path, heading in (("/account", "#h-sessions"), ("/compte/securite", "#devices-h")):
        await page.goto(web_server.url + path)
        sessions = page.locator(f"section:has({heading})")
        await expect(sessions.get_by_text("Chrome sur Android")).to_be_visible()
        await expect(sessions.get_by_text("Cet appareil")).to_be_visible()
        shown = await sessions.inner_text()
        assert "Mozilla" not in shown and "AppleWebKit" not in shown and "password" not in shown, (path, shown)
    await ctx.close()


async def test_mention_autocomplete_writes_a_mention_the_server_understands(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    _, nurse, doctor, cid = await _seed(web_installation)
    ctx: Any = await french_context(browser, viewport=PHONE, bypass_csp=AXE.exists())  # bypass: to inject axe
    page: Page = await ctx.new_page()
    await sign_in(page, web_server.url, nurse)
    await page.goto(f"{web_server.url}/c/{cid}")
    textarea = page.get_by_label("Message", exact=True)
    await textarea.click()
    await page.keyboard.type("Merci @pa")
    listbox = page.get_by_role("listbox", name="Membres à mentionner")
    await expect(listbox).to_be_visible()
    await expect(listbox.get_by_role("option")).to_have_text(["Paul Lefèvre"])
    if AXE.exists():
        assert await _axe(page, "mention listbox @360") == {}
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Enter")
    await expect(listbox).to_be_hidden()
    await expect(textarea).to_have_value("Merci @Paul Lefèvre ")
    await page.keyboard.type("pouvez-vous passer ?")
    # Escape closes the list without writing anything; a tap chooses like Enter.
    await page.keyboard.type(" et @cl")
    await expect(listbox.get_by_role("option")).to_have_text(["Claire Martin"])
    await page.keyboard.press("Escape")
    await expect(listbox).to_be_hidden()
    await expect(textarea).to_have_value("Merci @Paul Lefèvre pouvez-vous passer ? et @cl")
    await page.keyboard.type("a")
    await listbox.get_by_role("option", name="Claire Martin").click()
    await expect(textarea).to_have_value("Merci @Paul Lefèvre pouvez-vous passer ? et @Claire Martin ")
    await page.get_by_role("button", name="Envoyer").click()
    sent = page.locator(".msg.mine", has_text="pouvez-vous passer")
    await expect(sent.locator(".mention")).to_have_text(["@Paul Lefèvre", "@Claire Martin"])
    await ctx.close()
    # The server made it a mention: Paul's list counts it.
    token = login(web_server.url, doctor)
    r = httpx.get(f"{web_server.url}/api/v1/conversations", headers={"Authorization": f"Bearer {token}"})
    [row] = [c for c in r.json() if c["id"] == cid]
    assert row["unread_mentions"] == 1


async def test_list_previews_and_the_setting_that_removes_them(browser: Browser, web_installation: Installation,
                                                               web_server: Server) -> None:
    admin, nurse, doctor, _ = await _seed(web_installation)
    ctx: Any = await french_context(browser, viewport=PHONE)
    page: Page = await ctx.new_page()
    await sign_in(page, web_server.url, nurse)
    rows = page.locator("#convs li")
    await expect(rows.filter(has_text="Chute chambre 12").locator(".conv-preview")).to_have_text(
        "Paul : " + LAST)
    await expect(rows.filter(has_text="Équipe de nuit").locator(".conv-preview")).to_have_text("Paul : Photo")
    await expect(rows.filter(has_text="Transmissions du soir").locator(".conv-preview")).to_have_count(0)
    preview = await _box(page, "#convs li .conv-preview")
    assert preview["height"] < 30  # one line, cut with an ellipsis
    # A message arriving while the list is open updates its preview in place.
    care_id = await rows.filter(has_text="Chute chambre 12").get_attribute("data-conversation")
    assert care_id is not None
    _send_as(web_server, login(web_server.url, doctor), care_id, "Antalgique donné à 10h.")
    await expect(rows.filter(has_text="Chute chambre 12").locator(".conv-preview")).to_have_text(
        "Paul : Antalgique donné à 10h.")
    a_ctx: Any = await french_context(browser, viewport=PHONE)
    a = await a_ctx.new_page()
    await sign_in(a, web_server.url, admin)
    await a.goto(f"{web_server.url}/admin/organisation")
    box = a.get_by_label("Montrer qui a écrit le dernier message et son début")
    await expect(box).to_be_checked()
    await box.uncheck()
    await a.locator("form[action='/admin/organisation/list-preview']").get_by_role("button").click()
    await expect(a.get_by_label("Montrer qui a écrit le dernier message et son début")).not_to_be_checked()
    await a_ctx.close()
    raw = await page.request.get(f"{web_server.url}/")
    html = await raw.text()
    assert raw.status == 200 and "Chute chambre 12" in html
    for text in ("Pansement", "Antalgique", "conv-preview", "Photo", "Paul :", "Transmission 2"):
        assert text not in html, text
    await ctx.close()


async def test_icons_in_the_manifest_and_the_install_prompt(browser: Browser, web_installation: Installation,
                                                            web_server: Server) -> None:
    _, nurse, doctor, _ = await _seed(web_installation)
    manifest = httpx.get(f"{web_server.url}/manifest.webmanifest").json()
    icons = {(i["sizes"], i.get("purpose", "any")): i for i in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= set(icons)
    for (sizes, _), icon in icons.items():
        r = httpx.get(web_server.url + icon["src"])
        assert r.status_code == 200 and r.headers["content-type"] == icon["type"]
        if icon["type"] == "image/png":
            assert "x".join(map(str, Image.open(io.BytesIO(r.content)).size)) == sizes
    ctx: Any = await french_context(browser, viewport=PHONE)
    page: Page = await ctx.new_page()
    await sign_in(page, web_server.url, nurse)
    touch = await page.locator("link[rel=apple-touch-icon]").get_attribute("href")
    assert touch is not None
    r = httpx.get(web_server.url + touch)
    assert r.headers["content-type"] == "image/png" and Image.open(io.BytesIO(r.content)).size == (180, 180)

    prompt = page.get_by_role("region", name="Installer Chevet sur l'écran d'accueil")
    await expect(prompt).to_be_hidden()
    fire = """() => { const e = new Event('beforeinstallprompt', {cancelable: true});
        e.prompt = () => { window.__prompted = true; return Promise.resolve(); };
        e.userChoice = Promise.resolve({outcome: 'accepted'}); dispatchEvent(e); }"""
    await page.evaluate(fire)
    await expect(prompt).to_be_visible()
    await prompt.get_by_role("button", name="Installer").click()
    await expect(prompt).to_be_hidden()
    assert await page.evaluate("window.__prompted === true")
    await page.evaluate(fire)
    await prompt.get_by_role("button", name="Plus tard").click()
    await expect(prompt).to_be_hidden()
    await page.reload()
    await page.evaluate(fire)
    await page.wait_for_timeout(200)
    await expect(prompt).to_be_hidden()  # dismissed on this device, remembered
    await ctx.close()
    # iOS Safari has no such event: the prompt says how to do it by hand.
    ios: Any = await french_context(browser, viewport=PHONE, user_agent=(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1"))
    page = await ios.new_page()
    await sign_in(page, web_server.url, nurse, offset_steps=1)  # a code is good once
    prompt = page.get_by_role("region", name="Installer Chevet sur l'écran d'accueil")
    await expect(prompt).to_contain_text("touchez Partager puis « Sur l'écran d'accueil »")
    await expect(prompt.get_by_role("button", name="Installer")).to_be_hidden()
    await ios.close()
    # Chrome on Android sends no event when it deems the page not installable yet or was refused
    # before: after a moment the invitation says where Chrome keeps it; a later event brings back
    # the button.
    android: Any = await french_context(browser, viewport=PHONE, bypass_csp=AXE.exists(), user_agent=(
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36"))  # bypass: to inject axe
    page = await android.new_page()
    await sign_in(page, web_server.url, doctor)
    prompt = page.get_by_role("region", name="Installer Chevet sur l'écran d'accueil")
    steps = prompt.get_by_text(
        "Dans le menu ⋮ de Chrome, touchez « Ajouter à l'écran d'accueil » ou « Installer l'application ».")
    await expect(steps).to_be_visible()
    await expect(prompt.get_by_text("touchez Partager")).to_be_hidden()
    await expect(prompt.get_by_role("button", name="Installer")).to_be_hidden()
    await expect(prompt.get_by_role("button", name="Plus tard")).to_be_visible()
    if AXE.exists():
        assert await _axe(page, "list with the Android steps @360") == {}
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.evaluate(fire)
    await expect(prompt.get_by_role("button", name="Installer")).to_be_visible()
    await expect(steps).to_be_hidden()
    await android.close()

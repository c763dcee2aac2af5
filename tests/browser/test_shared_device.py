"""Two people alternating on one shared tablet, in Chromium at 360×780.

The administrator registers the tablet from the tablet itself. Sophie (a nurse) signs in
fully, chooses her PIN, writes a draft and has a message waiting in the offline outbox; the
tablet locks by itself after its idle delay (the page's clock is moved, nothing is waited
for). Julie (a care assistant) signs in fully the first time, with her PIN the second: she
sees nothing of Sophie's (no conversation title, no draft, nothing in IndexedDB), and the
server refuses Sophie's old session cookie. Sophie comes back with her PIN: her waiting
message is not resurrected, neither under Julie nor under her, and was never sent."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, Page, expect

from chevet.app.messaging import conversations
from chevet.bootstrap import Installation
from tests.browser.conftest import AXE, french_context, sign_in
from tests.browser.test_notify import outbox
from tests.browser.test_quality import _axe
from tests.support import Member, Server, login, new_member, new_org

PHONE = {"viewport": {"width": 360, "height": 780}}
CARE = "Mme Quatrefages, chambre 12"
DRAFT = "Brouillon : surveiller la glycémie de Mme Q."
WAITING = "Message de Sophie en attente hors ligne"
PIN_SOPHIE, PIN_JULIE = "482915", "730164"
TABLET = "Tablette unité Les Tilleuls"

_STORAGE = """() => Object.keys(sessionStorage).map((k) => sessionStorage.getItem(k)).join("\\n")"""
_DATABASES = """() => indexedDB.databases().then((dbs) => dbs.map((d) => d.name))"""


async def full_sign_in(page: Page, base: str, who: Member, pin: str) -> None:
    """The lock screen's « full sign-in », then the PIN chosen for the period."""
    await page.goto(f"{base}/login")
    await expect(page).to_have_url(f"{base}/appareil")  # a shared device opens on its lock screen
    await page.get_by_role("link", name="Me connecter avec mon identification complète").click()
    await page.get_by_label("Adresse e-mail").fill(who.email)
    await page.get_by_label("Mot de passe").fill(who.password)
    await page.get_by_label("Code à 6 chiffres").fill(who.otp())
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(f"{base}/appareil/code**")
    await page.get_by_label("Code personnel (6 à 12 chiffres)").fill("111111")
    await page.get_by_label("Le même code, encore").fill("111111")
    await page.get_by_role("button", name="Choisir ce code").click()
    await expect(page.locator("#form-error")).to_contain_text("se devine trop facilement")
    await page.get_by_label("Code personnel (6 à 12 chiffres)").fill(pin)
    await page.get_by_label("Le même code, encore").fill(pin)
    await page.get_by_role("button", name="Choisir ce code").click()
    await page.wait_for_url(f"{base}/")


async def unlock(page: Page, base: str, name: str, pin: str) -> None:
    await page.goto(f"{base}/appareil")
    await page.get_by_role("link", name=name).click()
    await page.get_by_label("Code personnel").fill(pin)
    await page.get_by_role("button", name="Déverrouiller").click()
    await page.wait_for_url(f"{base}/")


async def session_cookie(ctx: BrowserContext) -> str:
    return next(c["value"] for c in await ctx.cookies() if c["name"] == "chevet_session")


async def nothing_of(page: Page, *texts: str) -> None:
    """Neither the page, nor the tab's drafts, nor the outbox hold any of these texts."""
    shown = await page.locator("body").inner_text()
    stored = await page.evaluate(_STORAGE)
    queued = await outbox(page)
    for text in texts:
        assert text not in shown and text not in stored and all(text not in q for q in queued), text


async def test_two_people_alternate_on_a_shared_tablet_and_see_nothing_of_each_other(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    svc, base = web_installation.services, web_server.url
    org = await new_org(svc, "ehpad-tilleuls")
    admin = await new_member(svc, org, "admin", "Alice Admin")
    sophie = await new_member(svc, org, "nurse", "Sophie Bernard")
    julie = await new_member(svc, org, "care_assistant", "Julie Petit")
    doctor = await new_member(svc, org, "physician", "Paul Lefèvre")
    conv, _ = await conversations.create_conversation(svc, sophie.actor, kind="care_case", title=CARE,
                                                      member_ids=[doctor.id], care_case_ref="CH12")
    ctx: Any = await french_context(browser, **PHONE, bypass_csp=AXE.exists())
    page: Page = await ctx.new_page()
    await page.clock.install()
    violations: dict[str, list[str]] = {}

    async def axe(label: str) -> None:
        if AXE.exists():
            violations.update(await _axe(page, label))

    try:
        # The administrator registers the tablet from the tablet itself, and is signed out of it.
        await sign_in(page, base, admin)
        await page.goto(f"{base}/console")
        await page.get_by_role("link", name="Appareils partagés").first.click()
        await axe("console")
        await page.get_by_label("Nom de l'appareil").fill(TABLET)
        await page.get_by_role("button", name="Enregistrer comme appareil partagé").click()
        await page.wait_for_url(f"{base}/appareil?fait=registered")
        await expect(page.get_by_role("heading", name="Appareil verrouillé")).to_be_visible()
        await expect(page.get_by_text("Personne n'a de période ouverte sur cet appareil.")).to_be_visible()
        device = next(c for c in await ctx.cookies() if c["name"] == "chevet_shared")
        assert device["httpOnly"] and device["sameSite"] == "Lax" and len(device["value"]) >= 40
        assert "chevet_session" not in {c["name"] for c in await ctx.cookies()}
        await axe("lock screen, empty")

        # Sophie: full sign-in, her PIN, a draft and a message waiting offline.
        await full_sign_in(page, base, sophie, PIN_SOPHIE)
        await expect(page.get_by_role("button", name="Verrouiller")).to_be_visible()
        sophie_cookie = await session_cookie(ctx)
        await page.goto(f"{base}/c/{conv['id']}")
        await ctx.route("**/send", lambda route: route.abort())
        composer = page.get_by_label("Message", exact=True)
        await composer.fill(WAITING)
        await page.get_by_role("button", name="Envoyer").click()
        await expect(page.locator(".msg.waiting")).to_have_count(1)
        await composer.fill(DRAFT)
        assert DRAFT in await page.evaluate(_STORAGE) and await outbox(page) == [WAITING]

        # Left alone, the tablet locks after its delay (3 minutes): the page's clock is moved.
        await page.clock.fast_forward("03:05")
        await page.wait_for_url(f"{base}/appareil")
        await expect(page.get_by_role("link", name="Sophie B.")).to_be_visible()
        await nothing_of(page, CARE, DRAFT, WAITING)
        assert "Bernard" not in await page.locator("body").inner_text()
        await axe("lock screen, one person")
        r = httpx.get(f"{base}/api/v1/conversations", cookies={"chevet_session": sophie_cookie})
        assert r.status_code == 401  # her session ended with the lock

        # Julie: full sign-in the first time. Nothing of Sophie's anywhere in the browser, and
        # the network is back: whatever had been left would leave now, as Julie.
        await ctx.unroute("**/send")
        await full_sign_in(page, base, julie, PIN_JULIE)
        await nothing_of(page, CARE, DRAFT, WAITING)
        assert "chevet-outbox" not in await page.evaluate(_DATABASES) or await outbox(page) == []
        await page.goto(f"{base}/c/{conv['id']}")
        await nothing_of(page, CARE, DRAFT, WAITING)
        r = httpx.get(f"{base}/api/v1/conversations", cookies={"chevet_session": sophie_cookie})
        assert r.status_code == 401
        await page.goto(f"{base}/")
        await page.get_by_role("button", name="Verrouiller").click()
        await page.wait_for_url(f"{base}/appareil")
        await expect(page.get_by_role("link", name="Julie P.")).to_be_visible()
        await expect(page.get_by_role("link", name="Sophie B.")).to_be_visible()

        # Julie again, with her PIN this time; a wrong PIN first says so in French.
        await page.get_by_role("link", name="Julie P.").click()
        await axe("PIN")
        await page.get_by_label("Code personnel").fill("000111")
        await page.get_by_role("button", name="Déverrouiller").click()
        await expect(page.locator("#form-error")).to_have_text("Code incorrect. Essais restants : 2.")
        await page.get_by_label("Code personnel").fill(PIN_JULIE)
        await page.get_by_role("button", name="Déverrouiller").click()
        await page.wait_for_url(f"{base}/")
        julie_cookie = await session_cookie(ctx)
        await nothing_of(page, CARE, DRAFT, WAITING)
        await page.get_by_role("button", name="Verrouiller").click()
        await page.wait_for_url(f"{base}/appareil")

        # Sophie comes back with her PIN: her waiting message was not kept for anyone.
        await unlock(page, base, "Sophie B.", PIN_SOPHIE)
        await page.goto(f"{base}/c/{conv['id']}")
        await expect(page.locator(".msg.waiting")).to_have_count(0)
        await expect(page.get_by_label("Message", exact=True)).to_have_value("")
        assert await outbox(page) == []
        r = httpx.get(f"{base}/api/v1/conversations", cookies={"chevet_session": julie_cookie})
        assert r.status_code == 401  # Julie's session ended with the switch
        token = login(base, doctor)
        sent = httpx.get(f"{base}/api/v1/conversations/{conv['id']}/messages",
                         headers={"Authorization": f"Bearer {token}"}).json()
        assert [m for m in sent if m.get("body") == WAITING] == []  # never sent, as Julie or as Sophie
        assert violations == {}
    finally:
        await ctx.close()

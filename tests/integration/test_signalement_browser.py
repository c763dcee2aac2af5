"""The issue's browser scenario on a real server with Debian's Chromium: a care assistant signs in
to the web client and reports a fall at night, with a photo, from a 360-pixel phone window; the
quality lead qualifies it; the director completes, validates and exports the regulatory form as a
PDF; an English-speaking quality lead reads the pages in English. No page may trip the
Content-Security-Policy."""

from __future__ import annotations

import io
import os
import re
import shutil
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from chevet.bootstrap import Installation
from tests.conftest import _require
from tests.media_samples import phone_photo
from tests.signalement_support import ehpad
from tests.support import Member, Server

expect = None  # playwright's expect, set by the browser fixture

UNLABELLED = ("Array.from(document.querySelectorAll('input:not([type=hidden]),select,textarea'))"
              ".filter(e => e.labels.length === 0).map(e => e.name)")
CHROMIUM = os.environ.get("CHEVET_CHROMIUM", "/usr/bin/chromium")
PHONE = {"width": 360, "height": 740}


@pytest.fixture
async def browser():  # type: ignore[no-untyped-def]
    playwright_api = pytest.importorskip("playwright.async_api")
    globals()["expect"] = playwright_api.expect
    _require(shutil.which(CHROMIUM) is not None or os.path.exists(CHROMIUM), "Chromium (apt-get install chromium)")
    async with playwright_api.async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


async def _sign_in(browser, server: Server, who: Member, csp_errors: list[str], *,  # type: ignore[no-untyped-def]
                   english: bool = False, **context):
    ctx = await browser.new_context(locale="en-GB" if english else "fr-FR", timezone_id="Europe/Paris", **context)
    page = await ctx.new_page()
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    await page.goto(f"{server.url}/signalement")  # the web client's own sign-in, then back here
    await page.get_by_label("E-mail address" if english else "Adresse e-mail").fill(who.email)
    await page.get_by_label("Password" if english else "Mot de passe").fill(who.password)
    # A code is accepted once: a second sign-in of the same person uses the next one.
    await page.get_by_label("6-digit code" if english else "Code à 6 chiffres").fill(who.otp(1 if english else 0))
    await page.get_by_role("button", name="Sign in" if english else "Se connecter").click()
    await page.wait_for_url(f"{server.url}/signalement")
    return ctx, page


async def test_night_fall_from_a_phone_to_the_exported_form(installation: Installation, server: Server,
                                                             browser) -> None:  # type: ignore[no-untyped-def]
    e = await ehpad(installation.services, "ehpad-tilleuls")
    csp: list[str] = []
    night = (datetime.now(ZoneInfo("Europe/Paris")) - timedelta(days=1)).replace(hour=3, minute=10)

    # 1. The care assistant, on a phone, at night.
    ctx, page = await _sign_in(browser, server, e.carer, csp, viewport=PHONE, is_mobile=True, has_touch=True)
    main_nav = page.get_by_role("navigation", name="Navigation principale")
    await expect(main_nav.get_by_role("link", name="Signalements")).to_have_count(0)  # not a manager
    # On a phone, reporting is one of the four tabs at the bottom of the screen.
    await page.get_by_role("navigation", name="Onglets").get_by_role("link", name="Signaler").click()
    # Wait for the form itself: evaluating during the navigation may meet a document without its root.
    await page.wait_for_url(f"{server.url}/signalement/nouveau")
    await expect(page.get_by_label("Description")).to_be_visible()
    assert await page.evaluate(UNLABELLED) == []
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the form fits a phone screen without sideways scrolling"
    await page.get_by_label("Description").fill("Mme R. retrouvée au sol au pied du lit, hématome au front, consciente")
    await page.get_by_label("Survenu le").fill(night.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_label("Où ?").fill("Chambre 12")
    await page.get_by_label("Référence(s) pseudonyme(s)").fill("CH12-R")
    await page.get_by_label("Mesures prises immédiatement").fill("Relevée à deux, surveillance, médecin appelé")
    await page.get_by_label("Joindre des photos ou des documents").set_input_files(
        [{"name": "IMG_0314.jpg", "mimeType": "image/jpeg", "buffer": phone_photo(1600, 1200)}])
    await page.get_by_label("Confidentiel").check()
    await page.get_by_role("button", name="Envoyer le signalement").click()
    await expect(page.get_by_role("heading", name="Votre code de suivi")).to_be_visible()
    code = await page.locator(".followup strong").inner_text()
    assert len(code) == 23
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the pages fit a phone screen without sideways scrolling"
    await ctx.close()

    # 2. The quality lead finds it from the navigation and qualifies it: category 4°, major severity.
    ctx, page = await _sign_in(browser, server, e.quality, csp)
    await page.goto(f"{server.url}/")
    await page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Signalements").click()
    await page.locator("table a").first.click()
    await expect(page.get_by_text("Aïcha Soignante (confidentiel)")).to_be_visible()
    photo = page.get_by_role("link", name=re.compile(r"^IMG_0314\.(webp|avif)$"))
    got = await page.request.get(server.url + str(await photo.get_attribute("href")))
    assert got.ok and got.headers["content-type"].startswith("image/") and b"Exif" not in await got.body()
    assert await page.evaluate(UNLABELLED) == []
    await page.get_by_label("Gravité").select_option("major")
    await page.get_by_label("4° Les accidents ou incidents liés à une erreur", exact=False).check()
    await page.get_by_role("button", name="Qualifier").click()
    await expect(page.get_by_text("Qualification enregistrée.")).to_be_visible()
    await expect(page.get_by_text("Confirmation écrite aux autorités — 48 h", exact=False)).to_be_visible()
    report_url = page.url.split("?")[0]
    await ctx.close()

    # 3. The director completes the pre-filled form, validates it and exports the PDF.
    ctx, page = await _sign_in(browser, server, e.admin, csp)
    await page.goto(f"{report_url}/formulaires/essms")
    await expect(page.get_by_label("Nature et circonstances de l'événement")).to_have_value(
        "Mme R. retrouvée au sol au pied du lit, hématome au front, consciente")
    assert await page.evaluate(UNLABELLED) == []
    await page.get_by_role("button", name="Valider le formulaire (direction)").click()
    await expect(page.get_by_role("alert")).to_contain_text("Champs obligatoires à compléter")
    for label, value in [("N° FINESS de la structure", "750000001"), ("Adresse de la structure", "1 rue des Lilas"),
                         ("Fonction du déclarant", "Directrice"), ("Coordonnées du déclarant", "01 02 03 04 05"),
                         ("Information de la personne", "Fille prévenue à 8 h"),
                         ("Mesures envisagées pour remédier", "Tapis détecteur de chute")]:
        await page.get_by_label(label, exact=False).fill(value)
    await page.locator("#f-cvs_informed-oui").check()
    await page.locator("#f-media_coverage-non").check()
    await page.get_by_role("button", name="Enregistrer le brouillon").click()
    await page.get_by_role("button", name="Valider le formulaire (direction)").click()
    await expect(page.get_by_text("Formulaire validé.")).to_be_visible()
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Télécharger le PDF").click()
    data = open(await (await info.value).path(), "rb").read()
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(data)).pages)
    assert "Mme R. retrouvée au sol" in text and "750000001" in text and "Danielle Directrice" in text
    await page.get_by_label("Canal").select_option("email")
    await page.get_by_label("Numéro de référence reçu").fill("ARS-IDF-2026-118")
    await page.get_by_role("button", name="Enregistrer l'envoi").click()
    await expect(page.get_by_text("Envoi enregistré.")).to_be_visible()
    await page.goto(f"{server.url}/signalement/echeances")
    await expect(page.get_by_text("0 en retard · 0 à faire · 2 faites")).to_be_visible()
    await ctx.close()

    # 4. The reporter reads the outcome with the follow-up code, without signing in.
    ctx = await browser.new_context(locale="fr-FR")
    page = await ctx.new_page()
    await page.goto(f"{server.url}/signalement/suivi")
    await page.get_by_label("Code de suivi").fill(code)
    await page.get_by_role("button", name="Consulter").click()
    await expect(page.get_by_text("Qualifié")).to_be_visible()
    await ctx.close()

    # 5. The same pages in English for a quality lead whose browser asks for English.
    ctx, page = await _sign_in(browser, server, e.quality, csp, english=True)
    await expect(page.get_by_role("heading", name="Incident reports")).to_be_visible()
    await page.locator("table a").first.click()
    await expect(page.get_by_role("heading", name="Regulatory deadlines")).to_be_visible()
    await expect(page.get_by_text("Written confirmation to the authorities — 48 hours", exact=False)).to_be_visible()
    await expect(page.locator("#severity option[value=major]")).to_have_text("3 — Major")
    assert await page.get_by_role("button", name="Qualify").count() == 1
    await page.goto(f"{server.url}/signalement/echeances")
    await expect(page.get_by_text("0 overdue · 0 to do · 2 done")).to_be_visible()
    await ctx.close()
    assert csp == []

"""The quality lead's walk in a real browser. The administrator designates the care manager
quality lead on the console page, by her name; the care assistant, on a phone, reads on the
form who will receive her report and files it; the quality lead, at her desk, finds it from the
navigation and opens it; a colleague with no designation sees nothing of it. The console page
and the form pass axe-core (no serious or critical violation) at 360×780 and 1280×800."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect

from chevet.bootstrap import Installation
from tests.browser.conftest import AXE, french_context, sign_in
from tests.browser.test_quality import _axe
from tests.support import IN_CI, Server, new_member, new_org

PHONE = {"width": 360, "height": 780}
DESK = {"width": 1280, "height": 800}


async def _no_sideways_scroll(page: Page) -> bool:
    return bool(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


async def test_designated_in_the_console_the_quality_lead_finds_the_report(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    if not AXE.exists():
        if IN_CI:
            pytest.fail("axe-core is required in CI: run .ci/setup-browsers")
        pytest.skip("axe-core not installed (run .ci/setup-browsers)")
    svc = web_installation.services
    org = await new_org(svc, "ehpad-les-tilleuls")
    admin = await new_member(svc, org, "admin", "Claire Martin")
    await new_member(svc, org, "director", "Isabelle Fontaine")
    nadia = await new_member(svc, org, "manager", "Nadia Moreau")
    julie = await new_member(svc, org, "care_assistant", "Julie Petit")
    karim = await new_member(svc, org, "nurse", "Karim Haddad")
    base = web_server.url
    problems: dict[str, list[str]] = {}

    # 1. The administrator, at her desk, designates Nadia Moreau from the console.
    ctx: Any = await french_context(browser, viewport=DESK, bypass_csp=True)  # bypass only to inject axe
    page: Page = await ctx.new_page()
    await sign_in(page, base, admin)
    await page.goto(base + "/console")
    await page.get_by_role("link", name="Destinataires des signalements").locator("visible=true").first.click()
    await page.wait_for_url(base + "/admin/signalement")
    await expect(page.locator("#rcp-sentence")).to_contain_text("Votre signalement sera reçu par la direction.")
    await page.get_by_label("Personne", exact=True).select_option(label="Nadia Moreau — Cadre")
    await page.get_by_label("Responsable qualité", exact=False).check()
    await page.get_by_role("button", name="Désigner").click()
    await expect(page.get_by_role("status")).to_contain_text("la désignation est enregistrée")
    await expect(page.locator("#rcp-sentence")).to_contain_text(
        "Votre signalement sera reçu par la responsable qualité et la direction.")
    await expect(page.get_by_role("button", name="Retirer Nadia Moreau des responsables qualité")).to_be_visible()
    for size in (PHONE, DESK):
        await page.set_viewport_size(size)
        problems |= await _axe(page, f"console {size['width']}")
        assert await _no_sideways_scroll(page), size
    await ctx.close()

    # 2. The care assistant, on a phone, reads who will receive it and files a report.
    ctx = await french_context(browser, viewport=PHONE, is_mobile=True, has_touch=True, bypass_csp=True,
                               timezone_id="Europe/Paris")
    page = await ctx.new_page()
    await sign_in(page, base, julie)
    await page.get_by_role("navigation", name="Onglets").get_by_role("link", name="Signaler").click()
    await page.wait_for_url(base + "/signalement/nouveau")
    await expect(page.locator("#recipients")).to_have_text(
        "Votre signalement sera reçu par la responsable qualité et la direction.")
    await expect(page.get_by_label("Survenu le")).to_have_value("")
    problems |= await _axe(page, "form 360")
    assert await _no_sideways_scroll(page)
    when = datetime.now(ZoneInfo("Europe/Paris")) - timedelta(hours=2)
    await page.get_by_label("Description").fill("M. D. a glissé dans la salle de bain, douleur à la hanche")
    await page.get_by_label("Survenu le").fill(when.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_label("Où ?").fill("Chambre 7")
    await page.get_by_role("button", name="Envoyer le signalement").click()
    thanks = "Merci. Votre signalement a été transmis à la responsable qualité et à la direction."
    await expect(page.get_by_text(thanks)).to_be_visible()
    await ctx.close()

    # 3. The quality lead, at her desk, finds it from the navigation and opens it.
    ctx = await french_context(browser, viewport=DESK)
    page = await ctx.new_page()
    await sign_in(page, base, nadia)
    await page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Signalements").click()
    await page.locator("table a").first.click()
    await expect(page.get_by_text("M. D. a glissé dans la salle de bain", exact=False)).to_be_visible()
    report_url = page.url.split("?")[0]
    assert re.search(r"/signalement/[0-9a-f-]{36}$", report_url)
    assert "à vérifier" not in await page.content()
    await ctx.close()

    # 4. A colleague with no designation sees neither the link nor the report.
    ctx = await french_context(browser, viewport=DESK)
    page = await ctx.new_page()
    await sign_in(page, base, karim)
    await expect(page.get_by_role("navigation", name="Navigation principale")
                 .get_by_role("link", name="Signalements")).to_have_count(0)
    answer = await page.goto(report_url)
    assert answer is not None and answer.status == 404
    await ctx.close()
    assert problems == {}

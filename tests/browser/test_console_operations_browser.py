"""The console's Travaux page in a real browser, on a phone (360×780) and a desk (1280×800): the
administrator reaches it from the navigation, starts an export (the passphrase twice), watches the
bar reach « Terminé », is asked to confirm who they are on download, then gets the file. The page
passes axe-core and never scrolls sideways."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from chevet.adapters.db.schema_identity import session_auth
from chevet.bootstrap import Installation
from tests.browser.conftest import AXE, french_context, sign_in
from tests.support import Server, new_member, new_org

SIZES = ({"width": 360, "height": 780}, {"width": 1280, "height": 800})
PASSPHRASE = "une phrase de passe assez longue"


async def _axe(page: Any) -> list[str]:
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes']]}" for v in result["violations"]
            if v.get("impact") in ("serious", "critical")]


async def _sideways(page: Any) -> int:
    return int(await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


async def _open_console(page: Any, width: int) -> None:
    if width < 600:  # the phone: the « Moi » tab leads to the console
        await page.get_by_role("navigation", name="Onglets").get_by_role("link", name="Moi").click()
        await page.get_by_role("link", name=re.compile("Ouvrir la console")).click()
    else:
        await page.get_by_role("link", name="Console", exact=True).click()


async def test_the_administrator_exports_and_downloads_after_confirming_identity(
        browser: Any, web_installation: Installation, web_server: Server) -> None:
    if not AXE.exists():
        pytest.skip("axe-core not installed (run .ci/setup-browsers)")
    svc = web_installation.services
    org = await new_org(svc)
    problems: list[str] = []
    for size in SIZES:
        admin = await new_member(svc, org, "admin", f"Alice Admin {size['width']}")
        ctx: Any = await french_context(browser, viewport=size, bypass_csp=True, accept_downloads=True)
        page = await ctx.new_page()
        await sign_in(page, web_server.url, admin)
        await _open_console(page, size["width"])
        # The section menu folds on a phone: the visible link is the console home's card.
        await page.get_by_role("link", name=re.compile("Travaux")).locator("visible=true").first.click()
        await page.wait_for_url(f"{web_server.url}/gouvernance/travaux")
        export = page.get_by_role("region", name="Export de l'organisation")
        await export.get_by_label("Phrase de passe (12 caractères au moins)").fill(PASSPHRASE)
        await export.get_by_label("La même phrase de passe, encore").fill(PASSPHRASE)
        await export.get_by_role("button", name="Lancer l'export").click()
        await page.wait_for_url(re.compile(r"/gouvernance/travaux\?started=1$"))
        state = page.locator(".ops-item").first.locator(".ops-state")
        await state.filter(has_text=re.compile(r"^Terminé — 100")).wait_for(timeout=60_000)
        assert await page.locator(".ops-item").first.locator("progress").evaluate("bar => bar.value") == 100
        link = page.get_by_role("link", name="Télécharger le fichier").first
        await link.wait_for()
        for at in SIZES:  # the finished list, at both sizes
            await page.set_viewport_size(at)
            problems += [f"travaux {at['width']}: {v}" for v in await _axe(page)]
            if await _sideways(page) > 0:
                problems.append(f"travaux {at['width']}: scrolls sideways")
        await page.set_viewport_size(size)
        async with svc.db.transaction() as tx:  # as if the sign-in were two hours old
            await tx.conn.execute(update(session_auth).values(  # type: ignore[attr-defined]
                authenticated_at=svc.clock.now() - timedelta(hours=2)))
        await link.click()
        await page.wait_for_url(re.compile(r"/compte/confirmer\?next="))
        assert "Confirmez votre identité" in await page.locator("main").inner_text()
        problems += [f"confirmer {size['width']}: {v}" for v in await _axe(page)]
        if await _sideways(page) > 0:
            problems.append(f"confirmer {size['width']}: scrolls sideways")
        await page.get_by_label("Mot de passe").fill(admin.password)
        await page.get_by_label("Code à 6 chiffres").fill(admin.otp(1))
        async with page.expect_download() as waiting:
            await page.get_by_role("button", name="Confirmer", exact=True).click()
        download = await waiting.value
        assert re.fullmatch(r"chevet-export-org-[0-9a-f]+-\d{8}-\d{4}\.chevet", download.suggested_filename)
        path = await download.path()
        with open(path, "rb") as fh:
            assert fh.read(17) == b"CHEVET-ARCHIVE-1\n"
        await ctx.close()
    assert problems == [], "\n".join(problems)

"""Importing staff in a real browser, on a phone (360×780) and a desk (1280×800): the administrator
uploads a file, reads the refused line in French before the people to invite, imports them; no
sideways scrolling on the phone, axe-core finds nothing serious."""

from __future__ import annotations

from typing import Any

import pytest

from chevet.bootstrap import Installation
from tests.browser.conftest import AXE, french_context, sign_in
from tests.browser.test_console import SIZES, _axe
from tests.integration.test_staff_import import staff_csv
from tests.support import Server, new_member, new_org


async def test_admin_imports_staff_on_a_phone_and_a_desk(browser: Any, web_installation: Installation,
                                                        web_server: Server) -> None:
    if not AXE.exists():
        pytest.skip("axe-core not installed (run .ci/setup-browsers)")
    org = await new_org(web_installation.services)
    admin = await new_member(web_installation.services, org, "admin", "Alice Admin")
    for step, size in enumerate(SIZES):
        ctx: Any = await french_context(browser, viewport=size, bypass_csp=True)  # bypass only to inject axe
        page = await ctx.new_page()
        await sign_in(page, web_server.url, admin, offset_steps=step)
        await page.goto(f"{web_server.url}/admin/people")
        await page.get_by_role("link", name="Importer depuis un fichier CSV").click()
        await page.get_by_label("Fichier CSV (5 Mo au plus)").set_input_files(
            {"name": "personnel.csv", "mimeType": "text/csv",
             "buffer": staff_csv(5, {2: "x@"}).replace(b"@tilleuls", f"@s{step}.tilleuls".encode())})
        await page.get_by_role("button", name="Vérifier le fichier").click()
        text = await page.locator("main").inner_text()
        assert "Ligne 3 : l'adresse « x@ » n'est pas une adresse e-mail valide" in text
        assert text.index("Ligne 3 :") < text.index("Martin1")
        assert await _axe(page) == [], size
        if size["width"] < 600:
            assert await page.evaluate("document.documentElement.scrollWidth") <= size["width"] + 1
        await page.get_by_role("button", name="Importer 4 personne(s)").click()
        assert "4 personne(s) invitée(s)" in await page.locator("main").inner_text()
        assert await _axe(page) == [], size
        await ctx.close()

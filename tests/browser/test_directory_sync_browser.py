"""The console's Annuaire page in a real browser against a real OpenLDAP server, on a phone
(360×780) and a desk (1280×800): the administrator reaches it from the console, previews a
synchronisation, applies it and reads the summary in French. Axe-core finds nothing serious at
either size and the page never scrolls sideways."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from chevet.bootstrap import Installation
from tests import ldap_support
from tests.browser.conftest import AXE, french_context, sign_in
from tests.ldap_support import ADMIN_DN, ADMIN_PASSWORD, GROUPS, PEOPLE, Slapd, person_dn
from tests.support import Server, new_member, new_org

slapd, directory = ldap_support.slapd, ldap_support.directory
SIZES = ({"width": 360, "height": 780}, {"width": 1280, "height": 800})
SLUG = "ehpad-tilleuls"


def _env(url: str) -> dict[str, str]:
    return {"CHEVET_DIRECTORY_SYNC__ORGANISATION": SLUG, "CHEVET_DIRECTORY_SYNC__URL": url,
            "CHEVET_DIRECTORY_SYNC__START_TLS": "false", "CHEVET_DIRECTORY_SYNC__BIND_DN": ADMIN_DN,
            "CHEVET_DIRECTORY_SYNC__PASSWORD": ADMIN_PASSWORD, "CHEVET_DIRECTORY_SYNC__BASE_DN": PEOPLE,
            "CHEVET_DIRECTORY_SYNC__GROUP_BASE_DN": GROUPS, "CHEVET_DIRECTORY_SYNC__SCHEDULE_MINUTES": "0",
            **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {})}


async def _axe(page: Any) -> list[str]:
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes']]}" for v in result["violations"]
            if v.get("impact") in ("serious", "critical")]


async def _check(page: Any, what: str, problems: list[str]) -> None:
    """Axe and sideways scrolling at both sizes, then back to the size of the walk."""
    walk = page.viewport_size
    for at in SIZES:
        await page.set_viewport_size(at)
        problems += [f"{what} {at['width']}: {v}" for v in await _axe(page)]
        if await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") > 0:
            problems.append(f"{what} {at['width']}: scrolls sideways")
    await page.set_viewport_size(walk)


async def test_the_administrator_previews_applies_and_reads_the_summary(
        browser: Any, web_installation: Installation, directory: Slapd) -> None:
    if not AXE.exists():
        pytest.skip("axe-core not installed (run .ci/setup-browsers)")
    svc = web_installation.services
    org = await new_org(svc, SLUG)
    server = Server(web_installation.settings, _env(directory.url))
    problems: list[str] = []
    try:
        expected = ("5 à inviter, 0 à mettre à jour, 0 à désactiver.",
                    "Fait : personnes invitées 5, mises à jour 0, désactivées 0.")
        for step, size in enumerate(SIZES):
            if step == 1:  # Emma left the directory: the second walk deactivates her
                conn = directory.admin()
                try:
                    conn.delete(person_dn("emma"))
                finally:
                    conn.unbind()
                expected = ("0 à inviter, 0 à mettre à jour, 1 à désactiver.",
                            "Fait : personnes invitées 0, mises à jour 0, désactivées 1.")
            admin = await new_member(svc, org, "admin", f"Alice Admin {size['width']}")
            ctx: Any = await french_context(browser, viewport=size, bypass_csp=True)  # bypass only to inject axe
            page = await ctx.new_page()
            await sign_in(page, server.url, admin)
            if size["width"] < 600:
                await page.get_by_role("navigation", name="Onglets").get_by_role("link", name="Moi").click()
                await page.get_by_role("link", name=re.compile("Ouvrir la console")).click()
            else:
                await page.get_by_role("link", name="Console", exact=True).click()
            # The section menu folds on a phone: the visible link is the console home's card.
            await page.get_by_role("link", name="Annuaire LDAP", exact=True).locator("visible=true").first.click()
            await page.wait_for_url(f"{server.url}/admin/annuaire")
            await _check(page, "annuaire", problems)
            await page.get_by_role("button", name="Synchroniser maintenant").click()
            preview = page.get_by_role("region", name="Aperçu : rien n'est encore modifié")
            await preview.wait_for()
            assert expected[0] in await preview.inner_text()
            await _check(page, "aperçu", problems)
            await preview.get_by_role("button", name=re.compile("^Appliquer")).click()
            applied = page.get_by_role("region", name="Synchronisation appliquée")
            await applied.wait_for()
            assert expected[1] in await applied.inner_text()  # what was done, no longer what would be
            text = await page.locator("main").inner_text()
            assert "tilleuls.fr" not in text and not re.search(r"\d{4}-\d{2}-\d{2}T|UTC|\+00:00", text)
            await _check(page, "appliquée", problems)
            await ctx.close()
    finally:
        server.stop()
    assert problems == [], "\n".join(problems)

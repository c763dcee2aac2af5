"""The sobriety dashboard and the evidence table as a DPO uses them, on a 360 px phone and a
1280 px screen: no serious accessibility violation (axe-core), no sideways scroll, a growth
chart whose text stays readable and whose month labels do not overlap, and a print button
that the page's own script shows (strict CSP, no inline script)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page

from chevet.bootstrap import Installation
from tests.browser.conftest import AXE, french_context, sign_in
from tests.browser.test_quality import _axe
from tests.support import IN_CI, Server, new_member, new_org

SIZES = ({"width": 360, "height": 780}, {"width": 1280, "height": 800})

CHART_TEXT = """() => {
  const svg = document.querySelector('figure.chart svg');
  const boxes = [...svg.querySelectorAll('text')].map(t => t.getBoundingClientRect());
  const axis = [...svg.querySelectorAll('text[text-anchor="middle"]')].map(t => t.getBoundingClientRect());
  const overlaps = axis.slice(1).filter((b, i) => b.left < axis[i].right).length;
  return {smallest: Math.min(...boxes.map(b => b.height)), overlaps, labels: axis.length};
}"""


def _need_axe() -> None:
    if not AXE.exists():
        if IN_CI:
            pytest.fail("axe-core is required in CI: run .ci/setup-browsers")
        pytest.skip("axe-core not installed (run .ci/setup-browsers)")


async def test_sobriety_and_evidence_pages_on_a_phone_and_a_screen(browser: Browser, web_installation: Installation,
                                                                  web_server: Server) -> None:
    _need_axe()
    org = await new_org(web_installation.services, "ehpad-preuves")
    dpo = await new_member(web_installation.services, org, "dpo", "Denise Protection")
    ctx: Any = await french_context(browser, bypass_csp=True)  # only to inject axe itself
    page: Page = await ctx.new_page()
    await sign_in(page, web_server.url, dpo)
    problems: dict[str, list[str]] = {}
    overflow: list[str] = []
    for size in SIZES:
        await page.set_viewport_size(size)
        for path in ("/admin/sobriety", "/gouvernance/preuves"):
            await page.goto(web_server.url + path)
            label = f"{path} @{size['width']}px"
            problems.update(await _axe(page, label))
            if await page.evaluate("document.documentElement.scrollWidth") > size["width"]:
                overflow.append(label)
        await page.goto(web_server.url + "/admin/sobriety")
        chart = await page.evaluate(CHART_TEXT)
        # A text box is a little taller than its font size: 12 px text gives a box of about 14 px.
        assert chart["smallest"] >= 12, (size, chart)
        assert chart["overlaps"] == 0 and chart["labels"] >= 3, (size, chart)
    assert problems == {}
    assert overflow == []
    await ctx.close()


async def test_the_print_button_appears_and_the_print_sheet_hides_the_menus(browser: Browser,
                                                                           web_installation: Installation,
                                                                           web_server: Server) -> None:
    org = await new_org(web_installation.services, "ehpad-impression")
    director = await new_member(web_installation.services, org, "director", "Diane Directrice")
    ctx: Any = await french_context(browser, viewport={"width": 360, "height": 780})
    page: Page = await ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await sign_in(page, web_server.url, director)
    await page.goto(web_server.url + "/gouvernance/preuves")
    button = page.get_by_role("button", name="Imprimer")
    await button.wait_for()
    assert await button.is_visible()
    # A card per obligation on the phone: each cell says which column it is.
    first = page.locator(".evidence-table tbody tr").first
    assert await first.evaluate("tr => getComputedStyle(tr).display") == "block"
    await page.emulate_media(media="print")
    assert not await button.is_visible()
    assert not await page.locator("header.top").is_visible()
    assert await page.locator("code", has_text="test_password_alone_never_signs_in").is_visible()
    assert errors == []
    await ctx.close()

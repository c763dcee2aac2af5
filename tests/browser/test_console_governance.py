"""The director's walk in a real browser: retention shortened for team channels, the real count
of messages that would go shown before confirming, the new period in place; and the console's
retention, register and breach pages free of serious accessibility violations at 360×780 and
1280×800, with no sideways scrolling on the phone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
from tests.browser.conftest import AXE, french_context, sign_in
from tests.browser.test_quality import _axe
from tests.governance_support import use_clock
from tests.support import IN_CI, Server, new_member, new_org

SIZES = ((360, 780), (1280, 800))


async def test_director_shortens_team_retention_and_sees_what_goes(browser: Browser, web_installation: Installation,
                                                                   web_server: Server) -> None:
    if not AXE.exists():
        if IN_CI:
            pytest.fail("axe-core is required in CI: run .ci/setup-browsers")
        pytest.skip("axe-core not installed (run .ci/setup-browsers)")
    svc = web_installation.services
    real = svc.clock
    clock = use_clock(svc, datetime.now(UTC) - timedelta(days=70))  # seed messages written 70 days ago
    org = await new_org(svc, "ehpad-conservation")
    director = await new_member(svc, org, "director", "Diane Roux")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    team, _ = await conversations.create_conversation(svc, director.actor, kind="team", title="Relève nuit",
                                                      member_ids=[nurse.id])
    team_id = uuid.UUID(team["id"])
    for i in range(4):
        await messages.send_message(svc, nurse.actor, team_id, body=f"Relève {i}", client_id=f"old-{i}")
    clock.advance(days=69)
    await messages.send_message(svc, nurse.actor, team_id, body="Relève d'hier", client_id="recent")
    svc.clock = real

    ctx: Any = await french_context(browser, bypass_csp=True)  # only to inject axe itself
    page: Page = await ctx.new_page()
    await page.set_viewport_size({"width": 360, "height": 780})
    await sign_in(page, web_server.url, director)
    await page.goto(web_server.url + "/gouvernance/conservation")
    await page.locator("#v-team").fill("1")
    await page.locator("#u-team").select_option("months")
    await page.locator("form:has(#v-team)").get_by_role("button", name="Voir les conséquences").click()
    sentence = page.locator(".consequence")
    # The creation entry and the four old handovers are older than a month; yesterday's stays.
    assert "5 messages seront supprimés le" in await sentence.inner_text()
    problems: dict[str, list[str]] = {}
    overflow: list[str] = []
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        problems.update(await _axe(page, f"preview @{width}px"))
    await page.get_by_role("button", name="Confirmer").click()
    await page.wait_for_url("**/gouvernance/conservation?notice=saved")
    assert "Durée actuelle : 1 mois." in await page.locator("form:has(#v-team)").inner_text()

    for path in ("/gouvernance/conservation", "/gouvernance/conservation?q=relève", "/gouvernance/registre",
                 "/gouvernance/violations"):
        for width, height in SIZES:
            await page.set_viewport_size({"width": width, "height": height})
            await page.goto(web_server.url + path)
            problems.update(await _axe(page, f"{path} @{width}px"))
            if await page.evaluate("document.documentElement.scrollWidth") > width:
                overflow.append(f"{path} @{width}px")
    await ctx.close()
    assert problems == {}
    assert overflow == []

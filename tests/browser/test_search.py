"""The search screen on a phone (360×780): word beginnings found and highlighted, each result
with its conversation, author and French date, no identifier shown, short queries explained,
and no serious accessibility violation (axe-core)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
from tests.browser.conftest import AXE, french_context, sign_in
from tests.support import IN_CI, Server, new_member, new_org

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


async def _axe(page: Page) -> list[str]:
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']}: {v['help']}" for v in result["violations"] if v.get("impact") in ("serious", "critical")]


async def test_search_by_word_beginning_on_a_phone(browser: Browser, web_installation: Installation,
                                                   web_server: Server) -> None:
    if not AXE.exists():
        if IN_CI:
            pytest.fail("axe-core is required in CI: run .ci/setup-browsers")
        pytest.skip("axe-core not installed (run .ci/setup-browsers)")
    svc = web_installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    doctor = await new_member(svc, org, "physician", "Paul Lefèvre")
    view, _ = await conversations.create_conversation(svc, nurse.actor, kind="group", title="Plaies chambre 12",
                                                      member_ids=[doctor.id])
    cid = uuid.UUID(view["id"])
    await messages.send_message(svc, nurse.actor, cid, body="Pansement du talon refait", client_id="1")
    await messages.send_message(svc, doctor.actor, cid, body="Vu, à revoir demain", client_id="2")

    ctx: Any = await french_context(browser, bypass_csp=True, viewport={"width": 360, "height": 780})
    page: Page = await ctx.new_page()
    await sign_in(page, web_server.url, doctor)
    await page.goto(f"{web_server.url}/search")
    await page.get_by_label("Rechercher dans vos conversations").fill("tal")
    await page.get_by_role("button", name="Chercher").click()
    hit = page.locator(".search-hits li")
    await hit.first.wait_for()
    assert await hit.count() == 1
    text = await hit.inner_text()
    assert "Plaies chambre 12" in text and "Sophie Bernard" in text
    assert re.search(r"aujourd['’]hui \d\d:\d\d", text.lower())  # Paris time, in French
    assert await hit.locator("mark").all_inner_texts() == ["tal"]
    assert "Pansement du talon refait" in text
    assert not UUID.search(await page.inner_text("main"))
    assert await _axe(page) == []
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360

    await page.get_by_label("Rechercher dans vos conversations").fill("PANS")
    await page.get_by_role("button", name="Chercher").click()
    await page.wait_for_url("**q=PANS")
    assert await page.locator(".search-hits mark").all_inner_texts() == ["Pans"]

    await page.get_by_label("Rechercher dans vos conversations").fill("ta")
    await page.get_by_role("button", name="Chercher").click()
    alert = page.get_by_role("alert")
    await alert.wait_for()
    assert "au moins 3 lettres" in await alert.inner_text()
    assert await _axe(page) == []

    await page.goto(f"{web_server.url}/search?q=zzzz")
    assert await page.get_by_role("status").inner_text() == "Aucun résultat pour «\u00a0zzzz\u00a0»"
    await ctx.close()

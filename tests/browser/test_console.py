"""The console in a real browser, on a phone (360×780) and a desk (1280×800): the DPO walks to
the traces of a care case without typing an address and reads a French sentence; every console
page each role can reach shows no id, code, JSON or UTC time, never fails, and passes axe-core."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest

from chevet.app.messaging import conversations, messages
from chevet.app.signalement import designations
from chevet.bootstrap import Installation
from tests.browser.conftest import AXE, french_context, sign_in
from tests.governance_support import use_clock
from tests.support import Server, new_member, new_org
from tests.unit.test_trace_sentences import written_codes

SIZES = ({"width": 360, "height": 780}, {"width": 1280, "height": 800})
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Any action code the application writes (« operation.started », « care_case.read »…), never shown as such.
CODE = re.compile(r"\b(?:" + "|".join(sorted({re.escape(c) for c in written_codes()}, key=len, reverse=True))
                  + r")\b")
RAW = re.compile(r'\{"|\d{4}-\d{2}-\d{2}T|\bUTC\b|\+00:00')


async def _axe(page: Any) -> list[str]:
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']}: {v['help']}" for v in result["violations"] if v.get("impact") in ("serious", "critical")]


async def _org(installation: Installation) -> dict[str, Any]:
    svc = installation.services
    org = await new_org(svc)
    people = {role: await new_member(svc, org, role, name) for role, name in (
        ("admin", "Alice Admin"), ("dpo", "Denis Petit"), ("director", "Hélène Roux"),
        ("manager", "Claire Martin"), ("nurse", "Sophie Bernard"), ("physician", "Paul Lefèvre"))}
    people["quality"] = await new_member(svc, org, "nurse", "Quentin Qualité")
    await designations.designate(svc, people["admin"].actor, people["quality"].id, "quality_lead", True)
    clock = use_clock(svc, svc.clock.now() - timedelta(days=3))  # the read happened three days ago
    case, _ = await conversations.create_conversation(svc, people["nurse"].actor, kind="care_case",
                                                      title="Suivi Mme Durand", member_ids=[people["physician"].id],
                                                      care_case_ref="R-0012")
    await messages.history(svc, people["physician"].actor, uuid.UUID(case["id"]))
    clock.advance(days=3)
    return people


async def test_the_dpo_walks_to_the_traces_of_a_care_case(browser: Any, web_installation: Installation,
                                                          web_server: Server) -> None:
    people = await _org(web_installation)
    for step, size in enumerate(SIZES):
        ctx: Any = await french_context(browser, viewport=size)
        page = await ctx.new_page()
        await sign_in(page, web_server.url, people["dpo"], offset_steps=step)
        if size["width"] < 600:  # the phone: the "Compte" tab leads to the console
            await page.get_by_role("navigation", name="Onglets").get_by_role("link", name="Moi").click()
            await page.get_by_role("link", name=re.compile("Ouvrir la console")).click()
        else:
            await page.get_by_role("link", name="Console", exact=True).click()
        await page.get_by_role("link", name="Traces d'accès").locator("visible=true").first.click()
        await page.get_by_label("Dossier (référence, ex. R-0012)").fill("R-0012")
        await page.get_by_role("button", name="Rechercher").click()
        text = await page.locator("main").inner_text()
        assert re.search(r"Paul Lefèvre a lu la conversation « Suivi Mme Durand \(R-0012\) » "
                         r"le \d{1,2} [a-zéû]+ à \d{1,2} h \d{2}", text), text
        assert not UUID.search(text) and not CODE.search(text) and not RAW.search(text)
        await ctx.close()


async def test_every_console_page_reads_as_french_and_passes_axe(browser: Any, web_installation: Installation,
                                                                 web_server: Server) -> None:
    if not AXE.exists():
        pytest.skip("axe-core not installed (run .ci/setup-browsers)")
    people = await _org(web_installation)
    problems: list[str] = []
    for who in ("admin", "dpo", "director", "manager", "quality"):
        ctx: Any = await french_context(browser, viewport=SIZES[1], bypass_csp=True)  # bypass only to inject axe
        page = await ctx.new_page()
        await sign_in(page, web_server.url, people[who])
        await page.goto(f"{web_server.url}/console")
        links = await page.locator("main a[href^='/']").evaluate_all("els => els.map(e => e.getAttribute('href'))")
        for url in ["/console", *dict.fromkeys(links)]:
            response = await page.goto(f"{web_server.url}{url}")
            status = response.status if response else 0
            if status >= 400:  # every section the console offers must open for whoever is offered it
                problems.append(f"{who} {url}: {status}")
                continue
            text = await page.locator("body").inner_text()
            for name, pattern in (("id", UUID), ("code", CODE), ("raw", RAW)):
                if found := pattern.search(text):
                    problems.append(f"{who} {url}: {name} {found.group(0)!r}")
            for size in SIZES:
                await page.set_viewport_size(size)
                problems += [f"{who} {url} {size['width']}: {v}" for v in await _axe(page)]
        await ctx.close()
    assert problems == [], "\n".join(problems)

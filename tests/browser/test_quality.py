"""What an auditor checks in the browser: no serious accessibility violation (axe-core) on the
main screens and no sideways scrolling at 320 px, no request to any other origin, a CSP on
every page and no violation of it, the service worker caching the shell only, and the first
load of the conversation screen within its budget (bytes on the wire, requests)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from chevet.app.identity import people
from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
from tests.browser.conftest import AXE, french_context, sign_in
from tests.support import IN_CI, Member, Server, new_member, new_org

BUDGET_BYTES = 60 * 1024
BUDGET_REQUESTS = 15


async def _seed(installation: Installation) -> tuple[Member, Member, str, str]:
    """An EHPAD with an admin and a nurse, a busy care case, and an open invitation."""
    svc = installation.services
    org = await new_org(svc, "ehpad-qualite")
    admin = await new_member(svc, org, "admin", "Claire Martin")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    doctor = await new_member(svc, org, "physician", "Paul Lefèvre")
    view, _ = await conversations.create_conversation(svc, nurse.actor, kind="care_case", title="Chute chambre 12",
                                                      member_ids=[doctor.id, admin.id], care_case_ref="CH12")
    cid = uuid.UUID(view["id"])
    for i in range(30):
        who = nurse if i % 3 else doctor
        await messages.send_message(svc, who.actor, cid, urgent=i == 29, client_id=f"seed-{i}",
                                    body=f"Transmission {i} : tension 12/7, pansement refait, douleur 2/10, "
                                         f"a bien mangé, repos l'après-midi, famille prévenue.")
    invited = await people.invite_person(svc, org, admin.actor, email="new@ehpad-qualite.example",
                                         name="Julie Petit", role="care_assistant")
    return admin, nurse, view["id"], invited.token


def _screens(cid: str, token: str) -> list[str]:
    return ["/", f"/c/{cid}", "/new", "/search?q=tension", f"/c/{cid}/members", "/account", "/admin/people",
            "/admin/teams", "/admin/organisation", "/admin/sobriety", "/compte/securite", "/gouvernance/traces",
            "/gouvernance/violations"]


async def test_main_screens_have_no_serious_accessibility_violation(browser: Browser, web_installation: Installation,
                                                                     web_server: Server) -> None:
    if not AXE.exists():
        if IN_CI:
            pytest.fail("axe-core is required in CI: run .ci/setup-browsers")
        pytest.skip("axe-core not installed (run .ci/setup-browsers)")
    admin, _, cid, token = await _seed(web_installation)
    ctx: Any = await french_context(browser, bypass_csp=True)  # only to inject axe itself
    page: Page = await ctx.new_page()
    problems: dict[str, list[str]] = {}
    for path in ["/login", "/connexion/cle", f"/invitation/{token}"]:
        await page.goto(web_server.url + path)
        problems.update(await _axe(page, path))
    await page.get_by_label("Choisissez un mot de passe").fill("une phrase de passe longue")
    await page.get_by_label("Retapez le mot de passe").fill("une phrase de passe longue")
    await page.get_by_role("button", name="Continuer").click()
    await page.get_by_label("Code à 6 chiffres affiché par l'application").wait_for()
    problems.update(await _axe(page, "TOTP enrolment"))
    await sign_in(page, web_server.url, admin)
    overflow: list[str] = []
    for path in _screens(cid, token):
        for width in (320, 1280):
            await page.set_viewport_size({"width": width, "height": 800})
            await page.goto(web_server.url + path)
            problems.update(await _axe(page, f"{path} @{width}px"))
            if await page.evaluate("document.documentElement.scrollWidth") > width:
                overflow.append(f"{path} @{width}px")
    await ctx.close()
    assert problems == {}
    assert overflow == []  # usable from 320 px phones without sideways scrolling


async def _axe(page: Page, label: str) -> dict[str, list[str]]:
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [f"{v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['target']})"
           for v in result["violations"] if v.get("impact") in ("serious", "critical")]
    return {label: bad} if bad else {}


async def test_no_other_origin_and_csp_everywhere(browser: Browser, web_installation: Installation,
                                                  web_server: Server) -> None:
    admin, _, cid, token = await _seed(web_installation)
    ctx: Any = await french_context(browser)
    page: Page = await ctx.new_page()
    requested: list[str] = []
    documents: list[dict[str, str]] = []
    violations: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)

    async def on_response(response: Any) -> None:
        if response.request.resource_type == "document":
            documents.append(await response.all_headers())

    page.on("response", on_response)
    await page.goto(f"{web_server.url}/invitation/{token}")
    await sign_in(page, web_server.url, admin)
    for path in _screens(cid, token):
        await page.goto(web_server.url + path)
        await page.wait_for_load_state("networkidle")
    await ctx.close()
    own = (web_server.url + "/", web_server.ws_url + "/")
    assert requested and [u for u in requested if not u.startswith(own)] == []
    assert len(documents) >= len(_screens(cid, token))
    for headers in documents:
        csp = headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert headers.get("x-frame-options") == "DENY"
    assert violations == []


async def test_conversation_screen_first_load_budget(browser: Browser, web_installation: Installation,
                                                     web_server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    _, nurse, cid, _ = await _seed(web_installation)
    ctx: Any = await french_context(browser, viewport={"width": 360, "height": 780})
    page: Page = await ctx.new_page()
    await sign_in(page, web_server.url, nurse)
    # A fresh cache: a new context with the signed-in cookie only.
    cookies = await ctx.cookies()
    await ctx.close()
    fresh: Any = await french_context(browser, viewport={"width": 360, "height": 780})
    await fresh.add_cookies(cookies)
    page = await fresh.new_page()
    cdp = await fresh.new_cdp_session(page)
    await cdp.send("Network.enable")
    sizes: dict[str, float] = {}
    urls: dict[str, str] = {}
    cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    await page.goto(f"{web_server.url}/c/{cid}")
    await page.wait_for_load_state("networkidle")
    await page.wait_for_timeout(500)
    total = sum(sizes.values())
    http = [u for u in urls.values() if u.startswith("http")]
    report = {"requests": len(http), "bytes": int(total), "urls": sorted(u.split("?")[0][len(web_server.url):]
                                                                        for u in http)}
    with capsys.disabled():
        print("\nfirst load of the conversation screen:", json.dumps(report))
    await fresh.close()
    assert len(http) <= BUDGET_REQUESTS
    assert total <= BUDGET_BYTES


async def test_service_worker_caches_the_shell_only_and_says_when_offline(browser: Browser,
                                                                         web_installation: Installation,
                                                                         web_server: Server) -> None:
    _, nurse, cid, _ = await _seed(web_installation)
    ctx: Any = await french_context(browser)
    page: Page = await ctx.new_page()
    await sign_in(page, web_server.url, nurse)
    await page.goto(f"{web_server.url}/c/{cid}")
    await page.evaluate("navigator.serviceWorker.ready")
    await page.reload()  # now controlled by the worker
    await page.wait_for_load_state("networkidle")
    cached = await page.evaluate("""async () => {
        const out = [];
        for (const name of await caches.keys()) {
            for (const req of await (await caches.open(name)).keys()) out.push(new URL(req.url).pathname);
        }
        return out;
    }""")
    assert "/offline" in cached and any(u.endswith("/chevet.css") for u in cached)
    assert all(u == "/offline" or u.startswith("/static/") for u in cached), cached
    await ctx.set_offline(True)
    await page.goto(f"{web_server.url}/c/{cid}")
    await page.get_by_role("heading", name="Pas de connexion").wait_for()
    assert "Transmission" not in await page.content()  # no message shown from any cache
    await ctx.close()

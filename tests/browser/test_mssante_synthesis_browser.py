"""« Synthèse de suivi » in Debian's Chromium at 360×780, against the loopback mail servers: from
a care case, a nurse taps « Synthèse », finds the GP in the health directory, keeps the ticked
entries, names the patient and taps « Envoyer la synthèse »; the server's own gateway sends it
and the GP's mailbox receives the PDF and the IHE_XDM.zip. Every field has a label, nothing is
wider than the screen, the Content-Security-Policy is never violated."""

from __future__ import annotations

import uuid
from email import message_from_bytes

import pytest
from playwright.async_api import Browser, expect

from chevet.app.messaging import conversations, messages
from chevet.app.mssante import directory
from chevet.bootstrap import Installation
from chevet.core.mssante.directory import split_lines
from tests.browser.conftest import browser, french_context, sign_in  # noqa: F401 - the fixture
from tests.conftest import _require
from tests.integration.test_mssante_browser import PHONE, UNLABELLED, _directory_line
from tests.mss_directory_data import header
from tests.mss_support import configure, mail_available, mailbox_contents, unique
from tests.support import Server, new_member, new_org


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_synthesis_in_two_taps_on_a_phone(installation: Installation, browser: Browser) -> None:  # noqa: F811
    _require(mail_available(), "the loopback mail servers (.ci/setup-mail)")
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    box, gp = unique("infirmerie", "ehpad.test"), unique("claire.martin", "gp.test")
    cfg = configure(installation.settings, org.slug, [nurse.email], box,
                    extra="poll_seconds = 600\noutbox_seconds = 0.5")
    await directory.import_extraction(svc, split_lines([(header() + "\n" + _directory_line(gp) + "\n").encode()]),
                                      "test")
    care, _ = await conversations.create_conversation(svc, nurse.actor, kind="care_case", title="Ch. 12",
                                                      member_ids=[], care_case_ref="CH12")
    await messages.send_message(svc, nurse.actor, uuid.UUID(care["id"]), body="Pansement refait, plaie propre.",
                                client_id="c-1")
    server = Server(installation.settings, env={"CHEVET_MSSANTE_CONFIG": str(cfg.path)})
    csp: list[str] = []
    try:
        ctx = await french_context(browser, viewport=PHONE, is_mobile=True, has_touch=True)
        page = await ctx.new_page()
        page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
        await sign_in(page, server.url, nurse)
        await page.goto(f"{server.url}/c/{care['id']}")
        # The care case's header holds its three buttons (note, synthesis, members) on a phone.
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert await page.evaluate("document.querySelector('.conv-head').scrollWidth") <= PHONE["width"]
        await page.get_by_role("link", name="Synthèse").click()                       # tap 1
        await expect(page.get_by_role("heading", name="Envoyer une synthèse de suivi")).to_be_visible()
        await expect(page.get_by_label("Pansement refait", exact=False)).to_be_checked()
        assert await page.evaluate(UNLABELLED) == []
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await page.get_by_label("Nom de naissance", exact=True).fill("Dupont")
        await page.get_by_label("Premier prénom de naissance").fill("Jeanne")
        await page.get_by_label("Date de naissance").fill("1940-03-12")
        await page.get_by_label("Rechercher dans l'annuaire santé").fill("martin brest")
        await page.get_by_role("button", name="Chercher").click()
        await page.get_by_label("MARTIN", exact=False).check()
        assert await page.get_by_label("Nom de naissance", exact=True).input_value() == "Dupont"   # kept
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await page.get_by_role("button", name="Envoyer la synthèse").click()            # tap 2
        await page.wait_for_url(f"{server.url}/mssante/x/**")
        await expect(page.get_by_text("Synthèse de suivi envoyée.")).to_be_visible()
        await expect(page.get_by_role("link", name="synthese-de-suivi.pdf")).to_be_visible()
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        (raw,) = mailbox_contents(gp, timeout=30)
        assert message_from_bytes(raw)["X-MSS-CODECDA"] == "34133-9"
        await ctx.close()
    finally:
        server.stop()
    assert csp == []

"""Writing to a patient's Mon espace santé mailbox from a phone (360 × 780, Debian's Chromium):
the nurse types the identity traits, the INS and its RNIV status in the exchange's composer; a
validated identity is refused in French with what was typed kept; the qualified one is sent,
replies not expected, and the patient's mailbox on the loopback Dovecot receives it with
``X-MSS-MES: FIN`` (MSSanté Réf #2 ECO.2.2.8)."""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from chevet.bootstrap import Installation
from tests.browser.conftest import browser, french_context, sign_in  # noqa: F401 - the fixture
from tests.conftest import _require
from tests.integration.test_mssante_browser import PHONE, UNLABELLED
from tests.integration.test_mssante_patients import PATIENT_DOMAIN, _matricule, _patient_domain_delivered
from tests.mss_support import configure, mail_available, mailbox_contents, unique
from tests.support import Server, new_member, new_org


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_nurse_writes_to_a_patient_from_her_phone(installation: Installation, browser: Browser,  # noqa: F811
                                                          tmp_path: Path) -> None:
    _require(mail_available() and _patient_domain_delivered(),
             f"the loopback mail servers delivering {PATIENT_DOMAIN} (.ci/setup-mail)")
    svc = installation.services
    org = await new_org(svc, f"ehpad-{unique('p', 'x').split('@')[0][2:]}")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    cfg = configure(installation.settings, org.slug, [nurse.email], unique("secretariat", "ehpad.test"),
                    extra="poll_seconds = 600\noutbox_seconds = 0.5")
    cfg.path.write_text(cfg.path.read_text().replace("timeout_seconds = 10", "timeout_seconds = 60"))
    ins = _matricule()
    patient_address = f"{ins}@{PATIENT_DOMAIN}"
    server = Server(installation.settings, env={"CHEVET_MSSANTE_CONFIG": str(cfg.path)})
    try:
        ctx = await french_context(browser, viewport=PHONE, is_mobile=True, has_touch=True)
        page = await ctx.new_page()
        await sign_in(page, server.url, nurse)
        await page.goto(f"{server.url}/mssante/new")
        await expect(page.get_by_text("son identité qualifiée vous sera demandée à l'envoi")).to_be_visible()
        await page.get_by_label("Autre adresse MSSanté").fill(patient_address)
        await page.get_by_role("button", name="Créer l'échange").click()

        await expect(page.get_by_text("Vous écrivez à un patient (Mon espace santé)")).to_be_visible()
        assert await page.evaluate(UNLABELLED) == []
        await page.get_by_label("Message", exact=True).fill("Bonjour Madame, voici votre compte rendu.")
        await page.get_by_label("Statut de l'identité").select_option(label="Validée")
        await page.get_by_label("Matricule INS").fill(ins)
        await page.get_by_label("Type d'INS").select_option(label="NIR de test")
        await page.get_by_label("Nom de naissance", exact=True).fill("Lefèvre")
        await page.get_by_label("Premier prénom de naissance").fill("Jeanne")
        await page.get_by_label("Date de naissance", exact=True).fill("1938-04-17")
        await page.get_by_label("Sexe").select_option(label="Féminin")
        await page.get_by_label("Le patient n'a pas à répondre", exact=False).check()
        await page.get_by_role("button", name="Envoyer").click()
        await expect(page.get_by_role("alert")).to_contain_text("l'identité de ce patient n'est pas qualifiée")
        await expect(page.get_by_label("Nom de naissance", exact=True)).to_have_value("Lefèvre")
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await page.screenshot(path=str(tmp_path / "refused.png"), full_page=True)

        await page.get_by_label("Statut de l'identité").select_option(label="Qualifiée")
        await page.get_by_label("Message", exact=True).fill("Bonjour Madame, voici votre compte rendu.")
        await page.get_by_role("button", name="Envoyer").click()
        await expect(page.get_by_text("Identité : LEFEVRE JEANNE, né(e) le 17/04/1938 · Qualifiée")).to_be_visible()
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await page.screenshot(path=str(tmp_path / "sent.png"), full_page=True)
        (raw,) = mailbox_contents(patient_address, timeout=30)
        assert message_from_bytes(raw)["X-MSS-MES"] == "FIN"
        await ctx.close()
    finally:
        server.stop()

"""The web client's external exchanges in Debian's Chromium, on a phone-sized screen, against the
loopback mail servers: a nurse finds a GP in the health directory, writes with a PDF attached
(no script needed: a multipart form), the gateway running inside the server sends it signed,
and the GP's reply, its read receipt and the signature check appear on the open exchange page
as they arrive, without a reload. The administrator sees a malformed mail in the quarantine and
releases it."""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from email import message_from_bytes
from pathlib import Path

import pytest
from playwright.async_api import Browser, WebSocketRoute, expect

from chevet.app.mssante import directory
from chevet.bootstrap import Installation
from chevet.core.mssante.directory import split_lines
from chevet.core.mssante.records import DeliveryState
from tests.browser.conftest import browser, french_context, sign_in  # noqa: F401 - the fixture
from tests.conftest import _require
from tests.integration.test_mssante_receipts import _asking
from tests.mss_directory_data import header
from tests.mss_support import (
    SMIME_CA,
    configure,
    gp_answers,
    gp_receipt,
    inject,
    mail_available,
    mailbox_contents,
    unique,
)
from tests.support import Server, new_member, new_org

PHONE = {"width": 360, "height": 780}
LIVE = 30_000   # ms: what the gateway fetches reaches the page by itself, well within this
PDF = b"%PDF-1.4\n% lettre de liaison\n" + bytes(range(256)) * 1200 + b"\n%%EOF\n"   # over 256 KiB
UNLABELLED = ("Array.from(document.querySelectorAll('input:not([type=hidden]),select,textarea'))"
              ".filter(e => e.labels.length === 0).map(e => e.name)")


async def _until_sent(installation: Installation, conversation_id: uuid.UUID) -> None:
    for _ in range(300):
        async with installation.services.db.transaction() as tx:
            if [m.state for m in await tx.mssante.for_conversation(conversation_id)] == [DeliveryState.SENT]:
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the message was not marked sent")


def _directory_line(address: str) -> str:
    cells = ["PER", address, "8", "10000000001", "810000000001", "", "", "", "DR", "MARTIN", "Claire", "C", "Civil",
             "10", "Médecin", "", "Médecine Générale", "O", "CABINET MEDICAL DU PORT", "", "", "", "3", "", "R",
             "DU PORT", "", "29200 BREST", "29200", "29", "FRANCE"]
    return "|".join(cells)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_nurse_writes_to_a_gp_with_a_pdf_and_sees_the_reply(installation: Installation, browser: Browser,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    _require(mail_available(), "the loopback mail servers (.ci/setup-mail)")
    svc = installation.services
    org = await new_org(svc, "ehpad-port")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    admin = await new_member(svc, org, "admin", "Anne Directrice")
    box, gp = unique("secretariat", "ehpad.test"), unique("claire.martin", "gp.test")
    # The server runs the gateway itself (SQLite, no Redis): IDLE brings the mail, not polling.
    cfg = configure(installation.settings, org.slug, [nurse.email], box,
                    extra="poll_seconds = 600\noutbox_seconds = 0.5")
    # A loaded test machine must not turn a slow submission into a retry a minute later.
    cfg.path.write_text(cfg.path.read_text().replace("timeout_seconds = 10", "timeout_seconds = 60"))
    await directory.import_extraction(svc, split_lines([(header() + "\n" + _directory_line(gp) + "\n").encode()]),
                                      "test")
    server = Server(installation.settings, env={"CHEVET_MSSANTE_CONFIG": str(cfg.path)})
    csp: list[str] = []
    try:
        ctx = await french_context(browser, viewport=PHONE, is_mobile=True, has_touch=True)
        page = await ctx.new_page()
        page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
        await sign_in(page, server.url, nurse)
        await page.get_by_role("link", name="Échanges externes (MSSanté)").click()
        await page.get_by_role("link", name="Nouvel échange").click()
        await page.get_by_label("Rechercher dans l'annuaire santé").fill("martin brest")
        await page.get_by_role("button", name="Chercher").click()
        await expect(page.get_by_text("1 résultat(s)")).to_be_visible()
        assert await page.evaluate(UNLABELLED) == []
        await page.get_by_label("MARTIN", exact=False).check()
        await page.get_by_label("Titre de l'échange (facultatif)").fill("Sortie de Mme R.")
        await page.get_by_role("button", name="Créer l'échange").click()
        await expect(page.get_by_role("heading", name="Sortie de Mme R.")).to_be_visible()

        await page.get_by_label("Objet").fill("Lettre de liaison")
        await page.get_by_label("Message", exact=True).fill("Bonjour Docteur, voici la lettre de liaison.")
        await page.get_by_label("Joindre un fichier").set_input_files(
            [{"name": "lettre-liaison.pdf", "mimeType": "application/pdf", "buffer": PDF}])
        await page.get_by_label("Demander un accusé de lecture").check()
        assert await page.evaluate(UNLABELLED) == []
        # The page after sending opens its stream only once the message has been delivered:
        # a delivery state published before the stream listens must still reach the page.
        stream_open = asyncio.Event()

        async def held(ws: WebSocketRoute) -> None:
            await stream_open.wait()
            ws.connect_to_server()

        await page.route_web_socket(re.compile(r"/api/v1/stream"), held)
        conversation_id = uuid.UUID(page.url.rstrip("/").rsplit("/", 1)[1])
        await page.get_by_role("button", name="Envoyer").click()
        sent = page.locator("li.msg.mine").last
        await expect(sent.get_by_role("link", name="lettre-liaison.pdf")).to_be_visible()
        # Queued or being sent, never "will try again" before any attempt has failed.
        assert (await sent.locator("[data-state]").inner_text()) in ("En file d'attente", "Envoi en cours")
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        # The gateway inside the server hands it to the operator; the GP's server receives it, signed.
        (raw,) = mailbox_contents(gp, timeout=30)
        msg = message_from_bytes(raw)
        assert msg["X-MSS-NIL"] == "NIL-TEST-0001" and msg["Disposition-Notification-To"] == box
        (tmp_path / "in.eml").write_bytes(raw)
        (tmp_path / "ca.pem").write_bytes(SMIME_CA.pem())
        verified = subprocess.run(["openssl", "cms", "-verify", "-in", str(tmp_path / "in.eml"),
                                   "-CAfile", str(tmp_path / "ca.pem")], capture_output=True)
        assert verified.returncode == 0, verified.stderr
        pdfs = [p for p in message_from_bytes(verified.stdout).walk() if p.get_content_type() == "application/pdf"]
        assert pdfs[0].get_payload(decode=True) == PDF and pdfs[0].get_filename() == "lettre-liaison.pdf"
        await _until_sent(installation, conversation_id)
        stream_open.set()
        await expect(sent.get_by_text("Envoyé", exact=True)).to_be_visible(timeout=LIVE)

        # From here on the page is never reloaded: a mark set in it and a draft in the composer
        # must still be there when the GP's answers have appeared.
        await page.evaluate("window.stillTheSamePage = true")
        await page.get_by_label("Message", exact=True).fill("Brouillon en cours")

        # The GP answers and acknowledges; the server's gateway fetches both, the page shows them.
        inject(gp_answers(raw, gp, box, "Merci, je passe demain matin.", "r1@gp.test"), gp, [box])
        received = page.locator("li.msg:not(.mine)", has_text="Merci, je passe demain matin.")
        await expect(received).to_have_count(1, timeout=LIVE)
        await expect(received.get_by_text("Signature vérifiée", exact=False)).to_be_visible()
        inject(gp_receipt(raw, gp, box, "mdn1@gp.test"), gp, [box])
        await expect(page.locator("li.msg.mine").last.get_by_text("Lu", exact=True)).to_be_visible(timeout=LIVE)
        # A malformed mail too, for the administrator.
        inject(b"From: pas une adresse\r\nTo: <" + box.encode() + b">\r\nSubject: ?\r\nMessage-ID: <q1@gp.test>\r\n\r\n"
               b"corps\r\n", "x@gp.test", [box])
        # And a question whose receipt is asked to the GP's secretariat: a reader decides.
        secretary = unique("secretariat-martin", "gp.test")
        inject(_asking(gp, box, "ask-1@gp.test", "Pouvez-vous confirmer la date ?", secretary), gp, [box])
        await expect(page.get_by_text(f"accusé de lecture à une autre adresse ({secretary})", exact=False)) \
            .to_be_visible(timeout=LIVE)
        assert await page.evaluate("window.stillTheSamePage") is True
        assert await page.get_by_label("Message", exact=True).input_value() == "Brouillon en cours"

        await page.get_by_role("button", name="Envoyer l'accusé").click()
        await expect(page.get_by_text("L'accusé de lecture part dans la file d'envoi.")).to_be_visible()
        await expect(page.get_by_role("button", name="Envoyer l'accusé")).to_have_count(0)
        (receipt,) = mailbox_contents(secretary, timeout=30)
        assert b"manual-action/MDN-sent-manually; displayed" in receipt
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert csp == []
        await ctx.close()

        actx = await french_context(browser, viewport=PHONE, is_mobile=True)
        apage = await actx.new_page()
        await sign_in(apage, server.url, admin)
        await apage.goto(f"{server.url}/admin/mssante/quarantine")
        rows = apage.locator("tbody tr")
        await expect(rows).to_have_count(1)
        await apage.get_by_role("button", name="Marquer comme traité").click()
        await expect(apage.get_by_text("Message retiré de la quarantaine.")).to_be_visible()
        await expect(apage.get_by_text("Aucun message en quarantaine.")).to_be_visible()
        await actx.close()
    finally:
        server.stop()

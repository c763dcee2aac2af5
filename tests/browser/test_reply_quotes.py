"""Replies to messages without text in Chromium at 360×780: the composer's "Réponse à" line and
the quote drawn live (in the sender's page and in the other member's) name a photo, a voice
message or a file by what it is, never as deleted; a message really deleted still says so. The
page as the server writes it is tested in tests/integration/test_reply_quotes.py."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.async_api import Browser, Page, expect

from chevet.app.attachments import upload
from chevet.app.messaging import messages
from chevet.bootstrap import Installation
from tests.browser.test_files import DIALOG, choose, open_as, ward
from tests.media_samples import pdf, small_jpeg
from tests.support import Member, Server
from tests.voice_samples import encode


async def _send_file(svc: Any, who: Member, cid: str, data: bytes, name: str, client_id: str) -> dict[str, Any]:
    att, _ = await upload.upload(svc, who.actor, uuid.UUID(cid), data=data, name=name)
    sent, _ = await messages.send_message(svc, who.actor, uuid.UUID(cid), body="", client_id=client_id,
                                          attachment_ids=[uuid.UUID(att["id"])])
    return dict(sent)


def _quote_of(page: Page, text: str) -> Any:
    return page.locator(".msg", has=page.locator(".body", has_text=text)).locator(".quote")


async def _answer(page: Page, seq: int, line: str, text: str) -> None:
    # From the keyboard: a tap while the composer is open and grown lands after it shrinks back
    # (the layout moves between the press and the release).
    link = page.locator(f"#m-{seq} [data-reply]")
    await link.focus()
    await link.press("Enter")
    await expect(page.locator(".replying-text")).to_have_text(line)
    await page.locator("#body").fill(text)
    await page.get_by_role("button", name="Envoyer", exact=True).click()


async def test_replies_to_a_photo_a_voice_message_and_a_file_name_them_live(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    svc = web_installation.services
    nurse, doctor, cid, _ = await ward(svc, "ehpad-citations")
    voice = await _send_file(svc, nurse, cid, encode("webm"), "message-vocal.webm", "v")
    doc = await _send_file(svc, nurse, cid, pdf(), "ordonnance.pdf", "f")
    gone, _ = await messages.send_message(svc, nurse.actor, uuid.UUID(cid), body="Erreur de chambre", client_id="g")
    await messages.delete_message(svc, nurse.actor, uuid.UUID(cid), uuid.UUID(gone["id"]))
    n_ctx, n = await open_as(browser, web_server, nurse, cid)
    d_ctx, d = await open_as(browser, web_server, doctor, cid)
    try:
        # A photo without text sent from the nurse's page reaches the doctor's live, and is
        # answered from there.
        await choose(n, "talon.jpg", small_jpeg(640, 480))
        await n.get_by_role("dialog", name=DIALOG).get_by_role("button", name="Envoyer").click()
        photo = d.locator(".msg", has=d.locator("img[alt^='talon.']"))
        await expect(photo).to_have_count(1, timeout=30_000)
        seq = int(await photo.get_attribute("data-seq") or 0)
        await _answer(d, seq, "Réponse à Sophie Bernard « Photo »", "Je passe voir le talon")
        await expect(_quote_of(d, "Je passe voir le talon")).to_have_text("En réponse à Sophie Bernard : Photo")
        await expect(_quote_of(n, "Je passe voir le talon")).to_have_text("En réponse à Sophie Bernard : Photo")

        # A voice message and a file as the server wrote them, answered from the page.
        await _answer(d, voice["seq"], "Réponse à Sophie Bernard « Message vocal »", "Bien entendu")
        await expect(_quote_of(n, "Bien entendu")).to_have_text("En réponse à Sophie Bernard : Message vocal")
        await _answer(d, doc["seq"], "Réponse à Sophie Bernard « Fichier »", "Ordonnance lue")
        await expect(_quote_of(n, "Ordonnance lue")).to_have_text("En réponse à Sophie Bernard : Fichier")
        await expect(_quote_of(d, "Ordonnance lue")).to_have_text("En réponse à Sophie Bernard : Fichier")

        # A message really deleted (answered through the page's link without script) still
        # says so, in the quote drawn live.
        await d.goto(f"{web_server.url}/c/{cid}?reply={gone['id']}#composer")
        await expect(d.locator(".replying-text")).to_have_text("Réponse à Sophie Bernard « Message supprimé »")
        await d.locator("#body").fill("Quelle chambre ?")
        await d.get_by_role("button", name="Envoyer", exact=True).click()
        await expect(_quote_of(n, "Quelle chambre ?")).to_have_text("En réponse à Sophie Bernard : Message supprimé")
    finally:
        await n_ctx.close()
        await d_ctx.close()

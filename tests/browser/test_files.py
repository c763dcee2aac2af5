"""Sending a photo from the web client: chosen, uploaded with a progress bar, sent with a
note, and shown live to the other member as a thumbnail that opens the cleaned image."""

from __future__ import annotations

import io
import uuid

from PIL import Image
from playwright.async_api import Browser, expect

from chevet.app.messaging import conversations
from chevet.bootstrap import Installation
from tests.browser.conftest import french_context, sign_in
from tests.support import Server, new_member, new_org


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 120, 90)).save(out, "JPEG", quality=80)
    return out.getvalue()


async def test_photo_upload_with_progress_reaches_the_other_member_live(browser: Browser,
                                                                        web_installation: Installation,
                                                                        web_server: Server) -> None:
    svc = web_installation.services
    org = await new_org(svc, "ehpad-photo")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    doctor = await new_member(svc, org, "physician", "Paul Lefèvre")
    view, _ = await conversations.create_conversation(svc, nurse.actor, kind="care_case", title="Escarre talon",
                                                      member_ids=[doctor.id], care_case_ref="CH4")
    n_ctx, d_ctx = await french_context(browser), await french_context(browser)
    n, d = await n_ctx.new_page(), await d_ctx.new_page()
    await sign_in(n, web_server.url, nurse)
    await sign_in(d, web_server.url, doctor)
    url = f"{web_server.url}/c/{view['id']}"
    await n.goto(url)
    await d.goto(url)
    await expect(n.get_by_text("Photo, PDF ou texte, 20 Mo au plus.")).to_be_visible()  # limits shown before choosing
    await n.get_by_label("Joindre un fichier").set_input_files(
        files=[{"name": "talon-gauche.jpg", "mimeType": "image/jpeg", "buffer": photo()}])
    await expect(n.locator(".pending li button", has_text="Retirer")).to_be_visible()  # upload finished
    await n.get_by_label("Message", exact=True).fill("Photo de l'escarre ce matin")
    await n.get_by_role("button", name="Envoyer").click()
    await expect(n.locator(".pending li")).to_have_count(0)

    shown = d.locator(".msg", has_text="Photo de l'escarre ce matin")
    # The server re-encodes photos (lighter, metadata removed): the name follows the new format.
    await expect(shown.locator("img[alt^='talon-gauche.']")).to_be_visible()
    link = await shown.locator(".files a[download]").get_attribute("href")
    assert link is not None
    image = await d.request.get(web_server.url + link)
    assert image.status == 200 and image.headers["content-type"].startswith("image/")
    assert uuid.UUID(link.rsplit("/", 1)[-1])
    await d.reload()  # and the same without the live stream
    await expect(d.locator(".msg img[alt^='talon-gauche.']")).to_be_visible()
    await n_ctx.close()
    await d_ctx.close()

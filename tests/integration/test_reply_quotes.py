"""The quote of a reply, as the server writes the conversation page: a message without text is
named by what it carries ("Photo", "Message vocal", "Fichier"), never as deleted; a message really
deleted still says so; the composer's "Réponse à …" line names it the same way. Real SQLite and
PostgreSQL."""

from __future__ import annotations

import html
import io
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from PIL import Image

from chevet.app.attachments import upload
from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
from chevet.web.app import create_app
from tests.support import Member, new_member, new_org
from tests.voice_samples import encode
from tests.web_client import Browserless


@pytest.fixture
async def client(installation: Installation) -> AsyncIterator[Browserless]:
    c = Browserless(app=create_app(installation))
    yield c
    await c.close()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 90)).save(out, "JPEG")
    return out.getvalue()


async def _send_file(installation: Installation, who: Member, cid: uuid.UUID, data: bytes, name: str,
                     client_id: str) -> dict[str, Any]:
    att, _ = await upload.upload(installation.services, who.actor, cid, data=data, name=name)
    sent, _ = await messages.send_message(installation.services, who.actor, cid, body="", client_id=client_id,
                                          attachment_ids=[uuid.UUID(att["id"])])
    return dict(sent)


def _quotes(page: str) -> list[str]:
    return [html.unescape(re.sub(r"\s+", " ", q)).strip()
            for q in re.findall(r'<p class="quote"><a [^>]*>(.*?)</a></p>', page, re.S)]


async def test_a_reply_quotes_a_photo_a_voice_message_and_a_file_by_what_they_are(
        installation: Installation, client: Browserless) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-citations")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    doctor = await new_member(svc, org, "physician", "Paul Lefèvre")
    view, _ = await conversations.create_conversation(svc, nurse.actor, kind="care_case", title="Talon",
                                                      member_ids=[doctor.id], care_case_ref="CH4")
    cid = uuid.UUID(view["id"])
    photo = await _send_file(installation, nurse, cid, _jpeg(), "talon.jpg", "p")
    voice = await _send_file(installation, nurse, cid, encode("webm"), "message-vocal.webm", "v")
    pdf = await _send_file(installation, nurse, cid, b"%PDF-1.4\n%%EOF\n", "ordonnance.pdf", "f")
    gone, _ = await messages.send_message(svc, nurse.actor, cid, body="Erreur de chambre", client_id="g")
    await messages.delete_message(svc, nurse.actor, cid, uuid.UUID(gone["id"]))
    for target, n in ((photo, 1), (voice, 2), (pdf, 3), (gone, 4)):
        await messages.send_message(svc, doctor.actor, cid, body=f"Vu {n}", client_id=f"r{n}",
                                    reply_to=uuid.UUID(target["id"]))

    await client.sign_in(doctor)
    page = await client.get(f"/c/{cid}")
    assert page.status_code == 200
    assert _quotes(page.text) == ["En réponse à Sophie Bernard : Photo", "En réponse à Sophie Bernard : Message vocal",
                                  "En réponse à Sophie Bernard : Fichier",
                                  "En réponse à Sophie Bernard : Message supprimé"]
    # The composer's line (the page without JavaScript) names the message the same way.
    for target, word in ((photo, "Photo"), (voice, "Message vocal"), (pdf, "Fichier")):
        answer = await client.get(f"/c/{cid}?reply={target['id']}")
        line = re.search(r'<span class="replying-text">(.*?)</span>', answer.text, re.S)
        assert line is not None
        assert html.unescape(line.group(1)) == f"Réponse à Sophie Bernard « {word} »"

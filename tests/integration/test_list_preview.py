"""The conversation list's preview of each last message: who wrote it and how it begins,
decrypted for that member only; "Photo" (or another file word) for a message without text,
nothing for a deleted one or one from before the member joined; nothing at all once the
organisation turns previews off. Real SQLite and PostgreSQL."""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image

from chevet.app.attachments import upload
from chevet.app.messaging import conversations, messages, preferences
from chevet.bootstrap import Installation
from chevet.core.errors import Forbidden
from tests.support import new_member, new_org


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 90)).save(out, "JPEG")
    return out.getvalue()


async def test_previews_say_who_wrote_what_and_follow_the_setting(installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin", "Claire Martin")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    doctor = await new_member(svc, org, "physician", "Paul Lefèvre")
    care, _ = await conversations.create_conversation(svc, nurse.actor, kind="care_case", title="Chute",
                                                      member_ids=[doctor.id], care_case_ref="CH12")
    care_id = uuid.UUID(care["id"])
    await messages.send_message(svc, nurse.actor, care_id, body="Constantes stables", client_id="1")
    await messages.send_message(svc, doctor.actor, care_id, client_id="2",
                                body=f"Pansement refait   ce matin,\n@[{nurse.id}] merci " + "très " * 40)
    photo, _ = await conversations.create_conversation(svc, doctor.actor, kind="group", title="Nuit",
                                                       member_ids=[nurse.id])
    photo_id = uuid.UUID(photo["id"])
    att, _ = await upload.upload(svc, doctor.actor, photo_id, data=_jpeg(), name="talon.jpg")
    await messages.send_message(svc, doctor.actor, photo_id, body="", client_id="3",
                                attachment_ids=[uuid.UUID(att["id"])])
    gone, _ = await conversations.create_conversation(svc, nurse.actor, kind="group", title="Soir",
                                                      member_ids=[doctor.id])
    gone_id = uuid.UUID(gone["id"])
    await messages.send_message(svc, nurse.actor, gone_id, body="Ancien message", client_id="4")
    last, _ = await messages.send_message(svc, doctor.actor, gone_id, body="Erreur de patient", client_id="5")
    await messages.delete_message(svc, doctor.actor, gone_id, uuid.UUID(last["id"]))
    # Claire joins without the earlier messages: nothing she may not read shows in her list.
    await conversations.add_member(svc, nurse.actor, care_id, admin.id, share_history=False)

    listing = await conversations.conversation_list(svc, nurse.actor)
    previews = listing["previews"]
    assert previews is not None
    text = previews[str(care_id)]
    assert (text["author"], text["mine"], text["files"]) == ("Paul", False, None)
    assert text["text"].startswith("Pansement refait ce matin, @Sophie Bernard merci très")
    assert text["text"].endswith("…") and len(text["text"]) <= 91  # the start only, never the whole
    assert {k: v for k, v in previews[str(photo_id)].items() if k != "seq"} == {
        "author": "Paul", "mine": False, "text": "", "files": "photo"}
    assert str(gone_id) not in previews  # the last message was deleted: no preview
    mine = (await conversations.conversation_list(svc, doctor.actor))["previews"]
    assert mine is not None and mine[str(photo_id)]["mine"] and mine[str(photo_id)]["author"] == ""
    late = (await conversations.conversation_list(svc, admin.actor))["previews"]
    assert late == {}
    # The API's list carries no preview.
    assert all("preview" not in c for c in await conversations.list_conversations(svc, nurse.actor))
    # Showing a care case's message not read yet is a read of it, audited like one; a message
    # already read was audited when it was read, and the list does not repeat it.
    async def preview_reads(who: uuid.UUID) -> int:
        async with svc.db.transaction() as tx:
            reads = await tx.audit.query(org.id, object_id=care_id, actor_id=who)
        return sum(r.action == "care_case.read" and r.detail.get("via") == "list_preview" for r in reads)

    assert await preview_reads(nurse.id) == 1
    await conversations.mark_read(svc, nurse.actor, care_id, text["seq"])
    await conversations.conversation_list(svc, nurse.actor)
    assert await preview_reads(nurse.id) == 1
    assert await preview_reads(doctor.id) == 0  # the doctor's own message

    with pytest.raises(Forbidden):
        await preferences.set_organisation_list_preview(svc, nurse.actor, False)
    assert await preferences.set_organisation_list_preview(svc, admin.actor, False) is False
    assert await preferences.organisation_list_preview(svc, admin.actor) is False
    off = await conversations.conversation_list(svc, nurse.actor)
    assert off["previews"] is None and len(off["conversations"]) == 3
    # Another organisation keeps its own setting.
    other = await new_org(svc)
    stranger = await new_member(svc, other, "nurse")
    await conversations.create_conversation(svc, stranger.actor, kind="group", title="Ailleurs",
                                            member_ids=[])
    assert (await conversations.conversation_list(svc, stranger.actor))["previews"] == {}
    assert await preferences.set_organisation_list_preview(svc, admin.actor, True) is True
    assert (await conversations.conversation_list(svc, nurse.actor))["previews"]

"""Resumable uploads through the HTTP API, on SQLite and PostgreSQL: a file sent in pieces
becomes one clean attachment; a lost connection resumes at the server's offset; wrong offsets,
oversize pieces and other people's uploads are refused in French with nothing changed; abandoned
uploads expire; the pieces wait sealed."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from chevet.app.attachments import upkeep
from chevet.bootstrap import Installation
from tests.attachment_support import Api
from tests.media_samples import phone_photo, small_jpeg
from tests.support import Member, new_member, new_org

PIECE = "application/offset+octet-stream"


async def start(api: Api, member: Member, conv: str, size: int, name: str = "plaie.jpg",
                lang: str = "fr") -> httpx.Response:
    return await api.client.post(f"/api/v1/conversations/{conv}/uploads", json={"size": size, "name": name},
                                 headers=api.auth(member, **{"Accept-Language": lang}))


async def piece(api: Api, member: Member, upload_id: str, offset: int, data: bytes, lang: str = "fr",
                **headers: str) -> httpx.Response:
    return await api.client.patch(f"/api/v1/uploads/{upload_id}", content=data, headers=api.auth(
        member, **{"Upload-Offset": str(offset), "Content-Type": PIECE, "Accept-Language": lang, **headers}))


async def offset_of(api: Api, member: Member, upload_id: str) -> httpx.Response:
    return await api.client.get(f"/api/v1/uploads/{upload_id}", headers=api.auth(member))


async def test_a_photo_in_pieces_resumes_at_the_servers_offset_and_arrives_once(installation: Installation,
                                                                                api: Api) -> None:
    nurse, doctor, conv = await api.team(kind="care_case", title="Plaie")
    photo = phone_photo(2000, 1500)
    r = await start(api, nurse, conv, len(photo))
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["offset"] == 0 and up["size"] == len(photo) and r.headers["location"] == f"/api/v1/uploads/{up['id']}"
    step = 256 * 1024
    r = await piece(api, nurse, up["id"], 0, photo[:step])
    assert r.status_code == 200 and r.json()["offset"] == step and r.headers["upload-offset"] == str(step)
    # The connection drops while the next piece is under way: the client asks where it stands.
    r = await offset_of(api, nurse, up["id"])
    assert r.status_code == 200 and r.json()["offset"] == step
    # The waiting piece is sealed: the photo's bytes are nowhere in the database in clear.
    async with installation.services.db.transaction() as tx:
        stored = await tx.uploads.pieces(uuid.UUID(up["id"]))
    assert len(stored) == 1 and photo[1000:1064] not in stored[0][1]
    sent = step
    offset = step
    while offset < len(photo):
        chunk = photo[offset:offset + step]
        r = await piece(api, nurse, up["id"], offset, chunk)
        sent += len(chunk)
        offset += len(chunk)
    assert sent == len(photo)
    assert r.status_code == 201, r.text
    att = r.json()
    assert att["kind"] == "image" and att["name"].startswith("plaie.")
    # Should the answer to the last piece be lost, the upload says what it became, and sending
    # the end again makes nothing new.
    r = await offset_of(api, nurse, up["id"])
    assert r.status_code == 200 and r.json()["offset"] == len(photo) and r.json()["attachment_id"] == att["id"]
    r = await piece(api, nurse, up["id"], len(photo), b"")
    assert r.status_code == 200 and r.json()["attachment_id"] == att["id"]
    async with installation.services.db.transaction() as tx:
        assert await tx.uploads.pieces(uuid.UUID(up["id"])) == []  # the pieces are gone
        assert await tx.uploads.open_bytes(nurse.actor.org_id, nurse.id, datetime(2000, 1, 1, tzinfo=UTC)) == 0
    r = await api.send(nurse, conv, [att["id"]], body="Plaie ce matin")
    assert r.status_code == 201, r.text
    r = await api.client.get(f"/api/v1/conversations/{conv}/messages", headers=api.auth(doctor))
    files = [a["id"] for m in r.json() if m.get("attachments") for a in m["attachments"]]
    assert files == [att["id"]]


async def test_wrong_offset_oversize_and_other_peoples_uploads_are_refused_in_french(installation: Installation,
                                                                                      api: Api) -> None:
    nurse, doctor, conv = await api.team(kind="care_case", title="Plaie")
    other_org = await new_org(installation.services)
    stranger = await new_member(installation.services, other_org, "admin")
    await api.login(stranger)
    data = small_jpeg(seed=11)
    up = (await start(api, nurse, conv, len(data))).json()
    half = len(data) // 2
    assert (await piece(api, nurse, up["id"], 0, data[:half])).status_code == 200

    def refused(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
        assert r.status_code == status, r.text
        body: dict[str, Any] = r.json()
        assert body["code"] == code and r.headers["content-language"] == "fr"
        return body

    body = refused(await piece(api, nurse, up["id"], 0, data[:half]), 409, "upload_offset_mismatch")
    assert body["offset"] == half and "déjà reçu" in body["detail"]
    refused(await piece(api, nurse, up["id"], half, data[half:] + b"x" * 10), 413, "upload_beyond_size")
    r = await piece(api, nurse, up["id"], half, b"x" * (1_048_576 + 1))  # refused before the route
    assert r.status_code == 413 and r.json()["code"] == "request_too_large", r.text
    refused(await piece(api, nurse, up["id"], half, data[half:], **{"Content-Type": "image/jpeg"}),
            422, "upload_piece_type")
    r = await api.client.patch(f"/api/v1/uploads/{up['id']}", content=data[half:],
                               headers=api.auth(nurse, **{"Content-Type": PIECE}))
    refused(r, 422, "upload_offset_required")
    # Another member of the conversation, and someone of another organisation: not found.
    for other in (doctor, stranger):
        refused(await piece(api, other, up["id"], half, data[half:]), 404, "upload_not_found")
        refused(await offset_of(api, other, up["id"]), 404, "upload_not_found")
        r = await api.client.delete(f"/api/v1/uploads/{up['id']}", headers=api.auth(other))
        refused(r, 404, "upload_not_found")
    refused(await start(api, stranger, conv, 10), 404, "conversation_not_found")
    refused(await start(api, nurse, conv, 30 * 1_048_576), 413, "attachment_too_large")
    refused(await start(api, nurse, conv, 0), 422, "attachment_empty")
    r = await start(api, nurse, conv, 30 * 1_048_576, lang="en")
    assert r.status_code == 413 and r.headers["content-language"] == "en" and "maximum size" in r.json()["detail"]
    # Nothing of this changed the upload: it still stands at half, and completes.
    assert (await offset_of(api, nurse, up["id"])).json()["offset"] == half
    r = await piece(api, nurse, up["id"], half, data[half:])
    assert r.status_code == 201, r.text


async def test_space_under_way_is_bounded_per_person_and_cancel_frees_it(installation: Installation,
                                                                         api: Api) -> None:
    nurse, doctor, conv = await api.team(kind="care_case", title="Plaie")
    ids = []
    for _ in range(3):
        r = await start(api, nurse, conv, 20 * 1_048_576)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = await start(api, nurse, conv, 5 * 1_048_576)
    assert r.status_code == 413 and r.json()["code"] == "upload_space_exceeded"
    assert (await start(api, doctor, conv, 5 * 1_048_576)).status_code == 201  # one's bound is one's own
    r = await api.client.delete(f"/api/v1/uploads/{ids[0]}", headers=api.auth(nurse))
    assert r.status_code == 204
    assert (await offset_of(api, nurse, ids[0])).status_code == 404
    assert (await start(api, nurse, conv, 5 * 1_048_576)).status_code == 201


async def test_abandoned_uploads_expire(installation: Installation, api: Api) -> None:
    nurse, _, conv = await api.team(kind="care_case", title="Plaie")
    data = small_jpeg(seed=12)
    up = (await start(api, nurse, conv, len(data))).json()
    assert (await piece(api, nurse, up["id"], 0, data[:100])).status_code == 200
    svc = installation.services
    real = svc.clock

    class Later:
        def now(self) -> datetime:
            return real.now() + timedelta(hours=25)

    assert await upkeep.purge_pending(svc) == 0, "not yet abandoned"
    assert await upkeep.purge_pending(replace(svc, clock=Later())) == 1
    r = await piece(api, nurse, up["id"], 100, data[100:])
    assert r.status_code == 404 and r.json()["code"] == "upload_not_found"
    async with svc.db.transaction() as tx:
        assert await tx.uploads.pieces(uuid.UUID(up["id"])) == []


async def test_a_refused_type_is_named_in_words(installation: Installation, api: Api) -> None:
    nurse, _, conv = await api.team(kind="care_case", title="Plaie")
    program = b"MZ\x90\x00" + b"\x00" * 200
    r = await api.upload(nurse, conv, program, name="outil.exe", content_type="application/octet-stream")
    assert r.status_code == 422 and r.json()["code"] == "attachment_type_refused"
    assert r.json()["detail"] == ("Ce type de fichier n'est pas accepté : "
                                  "envoyez une photo, un PDF, un texte ou un message vocal.")
    assert "application/" not in r.json()["detail"]
    r = await api.upload(nurse, conv, program, name="tool.exe", content_type="application/octet-stream", lang="en")
    assert r.json()["detail"] == ("This type of file is not accepted: "
                                  "send a photo, a PDF, a text file or a voice message.")
    # The same refusal at the end of a resumable upload, which is then forgotten.
    up = (await start(api, nurse, conv, len(program))).json()
    r = await piece(api, nurse, up["id"], 0, program)
    assert r.status_code == 422 and "une photo, un PDF, un texte ou un message vocal" in r.json()["detail"]
    assert (await offset_of(api, nurse, up["id"])).status_code == 404


async def test_a_shredded_conversation_takes_its_uploads_under_way(installation: Installation) -> None:
    from chevet.app.attachments import resumable
    from chevet.app.governance import retention
    from tests.governance_support import scene, use_clock

    svc = installation.services
    clock = use_clock(svc)
    s = await scene(svc)
    data = small_jpeg(seed=13)
    up = await resumable.create(svc, s.nurse.actor, s.care, size=len(data), name="plaie.jpg")
    await resumable.append(svc, s.nurse.actor, uuid.UUID(up["id"]), offset=0, data=data[:100])
    await retention.close_care_case(svc, s.nurse.actor, s.care)
    clock.advance(days=70)
    report = await retention.purge(svc, clock.now() + timedelta(days=366))
    assert str(s.care) in [x["conversation_id"] for x in report.shredded]
    async with svc.db.transaction() as tx:
        assert await tx.uploads.get(s.nurse.actor.org_id, uuid.UUID(up["id"])) is None
        assert await tx.uploads.pieces(uuid.UUID(up["id"])) == []

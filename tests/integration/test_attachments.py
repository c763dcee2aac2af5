"""Attachments end to end through the HTTP API, on SQLite and PostgreSQL: a phone photo
becomes a light, clean image; members (and only they) download it; files are sealed in the
blob store; duplicates are stored once; quotas refuse before writing."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
from PIL import Image

from chevet.bootstrap import Installation
from tests.attachment_support import Api
from tests.media_samples import pdf, phone_photo, small_jpeg, small_png
from tests.support import Server, login, new_member, new_org


@pytest.fixture(scope="module")
def photo() -> bytes:
    data = phone_photo(orientation=6)
    assert 3_000_000 <= len(data) <= 6_000_000, len(data)
    return data


def blob_files(installation: Installation) -> list[Path]:
    root = installation.settings.blobs_path
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_phone_photo_is_light_clean_and_reaches_members_only(installation: Installation, api: Api,
                                                                   photo: bytes) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician")
    outsider = await new_member(svc, org, "nurse")
    other_org = await new_org(svc)
    stranger = await new_member(svc, other_org, "admin")
    for m in (nurse, doctor, outsider, stranger):
        await api.login(m)
    conv = await api.conversation(nurse, doctor, kind="care_case", title="Suivi escarre")

    r = await api.upload(nurse, conv, photo, name="IMG_2041 Mme Secret.jpg")
    assert r.status_code == 201, r.text
    att = r.json()
    assert att["kind"] == "image" and att["mime"] in ("image/webp", "image/avif")
    assert att["size"] <= 300_000
    # Orientation 6 (portrait held phone): the stored pixels are upright, at most 2048 px long
    # (a 4000 px JPEG is decoded at half scale: 2000 px).
    assert (att["width"], att["height"]) == (1500, 2000)
    assert att["name"].startswith("IMG_2041 Mme Secret.") and att["name"].endswith((".webp", ".avif"))

    r = await api.send(nurse, conv, [att["id"]], body="Escarre talon gauche")
    assert r.status_code == 201, r.text
    message = r.json()
    assert [a["id"] for a in message["attachments"]] == [att["id"]]
    assert message["attachments"][0]["thumbnail"] is True

    r = await api.client.get(f"/api/v1/conversations/{conv}/messages", headers=api.auth(doctor))
    listed = next(m for m in r.json() if m.get("id") == message["id"])
    assert listed["attachments"][0]["name"] == att["name"]

    r = await api.client.get(f"/api/v1/attachments/{att['id']}", headers=api.auth(doctor))
    assert r.status_code == 200
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]
    assert r.headers["content-disposition"].startswith("inline; filename=")
    assert "filename*=UTF-8''IMG_2041%20Mme%20Secret." in r.headers["content-disposition"]
    assert len(r.content) == att["size"] == int(r.headers["content-length"])
    served = r.content
    img = Image.open(io.BytesIO(served))
    assert img.size == (1500, 2000)
    exif = img.getexif()
    assert len(exif) == 0 and 0x8825 not in exif, "EXIF/GPS must be gone"
    assert not img.info.get("exif") and not img.info.get("xmp") and not img.info.get("icc_profile")
    for needle in (b"PhoneMaker", b"Phone Model", b"Mme Secret", b"2026:11:28"):
        assert needle not in r.content

    thumb = await api.client.get(f"/api/v1/attachments/{att['id']}/thumbnail", headers=api.auth(doctor))
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 320
    again = await api.client.get(f"/api/v1/attachments/{att['id']}/thumbnail",
                                 headers=api.auth(doctor, **{"If-None-Match": thumb.headers["etag"]}))
    assert again.status_code == 304 and again.content == b"", "a cached thumbnail is not sent again"

    # Not a member of the conversation, or another organisation: as if it did not exist.
    for who in (outsider, stranger):
        for path in (f"/api/v1/attachments/{att['id']}", f"/api/v1/attachments/{att['id']}/thumbnail"):
            denied = await api.client.get(path, headers=api.auth(who, **{"If-None-Match": thumb.headers["etag"]}))
            assert denied.status_code == 404, (who.actor.person.role, path)
            assert denied.json()["code"] == "attachment_not_found"
    # Nor may a stranger upload into the conversation.
    r = await api.upload(stranger, conv, small_png())
    assert r.status_code == 404

    # The care-case read is in the audit trail.
    async with svc.db.transaction() as tx:
        entries = await tx.audit.query(org.id, object_id=uuid.UUID(att["id"]))
    assert "care_case.attachment_read" in {e.action for e in entries}

    # Nothing readable in the blob store: no piece of either image, no name, no EXIF text. (Pieces
    # of 64 bytes rather than 3- or 4-byte file signatures: those turn up in random ciphertext by
    # chance, about once in a hundred runs for two sealed photos.)
    files = blob_files(installation)
    assert len(files) == 2  # the processed image and its thumbnail
    pieces = [piece for image in (served, thumb.content)
              for piece in (image[:64], image[len(image) // 2:len(image) // 2 + 64], image[-64:])]
    for path in files:
        data = path.read_bytes()
        assert data[:4] == b"CHB\x01"
        for needle in (*pieces, b"ftypavif", b"Mme Secret", b"IMG_2041", b"PhoneMaker"):
            assert needle not in data, (needle[:16], path.name)
        assert "Secret" not in str(path)
    # Nor in the database (the file name is sealed): the SQLite files, or a PostgreSQL dump.
    if installation.settings.database.url is None:
        stored = b"".join(p.read_bytes() for p in installation.settings.data_dir.glob("chevet.db*"))
    else:
        import subprocess

        stored = subprocess.run(["pg_dump", "--data-only", installation.settings.database.url],
                                capture_output=True, check=True).stdout
        assert b"COPY public.attachment " in stored
    for needle in (b"IMG_2041", b"Mme Secret", "Mme Secret".encode("utf-16-le")):
        assert needle not in stored


async def test_pending_upload_is_private_to_its_uploader_and_is_sent_once(installation: Installation,
                                                                          api: Api) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    aide = await new_member(svc, org, "care_assistant")
    for m in (nurse, aide):
        await api.login(m)
    conv = await api.conversation(nurse, aide)
    att = (await api.upload(nurse, conv, pdf(), name="../../etc/Ordonnance\u202eexe.pdf",
                            content_type="image/png")).json()
    assert att["kind"] == "document" and att["mime"] == "application/pdf"  # the content decides
    assert att["name"] == "Ordonnanceexe.pdf"  # no directories, no bidi override
    r = await api.client.get(f"/api/v1/attachments/{att['id']}", headers=api.auth(aide))
    assert r.status_code == 404, "an unsent upload is only its uploader's"
    # Someone else cannot send the nurse's upload.
    r = await api.send(aide, conv, [att["id"]], body="je prends")
    assert r.status_code == 422 and r.json()["code"] == "attachment_not_available"
    r = await api.send(nurse, conv, [att["id"]])
    assert r.status_code == 201, r.text
    r2 = await api.send(nurse, conv, [att["id"]], body="encore")
    assert r2.status_code == 422, "a file goes with one message"
    r = await api.client.get(f"/api/v1/attachments/{att['id']}", headers=api.auth(aide))
    assert r.status_code == 200 and r.content == pdf()
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("attachment; ")


async def test_deleting_the_message_deletes_its_files(installation: Installation, api: Api) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician")
    for m in (nurse, doctor):
        await api.login(m)
    conv = await api.conversation(nurse, doctor)
    att = (await api.upload(nurse, conv, small_jpeg())).json()
    message = (await api.send(nurse, conv, [att["id"]], body="photo")).json()
    assert len(blob_files(installation)) == 2
    r = await api.client.delete(f"/api/v1/conversations/{conv}/messages/{message['id']}", headers=api.auth(nurse))
    assert r.status_code == 204
    assert blob_files(installation) == []
    r = await api.client.get(f"/api/v1/attachments/{att['id']}", headers=api.auth(doctor))
    assert r.status_code == 404


async def test_same_file_twice_in_a_conversation_is_stored_once(installation: Installation, api: Api) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician")
    for m in (nurse, doctor):
        await api.login(m)
    conv = await api.conversation(nurse, doctor)
    other_conv = await api.conversation(nurse, doctor, title="Autre")
    image = small_jpeg(300, 200)
    first = (await api.upload(nurse, conv, image, name="a.jpg")).json()
    again = (await api.upload(doctor, conv, image, name="b.jpg")).json()
    assert first["deduplicated"] is False and again["deduplicated"] is True
    assert again["name"].startswith("b.")
    assert len(blob_files(installation)) == 2
    # Another conversation: stored separately, under unrelated addresses (no global fingerprint).
    elsewhere = (await api.upload(nurse, other_conv, image)).json()
    assert elsewhere["deduplicated"] is False
    files = blob_files(installation)
    assert len(files) == 4
    names = {p.name for p in files}
    assert len(names) == 4
    # Discarding the first upload keeps the shared copy for the second.
    r = await api.client.delete(f"/api/v1/attachments/{first['id']}", headers=api.auth(nurse))
    assert r.status_code == 204
    assert len(blob_files(installation)) == 4
    r = await api.send(doctor, conv, [again["id"]])
    assert r.status_code == 201
    r = await api.client.get(f"/api/v1/attachments/{again['id']}", headers=api.auth(nurse))
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (300, 200)


async def test_quotas_refuse_before_writing(installation: Installation, api: Api) -> None:
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin")
    nurse = await new_member(svc, org, "nurse")
    for m in (admin, nurse):
        await api.login(m)
    conv = await api.conversation(admin, nurse)
    r = await api.client.put("/api/v1/admin/attachments/rules", headers=api.auth(nurse),
                             json={"person_quota_bytes": 1})
    assert r.status_code == 403
    r = await api.client.put("/api/v1/admin/attachments/rules", headers=api.auth(admin),
                             json={"person_quota_bytes": 5000, "org_quota_bytes": 9000})
    assert r.status_code == 200, r.text
    assert r.json()["effective_person_quota_bytes"] == 5000

    first = await api.upload(nurse, conv, pdf("un"), name="un.pdf")
    assert first.status_code == 201, first.text
    before = sorted(p.name for p in blob_files(installation))
    big = pdf("x" * 4500)
    r = await api.upload(nurse, conv, big, name="gros.pdf", lang="en")
    assert r.status_code == 413
    problem = r.json()
    assert problem["code"] == "quota_exceeded_person" and problem["scope"] == "person"
    assert 0 < problem["remaining"] < 5000
    assert "bytes remain" in problem["detail"]
    assert sorted(p.name for p in blob_files(installation)) == before, "nothing written"
    # The administrator has room of her own, until the organisation's quota.
    r = await api.upload(admin, conv, big, name="gros.pdf")
    assert r.status_code == 201, r.text
    r = await api.upload(admin, conv, pdf("y" * 4500), name="encore.pdf")
    assert r.status_code == 413 and r.json()["code"] == "quota_exceeded_organisation"
    assert "il reste" in r.json()["detail"]


async def test_limits_are_published_and_large_bodies_only_on_the_upload_route(installation: Installation,
                                                                              api: Api) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician")
    for m in (nurse, doctor):
        await api.login(m)
    r = await api.client.get("/api/v1/attachments/limits", headers=api.auth(nurse))
    limits = r.json()
    assert limits["max_upload_bytes"] == installation.settings.attachments.max_upload_bytes
    assert {"image/jpeg", "application/pdf"} <= set(limits["accepted_types"])
    conv = await api.conversation(nurse, doctor)
    # A JSON route keeps its small limit…
    r = await api.client.post(f"/api/v1/conversations/{conv}/messages", headers=api.auth(nurse),
                              content=b'{"body": "' + b"a" * 300_000 + b'"}')
    assert r.status_code == 413
    # …while a 1 MB PDF goes through the upload route.
    r = await api.upload(nurse, conv, pdf("z" * 1_000_000), name="scan.pdf")
    assert r.status_code == 201, r.text
    r = await api.client.post(f"/api/v1/conversations/{conv}/attachments", headers=api.auth(nurse),
                              json={"file": "nope"})
    assert r.status_code == 422 and r.json()["code"] == "attachment_multipart_required"


async def test_housekeeping_unsent_uploads_and_orphaned_files(installation: Installation, api: Api) -> None:
    import os
    import subprocess
    import sys
    from dataclasses import replace as _replace
    from datetime import timedelta

    from chevet.app.attachments import upkeep as attachment_actions

    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician")
    for m in (nurse, doctor):
        await api.login(m)
    conv = await api.conversation(nurse, doctor)
    kept = (await api.upload(nurse, conv, small_jpeg(seed=3))).json()
    assert (await api.send(nurse, conv, [kept["id"]])).status_code == 201
    forgotten = (await api.upload(nurse, conv, small_jpeg(seed=4))).json()
    assert len(blob_files(installation)) == 4

    class Later:
        def now(self):  # type: ignore[no-untyped-def]
            return real.now() + timedelta(hours=25)

    real = svc.clock
    assert await attachment_actions.purge_pending(svc) == 0, "not yet stale"
    later = _replace(svc, clock=Later())
    assert await attachment_actions.purge_pending(later) == 1
    assert len(blob_files(installation)) == 2
    assert (await api.client.get(f"/api/v1/attachments/{forgotten['id']}", headers=api.auth(nurse))).status_code == 404
    assert (await api.client.get(f"/api/v1/attachments/{kept['id']}", headers=api.auth(doctor))).status_code == 200

    # A sealed file left by a crash before commit: listed, then deleted, once old enough.
    stray = installation.settings.blobs_path / ("0" * 32) / "ab" / ("ab" * 32)
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"CHB\x01 sealed leftovers")
    env = {**os.environ, "CHEVET_DATABASE_URL": installation.settings.database.url or ""}
    cmd = [sys.executable, "-m", "chevet.cli.main", "attachments", "orphans", "--data-dir",
           str(installation.settings.data_dir)]
    young = subprocess.run([*cmd, "--delete"], capture_output=True, text=True, env=env, check=True)
    assert young.stdout == "" and stray.exists(), "a file being written right now is left alone"
    os.utime(stray, (0, 0))
    listed = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    assert listed.stdout.split() == [f"{'0' * 32}/{'ab' * 32}"] and stray.exists()
    subprocess.run([*cmd, "--delete"], capture_output=True, text=True, env=env, check=True)
    assert not stray.exists()
    assert len(blob_files(installation)) == 2, "referenced files untouched"


async def test_retention_hook_removes_rows_and_files(installation: Installation, api: Api) -> None:
    from datetime import timedelta

    from chevet.app.attachments import upkeep as attachment_actions

    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician")
    for m in (nurse, doctor):
        await api.login(m)
    conv = await api.conversation(nurse, doctor)
    old = (await api.upload(nurse, conv, small_jpeg(seed=5))).json()
    assert (await api.send(nurse, conv, [old["id"]])).status_code == 201
    cutoff = svc.clock.now() + timedelta(milliseconds=5)
    while svc.clock.now() <= cutoff:
        pass
    recent = (await api.upload(nurse, conv, pdf("recent"))).json()
    assert (await api.send(nurse, conv, [recent["id"]])).status_code == 201
    conv_id = uuid.UUID(conv)
    preview = await attachment_actions.retention_preview(svc, org.id, [(conv_id, cutoff)])
    assert preview == {"attachments": 1, "attachment_bytes": old["size"]}
    hook = attachment_actions.retention_hook(svc)
    async with svc.db.transaction() as tx:
        assert await hook(tx, org.id, conv_id, cutoff) == 1
    assert len(blob_files(installation)) == 1, "the old photo and its thumbnail are gone from the disk"
    assert (await api.client.get(f"/api/v1/attachments/{old['id']}", headers=api.auth(doctor))).status_code == 404
    assert (await api.client.get(f"/api/v1/attachments/{recent['id']}", headers=api.auth(doctor))).status_code == 200
    async with svc.db.transaction() as tx:
        assert await hook(tx, org.id, conv_id, None) == 1
    assert blob_files(installation) == []


async def test_upload_and_download_through_a_real_server(installation: Installation, server: Server) -> None:
    import httpx

    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician")
    auth = {"Authorization": f"Bearer {login(server.url, nurse)}"}
    doc_auth = {"Authorization": f"Bearer {login(server.url, doctor)}"}
    r = httpx.post(f"{server.url}/api/v1/conversations", headers=auth,
                   json={"kind": "direct", "member_ids": [str(doctor.id)]})
    conv = r.json()["id"]
    letter = pdf("L" * 2_000_000)  # well over the JSON limit, under the upload limit
    r = httpx.post(f"{server.url}/api/v1/conversations/{conv}/attachments", headers=auth,
                   files={"file": ("Lettre de liaison.pdf", letter, "application/pdf")}, timeout=60)
    assert r.status_code == 201, r.text
    att = r.json()
    r = httpx.post(f"{server.url}/api/v1/conversations/{conv}/messages", headers=auth,
                   json={"body": "", "client_id": "m-1", "attachment_ids": [att["id"]]})
    assert r.status_code == 201, r.text
    with httpx.stream("GET", f"{server.url}/api/v1/attachments/{att['id']}", headers=doc_auth) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-length"] == str(len(letter))
        assert resp.headers["x-content-type-options"] == "nosniff"
        received = b"".join(resp.iter_bytes())
    assert received == letter
    too_big = b"%PDF-1.7\n" + b"0" * (installation.settings.attachments.max_upload_bytes + 100_000)
    r = httpx.post(f"{server.url}/api/v1/conversations/{conv}/attachments", headers=auth,
                   files={"file": ("x.pdf", too_big, "application/pdf")}, timeout=60)
    assert r.status_code == 413


async def test_concurrent_uploads_cannot_overrun_a_quota(installation: Installation, api: Api) -> None:
    import asyncio

    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin")
    nurse = await new_member(svc, org, "nurse")
    for m in (admin, nurse):
        await api.login(m)
    convs = [await api.conversation(nurse, admin, title=f"C{i}") for i in range(3)]
    files = [pdf(f"{i}" * 3000) for i in range(6)]
    one = len(files[0]) + 100
    r = await api.client.put("/api/v1/admin/attachments/rules", headers=api.auth(admin),
                             json={"person_quota_bytes": 2 * one + one // 2})
    assert r.status_code == 200
    results = await asyncio.gather(*(api.upload(nurse, convs[i % 3], f, name=f"{i}.pdf")
                                     for i, f in enumerate(files)))
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 201, 413, 413, 413, 413], codes
    assert len(blob_files(installation)) == 2


async def test_ranged_downloads_resume_where_they_stopped(installation: Installation, api: Api) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician")
    for m in (nurse, doctor):
        await api.login(m)
    conv = await api.conversation(nurse, doctor)
    letter = pdf("".join(chr(65 + i % 26) for i in range(200_000)))  # four 64 KiB chunks and a bit
    att = (await api.upload(nurse, conv, letter, name="lettre.pdf")).json()
    assert (await api.send(nurse, conv, [att["id"]])).status_code == 201
    url = f"/api/v1/attachments/{att['id']}"
    size = len(letter)
    full = await api.client.get(url, headers=api.auth(doctor))
    assert full.headers["accept-ranges"] == "bytes" and full.content == letter
    for start, end in ((0, 99), (65530, 65545), (65536, 65536), (70_000, None), (size - 1, None),
                       (131_071, 196_609), (0, size + 500)):
        spec = f"bytes={start}-{'' if end is None else end}"
        r = await api.client.get(url, headers=api.auth(doctor, Range=spec))
        last = size - 1 if end is None else min(end, size - 1)
        assert r.status_code == 206, (spec, r.status_code)
        assert r.headers["content-range"] == f"bytes {start}-{last}/{size}"
        assert r.content == letter[start:last + 1], spec
        assert int(r.headers["content-length"]) == last - start + 1
    r = await api.client.get(url, headers=api.auth(doctor, Range=f"bytes={size}-"))
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"
    r = await api.client.get(url, headers=api.auth(doctor, Range="bytes=0-1,5-9"))
    assert r.status_code == 200 and r.content == letter, "several ranges: the whole file"
    # A stranger's ranged request is refused like any other.
    outsider = await new_member(svc, org, "nurse")
    await api.login(outsider)
    r = await api.client.get(url, headers=api.auth(outsider, Range="bytes=0-9"))
    assert r.status_code == 404


async def test_shredding_the_conversation_key_makes_its_files_unreadable(installation: Installation,
                                                                         api: Api) -> None:
    from chevet.core import sealed_stream
    from chevet.core.attachment import blob_aad, content_key
    from chevet.core.errors import IntegrityError

    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician")
    for m in (nurse, doctor):
        await api.login(m)
    conv = await api.conversation(nurse, doctor)
    att = (await api.upload(nurse, conv, pdf("Secret médical"))).json()
    assert (await api.send(nurse, conv, [att["id"]])).status_code == 201
    conv_id = uuid.UUID(conv)
    async with svc.db.transaction() as tx:
        wrapped = await tx.conversations.wrapped_key(conv_id)
        address = (await tx.attachments.get(org.id, uuid.UUID(att["id"]))).content_address
    assert wrapped is not None
    key = await svc.unwrap_key(org.id, conv_id, wrapped)
    path = next(p for p in blob_files(installation) if p.name == address.hex())
    sealed = path.read_bytes()
    assert sealed_stream.open_all(content_key(key), blob_aad(conv_id, address), [sealed]) == pdf("Secret médical")
    with pytest.raises(IntegrityError):  # the message key itself does not open files
        sealed_stream.open_all(key.material, blob_aad(conv_id, address), [sealed])
    async with svc.db.transaction() as tx:
        await tx.conversations.destroy_key(conv_id)
    r = await api.client.get(f"/api/v1/attachments/{att['id']}", headers=api.auth(doctor))
    assert r.status_code == 404

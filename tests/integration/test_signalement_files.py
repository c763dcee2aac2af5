"""Photos and documents filed with a report, on SQLite and PostgreSQL: an anonymous report with a
phone photo leaves no trace of its reporter (no uploader, no file name, no EXIF), the files
reach only those who may read the report and every download is traced, the regulatory export
lists them (names only for a named report), an infected or refused file refuses the whole
report, and retention deletes the files with the report."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
from PIL import Image

from chevet.app.attachments import upkeep
from chevet.app.attachments import upload as attachments
from chevet.app.governance import sobriety
from chevet.app.messaging import conversations
from chevet.app.signalement import filing, forms, handling, reports
from chevet.app.signalement.files import IncomingFile
from chevet.bootstrap import Installation
from chevet.core.errors import InvalidInput, NotFound, TooLarge
from tests.attachment_support import Api
from tests.integration.test_attachment_hostile import clamd_answers
from tests.media_samples import EICAR, GPS_LAT, pdf, phone_photo
from tests.signalement_support import contains, ehpad, fall, identity_needles, snapshot
from tests.support import new_installation

NOTE = "Transmission : barrière de lit cassée, chambre 12.\n".encode()


def blob_files(installation: Installation) -> list[Path]:
    root = installation.settings.blobs_path
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def _read(svc, actor, report_id, file_id) -> bytes:  # type: ignore[no-untyped-def]
    d = await reports.download_file(svc, actor, report_id, uuid.UUID(str(file_id)))
    return b"".join([piece async for piece in d.body])


async def _audit(svc, org_id):  # type: ignore[no-untyped-def]
    async with svc.db.transaction() as tx:
        return [x async for x in tx.audit.entries(org_id)]


async def test_anonymous_report_with_a_photo_leaves_no_trace_of_its_reporter(installation: Installation) -> None:
    svc = installation.services
    e = await ehpad(svc)
    photo = phone_photo(1600, 1200)
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(0x8825), "the sample carries GPS"
    before = await snapshot(svc)
    filed = await filing.file_report(svc, e.carer.actor, mode="anonymous", **fall(svc.clock.now()),
                                      files=[IncomingFile("IMG_Aicha_Soignante_0314.jpg", photo)])
    after = await snapshot(svc)

    new_rows = {t: after[t] - before.get(t, set()) for t in after}
    assert len(new_rows["report_attachment"]) == 1
    needles = [*identity_needles(e.carer), "127.0.0.1", b"127.0.0.1", "Aicha", b"Aicha", "IMG_", b"IMG_"]
    for table, rows in new_rows.items():
        for row in rows:
            for value in row:
                for needle in needles:
                    assert not contains(value, needle), f"{table} holds {needle!r}"
    assert new_rows["attachment"] == set() and new_rows["attachment_blob"] == set()
    assert await filing.record_anonymous_filings(svc) == 1  # the periodic job
    [entry] = [x for x in await _audit(svc, e.org.id) if x.action == "report.filed"]
    assert entry.actor_id is None and entry.ip is None and entry.detail == {"mode": "anonymous", "files": 1}

    # Sealed on disk: neither the photo's comment nor its GPS marker can be read there.
    [stored] = blob_files(installation)
    raw = stored.read_bytes()
    assert b"Mme Secret" not in raw and b"Exif" not in raw and not raw.startswith(b"\xff\xd8")

    # The quality lead sees a cleaned, smaller photo under a neutral name.
    view = await reports.get_report(svc, e.quality.actor, filed.report_id)
    [att] = view["attachments"]
    assert att["kind"] == "image" and att["mime"] in ("image/webp", "image/avif")
    assert att["name"] == "piece-1." + att["mime"].split("/")[1]
    data = await _read(svc, e.quality.actor, filed.report_id, att["id"])
    img = Image.open(io.BytesIO(data))
    assert img.format in ("WEBP", "AVIF") and len(data) < len(photo)
    assert len(img.getexif()) == 0 and not img.info.get("exif") and not img.info.get("xmp")
    assert b"Mme Secret" not in data and str(GPS_LAT[0]).encode() not in data
    reads = [x for x in await _audit(svc, e.org.id) if x.action == "report.file_read"]
    assert [(x.actor_id, x.detail["file"]) for x in reads] == [(e.quality.id, att["id"])]


async def test_files_reach_only_those_who_may_read_the_report(installation: Installation) -> None:
    svc = installation.services
    e = await ehpad(svc)
    other = await ehpad(svc)
    filed = await filing.file_report(svc, e.carer.actor, mode="confidential", **fall(svc.clock.now()),
                                      files=[IncomingFile("constat-chambre-12.pdf", pdf()),
                                             IncomingFile("note.txt", NOTE)])
    by_ql = await reports.get_report(svc, e.quality.actor, filed.report_id)
    assert [a["name"] for a in by_ql["attachments"]] == ["constat-chambre-12.pdf", "note.txt"]
    # The director handles the report but, as for the reporter's identity, not the names.
    by_director = await reports.get_report(svc, e.admin.actor, filed.report_id)
    assert [a["name"] for a in by_director["attachments"]] == ["piece-1.pdf", "piece-2.txt"]
    pdf_id, note_id = (a["id"] for a in by_ql["attachments"])
    assert await _read(svc, e.admin.actor, filed.report_id, note_id) == NOTE
    assert (await _read(svc, e.quality.actor, filed.report_id, pdf_id)).startswith(b"%PDF")

    # A colleague not added, another organisation's quality lead and director: not found.
    for actor in (e.nurse.actor, other.quality.actor, other.admin.actor):
        with pytest.raises(NotFound):
            await reports.download_file(svc, actor, filed.report_id, uuid.UUID(note_id))
    # A file id of another report does not open through this one.
    second = await filing.file_report(svc, e.nurse.actor, mode="named", **fall(svc.clock.now()))
    with pytest.raises(NotFound):
        await reports.download_file(svc, e.nurse.actor, second.report_id, uuid.UUID(note_id))
    # Added explicitly, the colleague may.
    await handling.add_reader(svc, e.quality.actor, filed.report_id, e.nurse.id)
    assert await _read(svc, e.nurse.actor, filed.report_id, note_id) == NOTE
    reads = [x.actor_id for x in await _audit(svc, e.org.id) if x.action == "report.file_read"]
    assert reads == [e.admin.id, e.quality.id, e.nurse.id]


async def test_refused_files_refuse_the_report_and_store_nothing(installation: Installation) -> None:
    svc = installation.services
    e = await ehpad(svc)
    before = await snapshot(svc)
    for files, code in [([IncomingFile("page.html", b"<html><script>alert(1)</script></html>")],
                         "attachment_type_refused"),
                        ([IncomingFile("vide.txt", b"")], "attachment_empty"),
                        ([IncomingFile(f"n{i}.txt", NOTE) for i in range(11)], "too_many_attachments"),
                        ([IncomingFile("photo.jpg", phone_photo(400, 300)[:900])], "attachment_image_unreadable")]:
        with pytest.raises(InvalidInput) as err:
            await filing.file_report(svc, e.carer.actor, mode="anonymous", **fall(svc.clock.now()), files=files)
        assert err.value.code == code
    after = await snapshot(svc)
    assert after["report"] == before["report"] and after["report_attachment"] == before["report_attachment"]
    assert after["audit_entry"] == before["audit_entry"] and blob_files(installation) == []


async def test_export_lists_the_files_and_retention_deletes_them(installation: Installation) -> None:
    svc = installation.services
    e = await ehpad(svc)
    named = await filing.file_report(svc, e.carer.actor, mode="named", **fall(svc.clock.now()),
                                      files=[IncomingFile("constat.pdf", pdf()), IncomingFile("note.txt", NOTE)])
    secret = await filing.file_report(svc, e.carer.actor, mode="confidential", **fall(svc.clock.now()),
                                       files=[IncomingFile("note-aicha.txt", NOTE)])
    docs = {}
    for filed in (named, secret):
        await handling.qualify(svc, e.quality.actor, filed.report_id, severity="significant", gdpr_breach=True)
        await _validated(svc, e.admin.actor, filed.report_id, "gdpr")
        out = await forms.export_form(svc, e.admin.actor, filed.report_id, "gdpr", "json")
        docs[filed.report_id] = orjson.loads(out.body)
    assert docs[named.report_id]["attachments"] == [
        {"position": 1, "kind": "document", "mime": "application/pdf", "size": len(pdf()), "name": "constat.pdf"},
        {"position": 2, "kind": "document", "mime": "text/plain", "size": len(NOTE), "name": "note.txt"}]
    assert docs[secret.report_id]["attachments"] == [
        {"position": 1, "kind": "document", "mime": "text/plain", "size": len(NOTE)}]
    assert b"aicha" not in orjson.dumps(docs[secret.report_id]).lower()

    # The orphan sweep keeps report files; retention takes them with the report.
    assert len(blob_files(installation)) == 3  # the same note in two reports: two unrelated sealed copies
    assert await upkeep.orphans(svc, older_than_hours=0) == []
    from dataclasses import replace
    from datetime import timedelta

    from chevet.app.governance import retention
    from chevet.core.signalement.report import ReportStatus

    async with svc.db.transaction() as tx:  # the named report was followed up and closed
        r = await tx.reports.get(e.org.id, named.report_id)
        assert r is not None
        await tx.reports.save(replace(r, status=ReportStatus.CLOSED, closed_at=svc.clock.now()))
    done = await retention.purge(svc, svc.clock.now() + timedelta(days=5 * 365 + 2))
    assert [x["report_id"] for x in done.reports] == [str(named.report_id)]
    rows = await snapshot(svc)
    assert {r[1] for r in rows["report_attachment"]} <= {secret.report_id, secret.report_id.bytes}
    assert len(rows["report_attachment"]) == 1
    assert len(blob_files(installation)) == 1
    assert [x.detail for x in await _audit(svc, e.org.id) if x.action == "report.purged"] == [
        {"reason": "retention", "types": ["signalement.gdpr"], "files": 2}]


async def _validated(svc, actor, report_id, kind):  # type: ignore[no-untyped-def]
    form = await forms.get_form(svc, actor, report_id, kind)
    filler = {"count": 1, "yesno": False}
    values = {f["key"]: f["value"] if f["value"] not in (None, "") else filler.get(f["type"], "Renseigné")
              for f in form["fields"] if f["required"] or f["value"] not in (None, "")}
    await forms.save_form(svc, actor, report_id, kind, values)
    await forms.validate_form(svc, actor, report_id, kind)


@pytest.fixture
async def clamd_installation(tmp_path: Path, database_url: str | None) -> AsyncIterator[Installation]:
    from tests.conftest import _require
    from tests.integration.test_attachment_hostile import CLAMD

    _require(clamd_answers(), f"clamd on {CLAMD} (see .ci/setup-attachments)")
    inst = await new_installation(tmp_path / "data", database_url, attachments__clamd_socket=CLAMD)
    try:
        yield inst
    finally:
        await inst.close()


async def test_eicar_is_refused_over_http_and_files_go_through_the_api(clamd_installation: Installation) -> None:
    inst = clamd_installation
    svc = inst.services
    e = await ehpad(svc)
    other = await ehpad(svc)
    api = Api(inst)
    try:
        for m in (e.carer, e.quality, e.nurse, other.quality):
            await api.login(m)
        report = orjson.dumps({"mode": "anonymous", "what": "Chute en salle à manger",
                               "occurred_at": svc.clock.now().isoformat(), "place": "Salle à manger"})
        before = await snapshot(svc)
        r = await api.client.post("/api/v1/reports/with-files", headers=api.auth(e.carer, **{"Accept-Language": "en"}),
                                  data={"report": report.decode()},
                                  files=[("file", ("photo.jpg", phone_photo(800, 600), "image/jpeg")),
                                         ("file", ("note.txt", EICAR, "text/plain"))])
        assert r.status_code == 422 and r.json()["code"] == "attachment_infected", r.text
        after = await snapshot(svc)
        assert after["report"] == before["report"] and blob_files(inst) == []

        r = await api.client.post("/api/v1/reports/with-files", headers=api.auth(e.carer),
                                  data={"report": '{"mode": "anonymous"}'}, files=[("file", ("n.txt", NOTE))])
        assert r.status_code == 422 and r.json()["code"] == "request_invalid"

        r = await api.client.post("/api/v1/reports/with-files", headers=api.auth(e.carer),
                                  data={"report": report.decode()},
                                  files=[("file", ("photo.jpg", phone_photo(800, 600), "image/jpeg")),
                                         ("file", ("note.txt", NOTE, "text/plain"))])
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        view = (await api.client.get(f"/api/v1/reports/{rid}", headers=api.auth(e.quality))).json()
        photo_id, note_id = (a["id"] for a in view["attachments"])
        got = await api.client.get(f"/api/v1/reports/{rid}/files/{photo_id}", headers=api.auth(e.quality))
        assert got.status_code == 200 and got.headers["content-type"] == view["attachments"][0]["mime"]
        assert got.headers["content-disposition"].startswith("inline") and "sandbox" in got.headers[
            "content-security-policy"]
        got = await api.client.get(f"/api/v1/reports/{rid}/files/{note_id}", headers=api.auth(e.quality))
        assert got.content == NOTE and got.headers["content-disposition"].startswith("attachment")
        for who in (e.nurse, other.quality):
            got = await api.client.get(f"/api/v1/reports/{rid}/files/{note_id}", headers=api.auth(who))
            assert got.status_code == 404
        got = await api.client.get(f"/api/v1/reports/{rid}/files/not-an-id", headers=api.auth(e.quality))
        assert got.status_code == 404
    finally:
        await api.close()


async def test_a_phone_sends_its_report_with_a_photo_through_a_real_server(installation: Installation,
                                                                             server: object) -> None:
    from tests.support import Server, login

    assert isinstance(server, Server)
    e = await ehpad(installation.services)
    token = login(server.url, e.carer)
    report = orjson.dumps({"mode": "named", "what": "Chute au réveil", "place": "Chambre 3",
                           "occurred_at": installation.services.clock.now().isoformat()}).decode()
    r = httpx.post(f"{server.url}/api/v1/reports/with-files", headers={"Authorization": f"Bearer {token}"},
                   data={"report": report}, files=[("file", ("IMG_0001.jpg", phone_photo(), "image/jpeg"))],
                   timeout=60)
    assert r.status_code == 201, r.text
    view = httpx.get(f"{server.url}/api/v1/reports/{r.json()['id']}",
                     headers={"Authorization": f"Bearer {login(server.url, e.quality)}"}).json()
    [att] = view["attachments"]
    assert att["name"] == "IMG_0001." + att["mime"].split("/")[1] and att["size"] <= 300_000


async def test_the_filing_page_takes_a_photo_and_leaves_the_session_untouched(installation: Installation,
                                                                            server: object) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select, update

    from chevet.adapters.db.schema import session as session_table
    from tests.support import Server, login

    assert isinstance(server, Server)
    svc = installation.services
    e = await ehpad(svc)
    cookies = {"chevet_session": login(server.url, e.carer)}
    form = httpx.get(f"{server.url}/signalement/nouveau", cookies=cookies).text
    assert 'enctype="multipart/form-data"' in form and 'type="file"' in form
    csrf = form.split('name="csrf" value="')[1].split('"')[0]
    engine = svc.db.engine  # type: ignore[attr-defined]
    earlier = datetime.now(UTC) - timedelta(minutes=30)
    async with engine.begin() as conn:
        await conn.execute(update(session_table).values(last_used_at=earlier))
    r = httpx.post(f"{server.url}/signalement/nouveau", cookies=cookies,
                   data={"csrf": csrf, "what": "Chute dans le couloir", "occurred_at": "2026-11-28T03:10",
                         "place": "Couloir B", "mode": "anonymous"},
                   files=[("file", ("IMG_Aicha.jpg", phone_photo(800, 600), "image/jpeg"))])
    assert r.status_code == 201 and "Votre code de suivi" in r.text and "Fichiers joints : 1." in r.text
    async with engine.connect() as conn:
        used = (await conn.execute(select(session_table.c.last_used_at))).scalars().all()
    assert used and all(abs((u - earlier).total_seconds()) < 1 for u in used)
    [rid] = [x["id"] for x in await reports.list_reports(svc, e.quality.actor)]
    view = await reports.get_report(svc, e.quality.actor, uuid.UUID(rid))
    assert [a["name"].split(".")[0] for a in view["attachments"]] == ["piece-1"]
    # A refused file keeps what was typed and stores nothing.
    r = httpx.post(f"{server.url}/signalement/nouveau", cookies=cookies,
                   data={"csrf": csrf, "what": "Autre chute", "occurred_at": "2026-11-28T03:10", "place": "B",
                         "mode": "named"}, files=[("file", ("page.html", b"<html><script>x</script></html>"))])
    assert r.status_code == 422 and "Autre chute" in r.text and "type de fichier n&#39;est pas accepté" in r.text
    assert len(await reports.list_reports(svc, e.quality.actor)) == 1


async def test_the_organisation_quota_counts_report_files_for_every_upload(installation: Installation) -> None:
    """Report files are charged to the organisation only, yet they fill the same quota as
    conversation files: a conversation upload that would pass it is refused too."""
    svc = installation.services
    e = await ehpad(svc)
    await filing.file_report(svc, e.carer.actor, mode="anonymous", **fall(svc.clock.now()),
                              files=[IncomingFile("constat.pdf", pdf("x" * 4000))])
    async with svc.db.transaction() as tx:
        used = await tx.reports.file_usage(e.org.id)
    assert used > 0
    shown = (await sobriety.dashboard(svc, e.admin.actor))["storage"]["quota"]
    assert shown["used_bytes"] == used  # the dashboard shows the quota as it is enforced
    await attachments.set_rules(svc, e.admin.actor, org_quota_bytes=used + 200, person_quota_bytes=None,
                                keep_originals_for=[])
    view, _ = await conversations.create_conversation(svc, e.nurse.actor, kind="group", title="Nuit",
                                                      member_ids=[e.quality.id])
    with pytest.raises(TooLarge) as refused:
        await attachments.upload(svc, e.nurse.actor, uuid.UUID(view["id"]), data=pdf("Bilan"), name="bilan.pdf")
    assert refused.value.code == "quota_exceeded_organisation" and refused.value.params["remaining"] == 200

"""Reversibility of adverse-event reports: an organisation that moves keeps its signalements.
Exported and imported into a fresh installation on the other database engine, every report
is the same, field by field and file by file (named, confidential and anonymous alike), an
anonymous report stays anonymous in the archive, the imported reports can be read, followed
up and exported again, and an archive made before reports were exported still imports."""

from __future__ import annotations

import io
import uuid
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import orjson

from chevet.app.archive import archive
from chevet.app.archive.schema import SCHEMA
from chevet.app.messaging import conversations
from chevet.app.services import Services
from chevet.app.signalement import access as report_access
from chevet.app.signalement import designations, filing, handling, reports
from chevet.app.signalement import files as report_files
from chevet.app.signalement import forms as report_forms
from chevet.app.signalement import retention as report_retention
from chevet.bootstrap import Installation
from chevet.core.attachment import name_aad
from chevet.core.sealed_archive import SealedWriter, passphrase_header
from tests.governance_support import PASSPHRASE
from tests.media_samples import pdf, small_jpeg
from tests.signalement_support import Ehpad, ehpad, fall, validated_essms_form
from tests.support import create_pg_database, drop_pg_database, new_installation, pg_available

ANON_PHOTO_NAME = "IMG_Aicha_Soignante_0314.jpg"


async def _reports(svc: Services) -> tuple[Ehpad, dict[str, uuid.UUID]]:
    e = await ehpad(svc)
    now = svc.clock.now()
    IncomingFile = report_files.IncomingFile
    named = await filing.file_report(svc, e.carer.actor, mode="named", **fall(now),
                                      files=[IncomingFile("constat-chambre-12.pdf", pdf("Constat"))])
    confidential = await filing.file_report(
        svc, e.carer.actor, mode="confidential", **fall(now, what="Erreur de dose d'insuline, unité B"),
        files=[IncomingFile("photo-pilulier.jpg", small_jpeg(seed=3))])
    anonymous = await filing.file_report(
        svc, e.carer.actor, mode="anonymous", **fall(now, what="Contention sans prescription la nuit"),
        files=[IncomingFile(ANON_PHOTO_NAME, small_jpeg(seed=5)), IncomingFile("note.pdf", pdf("Note"))])
    # The named report goes through the whole process: qualification, form validated by the
    # director, submission recorded, analysis, action plan, feedback, discussion, closure.
    rid = named.report_id
    await validated_essms_form(svc, e, rid)
    await report_forms.record_submission(svc, e.quality.actor, rid, "essms", at=None, channel="portal",
                                         reference="ARS-2026-0042")
    await handling.record_analysis(svc, e.quality.actor, rid, method="ALARM", date="2026-03-02",
                                  root_causes="Lever seule sans aide la nuit", lessons="Détecteur de lever")
    action = await handling.add_action(svc, e.quality.actor, rid, title="Installer un détecteur de lever",
                                      owner_id=e.nurse.id, due_at=now + timedelta(days=7))
    await handling.complete_action(svc, e.nurse.actor, rid, action)
    await handling.add_reader(svc, e.quality.actor, rid, e.admin.id)
    await handling.give_feedback(svc, e.quality.actor, rid, "Un détecteur de lever a été installé.")
    await handling.open_discussion(svc, e.quality.actor, rid, [e.nurse.id])
    await handling.close(svc, e.quality.actor, rid)
    # The anonymous one is qualified and answered, still open; the confidential one stays new.
    await handling.qualify(svc, e.quality.actor, anonymous.report_id, severity="significant",
                          categories=["maltraitance"], note="À revoir en CREX")
    await handling.give_feedback(svc, e.quality.actor, anonymous.report_id, "Merci, la CREX s'en saisit.")
    await handling.add_action(svc, e.quality.actor, anonymous.report_id, title="Former l'équipe de nuit",
                             owner_id=None, due_at=None)
    await report_retention.set_retention(svc, None, e.org.id, "signalement.internal", 3650)
    await designations.designate(svc, e.admin.actor, e.nurse.id, "director", True)
    return e, {"named": rid, "confidential": confidential.report_id, "anonymous": anonymous.report_id}


async def report_snapshot(svc: Services, org_id: uuid.UUID) -> dict[str, Any]:
    """Every report of the organisation with everything it holds, decrypted: what must survive."""
    out: dict[str, Any] = {}
    async with svc.db.transaction() as tx:
        for r in await tx.reports.of_organisation(org_id):
            wrapped = await tx.reports.wrapped_key(r.id)
            assert wrapped is not None
            key = await report_access.unwrap_report_key(svc, r.org_id, r.id, wrapped)
            clear = {k: v for k, v in asdict(r).items() if not k.endswith("_sealed")}
            files = []
            for f in await tx.reports.files(r.id):
                got = await report_files.opened(svc, f, key, "", None)
                files.append((f.id, f.position, f.kind, f.mime, f.size, f.width, f.height,
                              key.open(f.name_sealed, name_aad(r.id, f.id)).decode() if f.name_sealed else None,
                              b"".join([p async for p in got.body])))
            out[str(r.id)] = clear | {
                "content": report_access.open_json(key, "report", r.id, r.content_sealed),
                "note": report_access.open_json(key, "rnote", r.id, r.note_sealed),
                "analysis": report_access.open_json(key, "ranalysis", r.id, r.analysis_sealed),
                "feedback": report_access.open_json(key, "rfeedback", r.id, r.feedback_sealed),
                "readers": sorted(await tx.reports.readers(r.id)),
                "actions": [(a.id, report_access.open_json(key, "raction", r.id, a.title_sealed, a.id), a.owner_id,
                             a.due_at, a.done_at, a.created_at) for a in await tx.reports.actions(r.id)],
                "forms": sorted((f.kind, f.status, report_access.open_json(key, f"rform:{f.kind.value}", r.id,
                                                                     f.values_sealed),
                                 f.updated_at, f.validated_by, f.validated_at) for f in await tx.reports.forms(r.id)),
                "submissions": await tx.reports.submissions(r.id),
                "reminders": await tx.reports.reminder_stages([r.id]),
                "files": files}
        out["designations"] = sorted(await tx.reports.designations(org_id))
        out["retention"] = await tx.reports.retention_days(org_id)
    return out


async def _export(installation: Installation, slug: str) -> dict[str, bytes]:
    out = io.BytesIO()
    header, key = passphrase_header(PASSPHRASE, log2_n=14)
    await archive.export_organisation(installation.services, slug, out, header, key)
    return archive.read_archive(io.BytesIO(out.getvalue()), passphrase=PASSPHRASE)


def _records(files: dict[str, bytes], name: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in files[f"data/{name}.jsonl"].splitlines()]


async def test_reports_survive_a_move_to_the_other_engine(installation: Installation, tmp_path: Path) -> None:
    svc = installation.services
    e, ids = await _reports(svc)
    before = await report_snapshot(svc, e.org.id)
    assert len(before) == 5 and all(before[str(i)]["files"] for i in ids.values())
    files = await _export(installation, e.org.slug)

    # In the archive, each report keeps its reporter as the original did.
    recs = {r["id"]: r for r in _records(files, "reports")}
    named, conf, anon = (recs[str(ids[m])] for m in ("named", "confidential", "anonymous"))
    assert named["reporter_id"] == str(e.carer.id) and named["files"][0]["name"] == "constat-chambre-12.pdf"
    assert conf["reporter_id"] is None and conf["confidential_reporter_id"] == str(e.carer.id)
    assert anon["reporter_id"] is None and anon["confidential_reporter_id"] is None
    assert [f["name"] for f in anon["files"]] == [None, None]
    assert "reporter_id" not in anon["content"]
    everything = b"".join([p.encode() + data for p, data in files.items()])
    assert ANON_PHOTO_NAME.encode() not in everything and b"ARS-2026-0042" in files["data/reports.jsonl"]
    assert named["forms"][0]["status"] == "validated" and named["forms"][0]["values"]["structure_finess"]
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    for name in ("reports", "report_designations", "report_retention"):
        for record in _records(files, name):
            validator.validate(record)

    # The other database engine: SQLite -> PostgreSQL and PostgreSQL -> SQLite.
    target_url = await create_pg_database() if installation.settings.database.url is None and pg_available() \
        else None
    other = await new_installation(tmp_path / "other", target_url)
    try:
        counts = await archive.import_organisation(other.services, files, archive_sha256="x")
        assert counts["reports"] == 3
        after = await report_snapshot(other.services, e.org.id)
        assert after.keys() == before.keys()
        for part in before:
            assert after[part] == before[part], part
        async with svc.db.transaction() as tx, other.services.db.transaction() as tx2:
            assert await tx.reports.wrapped_key(ids["named"]) != await tx2.reports.wrapped_key(ids["named"])

        # Readable and followed up in the new installation, through the actions people use.
        view = await reports.get_report(other.services, e.quality.actor, ids["confidential"])
        assert view["reporter"] == {"id": str(e.carer.id), "name": e.carer.actor.person.name}
        assert view["what"] == "Erreur de dose d'insuline, unité B"
        view = await reports.get_report(other.services, e.quality.actor, ids["anonymous"])
        assert view["reporter"] is None
        assert [a["name"].split(".")[0] for a in view["attachments"]] == ["piece-1", "piece-2"]
        view = await reports.get_report(other.services, e.admin.actor, ids["named"])
        assert view["conversation_id"] and view["actions"][0]["owner"] == e.nurse.actor.person.name
        await conversations.get_conversation(other.services, e.nurse.actor, uuid.UUID(view["conversation_id"]))
        await handling.give_feedback(other.services, e.quality.actor, ids["anonymous"], "Formation prévue en mai.")
        await handling.qualify(other.services, e.quality.actor, ids["confidential"], severity="minor")

        # And exported again: the same reports, with what was added since.
        again = {r["id"]: r for r in _records(await _export(other, e.org.slug), "reports")}
        assert again[str(ids["named"])] == named
        assert again[str(ids["anonymous"])]["feedback"] == "Formation prévue en mai."
    finally:
        await other.close()
        if target_url:
            await drop_pg_database(target_url)


async def test_an_archive_made_before_reports_were_exported_still_imports(installation: Installation,
                                                                         tmp_path: Path) -> None:
    e, _ = await _reports(installation.services)
    files = await _export(installation, e.org.slug)
    old = {p: d for p, d in files.items() if not p.startswith(("reports/", "data/report"))}
    old["schema/chevet-export-1.schema.json"] = (Path(__file__).resolve().parents[2] /
                                                 "docs/export-schema/chevet-export-1.schema.json").read_bytes()
    del old["schema/chevet-export-2.schema.json"]
    out = io.BytesIO()
    header, key = passphrase_header(PASSPHRASE, log2_n=14)
    writer = SealedWriter(out, header, key)
    archive.write_tar(old, writer, 0, archive_format="chevet-export-1")  # type: ignore[arg-type]
    writer.close()
    read = archive.read_archive(io.BytesIO(out.getvalue()), passphrase=PASSPHRASE)
    other = await new_installation(tmp_path / "other", None)
    try:
        counts = await archive.import_organisation(other.services, read, archive_sha256="x")
        assert counts["reports"] == 0 and counts["people"] == 4
        assert await report_snapshot(other.services, e.org.id) == {"designations": [], "retention": {}}
    finally:
        await other.close()

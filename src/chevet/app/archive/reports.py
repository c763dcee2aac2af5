"""Signalement reports in organisation archives: every report with what hangs off it (its
qualification, analysis, action plan, feedback, forms, submissions, readers and files),
decrypted as conversations are, and imported sealed again under a fresh report key.

An archive keeps a report's reporter exactly as the report did: a named report names its
reporter, a confidential one carries its reporter apart (``confidential_reporter_id``, which
only a quality lead was shown), and an anonymous one carries nothing that designates anybody:
no reporter, no file names (files are stored under their ids) and no upload time, since the
original kept none. The follow-up code is not exported: only a hash keyed by the old
installation's secret exists, which no other installation can check.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chevet.app.archive.values import a_time as _dt
from chevet.app.archive.values import a_time_or_none as _odt
from chevet.app.archive.values import an_id as _u
from chevet.app.archive.values import an_id_or_none as _ou
from chevet.app.archive.values import id_text as _s
from chevet.app.archive.values import time_text as _t
from chevet.app.services import Services
from chevet.app.signalement import access as report_access
from chevet.app.signalement import files as report_files
from chevet.core import sealed_stream
from chevet.core.attachment import AttachmentKind, blob_aad, blob_address, content_key, name_aad, type_of
from chevet.core.envelope import DataKey
from chevet.core.errors import InvalidInput
from chevet.core.signalement.deadlines import Channel, FormKind
from chevet.core.signalement.records import CorrectiveAction, FormStatus, FormSubmission, Report, ReportFile, ReportForm
from chevet.core.signalement.report import ReportContent, ReportFunction, ReportStatus
from chevet.core.signalement.retention import RecordType
from chevet.core.signalement.taxonomy import EigsCriterion, ReporterMode, SecurityImpact, Severity
from chevet.ports import Transaction


def file_path(report_id: uuid.UUID, f: ReportFile) -> str:
    """Under the file's id, never its name: a name can designate a confidential reporter."""
    return f"reports/{report_id}/{f.id}.{type_of(f.mime).extension}"


async def _read(services: Services, key: DataKey, f: ReportFile) -> bytes:
    opened = await report_files.opened(services, f, key, "", None)
    return b"".join([piece async for piece in opened.body])


async def export_reports(services: Services, tx: Transaction,
                         org_id: uuid.UUID) -> tuple[dict[str, bytes], dict[str, list[dict[str, Any]]]]:
    """The organisation's report files (``reports/<id>/``) and its ``report``,
    ``report_designation`` and ``report_retention`` records."""
    files: dict[str, bytes] = {}
    records: list[dict[str, Any]] = []
    for r in await tx.reports.of_organisation(org_id):
        wrapped = await tx.reports.wrapped_key(r.id)
        if wrapped is None:
            continue  # shredded, awaiting the purge: nothing readable remains
        key = await report_access.unwrap_report_key(services, r.org_id, r.id, wrapped)
        content = report_access.open_json(key, "report", r.id, r.content_sealed)
        confidential = content.pop("reporter_id", None) if r.mode is ReporterMode.CONFIDENTIAL else None
        content.pop("reporter_id", None)
        out_files = []
        for f in await tx.reports.files(r.id):
            path = file_path(r.id, f)
            files[path] = await _read(services, key, f)
            out_files.append({"id": str(f.id), "position": f.position, "kind": f.kind.value, "mime": f.mime,
                              "size": f.size, "width": f.width, "height": f.height,
                              "name": key.open(f.name_sealed, name_aad(r.id, f.id)).decode()
                              if f.name_sealed is not None else None, "path": path})
        stages = await tx.reports.reminder_stages([r.id])
        records.append({
            "record": "report", "id": str(r.id), "mode": r.mode.value,
            "reporter_id": _s(r.reporter_id) if r.mode is ReporterMode.NAMED else None,
            "confidential_reporter_id": confidential, "status": r.status.value, "team_id": _s(r.team_id),
            "received_at": r.received_at.isoformat(), "content": content,
            "severity": r.severity.value if r.severity else None, "categories": list(r.categories),
            "eigs": [e.value for e in r.eigs], "security": [s.value for s in r.security], "gdpr_breach": r.gdpr,
            "awareness_at": _t(r.awareness_at), "qualified_at": _t(r.qualified_at),
            "qualified_by": _s(r.qualified_by), "note": report_access.open_json(key, "rnote", r.id, r.note_sealed),
            "analysis": report_access.open_json(key, "ranalysis", r.id, r.analysis_sealed),
            "feedback": report_access.open_json(key, "rfeedback", r.id, r.feedback_sealed),
            "feedback_at": _t(r.feedback_at), "closed_at": _t(r.closed_at), "conversation_id": _s(r.conversation_id),
            "readers": [str(p) for p in sorted(await tx.reports.readers(r.id))],
            "actions": [{"id": str(a.id), "title": report_access.open_json(key, "raction", r.id, a.title_sealed, a.id),
                         "owner_id": _s(a.owner_id), "due_at": _t(a.due_at), "done_at": _t(a.done_at),
                         "created_at": a.created_at.isoformat()} for a in await tx.reports.actions(r.id)],
            "forms": [{"kind": f.kind.value, "status": f.status.value,
                       "values": report_access.open_json(key, f"rform:{f.kind.value}", r.id, f.values_sealed),
                       "updated_at": f.updated_at.isoformat(), "validated_by": _s(f.validated_by),
                       "validated_at": _t(f.validated_at)} for f in await tx.reports.forms(r.id)],
            "submissions": [{"id": str(s.id), "kind": s.kind.value, "at": s.at.isoformat(),
                             "channel": s.channel.value, "reference": s.reference,
                             "recorded_by": str(s.recorded_by)} for s in await tx.reports.submissions(r.id)],
            "reminders": {deadline: stage for (_, deadline), stage in sorted(stages.items())},
            "files": out_files})
    designations = [{"record": "report_designation", "person_id": str(pid), "function": fn.value}
                    for pid, fn in sorted(await tx.reports.designations(org_id))]
    periods = [{"record": "report_retention", "record_type": t.value, "days": days}
               for t, days in sorted((await tx.reports.retention_days(org_id)).items())]
    return files, {"reports": records, "report_designations": designations, "report_retention": periods}


async def import_reports(services: Services, tx: Transaction, org_id: uuid.UUID, records: list[dict[str, Any]],
                         designations: list[dict[str, Any]], periods: list[dict[str, Any]],
                         files: dict[str, bytes], written: list[str], now: Callable[[], datetime]) -> int:
    """Write the reports under fresh keys, inside the import transaction; the blob keys
    written are appended to ``written`` so that a failed import can remove them."""
    for d in designations:
        await tx.reports.designate(org_id, _u(d["person_id"]), ReportFunction(d["function"]), True)
    for p in periods:
        await tx.reports.set_retention_days(org_id, RecordType(p["record_type"]), int(p["days"]), now())
    if any(r["files"] for r in records) and services.attachments is None:
        raise InvalidInput("import_attachments_disabled")
    for rec in records:
        await _import_one(services, tx, org_id, rec, files, written, now)
    return len(records)


async def _import_one(services: Services, tx: Transaction, org_id: uuid.UUID, rec: dict[str, Any],
                      files: dict[str, bytes], written: list[str], now: Callable[[], datetime]) -> None:
    rid = _u(rec["id"])
    mode = ReporterMode(rec["mode"])
    key, wrapped = await report_access.new_report_key(services, org_id, rid, tx)
    content = dict(rec["content"])
    content["reporter_id"] = str(_u(rec["confidential_reporter_id"])) \
        if mode is ReporterMode.CONFIDENTIAL and rec["confidential_reporter_id"] else None
    ReportContent.from_json(content)  # refuses a record that could not be read back
    seal = report_access.seal_json
    report = Report(
        id=rid, org_id=org_id, mode=mode, reporter_id=_ou(rec["reporter_id"]) if mode is ReporterMode.NAMED else None,
        status=ReportStatus(rec["status"]), team_id=_ou(rec["team_id"]), received_at=_dt(rec["received_at"]),
        content_sealed=seal(key, "report", rid, content),
        severity=Severity(rec["severity"]) if rec["severity"] else None, categories=tuple(rec["categories"]),
        eigs=tuple(EigsCriterion(v) for v in rec["eigs"]), security=tuple(SecurityImpact(v) for v in rec["security"]),
        gdpr=bool(rec["gdpr_breach"]), awareness_at=_odt(rec["awareness_at"]),
        qualified_at=_odt(rec["qualified_at"]), qualified_by=_ou(rec["qualified_by"]),
        note_sealed=seal(key, "rnote", rid, rec["note"]) if rec["note"] is not None else None,
        analysis_sealed=seal(key, "ranalysis", rid, rec["analysis"]) if rec["analysis"] is not None else None,
        feedback_sealed=seal(key, "rfeedback", rid, rec["feedback"]) if rec["feedback"] is not None else None,
        feedback_at=_odt(rec["feedback_at"]), closed_at=_odt(rec["closed_at"]),
        conversation_id=_ou(rec["conversation_id"]))
    await tx.reports.add(report, wrapped, None)
    for person in rec["readers"]:
        await tx.reports.add_reader(rid, _u(person))
    for a in rec["actions"]:
        aid = _u(a["id"])
        await tx.reports.add_action(CorrectiveAction(
            id=aid, report_id=rid, title_sealed=seal(key, "raction", rid, str(a["title"]), aid),
            owner_id=_ou(a["owner_id"]), due_at=_odt(a["due_at"]), done_at=_odt(a["done_at"]),
            created_at=_dt(a["created_at"])))
    for f in rec["forms"]:
        kind = FormKind(f["kind"])
        await tx.reports.save_form(ReportForm(
            report_id=rid, kind=kind, values_sealed=seal(key, f"rform:{kind.value}", rid, dict(f["values"])),
            status=FormStatus(f["status"]), updated_at=_dt(f["updated_at"]), validated_by=_ou(f["validated_by"]),
            validated_at=_odt(f["validated_at"])))
    for s in rec["submissions"]:
        await tx.reports.add_submission(FormSubmission(
            id=_u(s["id"]), report_id=rid, kind=FormKind(s["kind"]), at=_dt(s["at"]), channel=Channel(s["channel"]),
            reference=str(s["reference"])[:100], recorded_by=_u(s["recorded_by"])))
    for deadline, stage in dict(rec["reminders"]).items():
        await tx.reports.set_reminder_stage(rid, str(deadline), str(stage), now())
    await _import_files(services, tx, org_id, rid, mode, key, rec["files"], files, written)


async def _import_files(services: Services, tx: Transaction, org_id: uuid.UUID, rid: uuid.UUID, mode: ReporterMode,
                        key: DataKey, records: list[dict[str, Any]], files: dict[str, bytes],
                        written: list[str]) -> None:
    cfg = services.attachments
    stored: dict[bytes, int] = {}
    for f in records:
        fid = _u(f["id"])
        content = files[str(f["path"])]
        address = blob_address(key, content)
        if address not in stored:
            assert cfg is not None  # checked by the caller
            blob = report_files.blob_key_of(rid, address)
            written.append(blob)
            stored[address] = await cfg.blobs.put(blob, sealed_stream.seal(content_key(key), blob_aad(rid, address),
                                                                           content))
        name = f["name"] if mode is not ReporterMode.ANONYMOUS else None
        await tx.reports.add_file(ReportFile(
            id=fid, report_id=rid, org_id=org_id, position=int(f["position"]), kind=AttachmentKind(f["kind"]),
            mime=str(f["mime"]), size=int(f["size"]), stored_size=stored[address], width=f["width"],
            height=f["height"], name_sealed=key.seal(str(name).encode(), name_aad(rid, fid)) if name else None,
            content_address=address))

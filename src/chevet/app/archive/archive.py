"""Reversibility: the complete, documented, encrypted archive of one organisation, and its
import into another installation.

The archive is a tar stream sealed by ``core.sealed_archive`` (passphrase or recipient key).
Inside: ``README.txt``, ``manifest.json`` (SHA-256 of every file), ``schema/`` (JSON Schema),
``data/*.jsonl`` (open, documented records), ``audit/`` (the organisation's audit chain with
its signed checkpoints and the public key), ``html/`` (a static browse of every conversation).
Import refuses anything that does not verify, and writes everything in one transaction.
"""

from __future__ import annotations

import io
import re
import tarfile
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from hashlib import sha256
from typing import TYPE_CHECKING, Any, BinaryIO, NotRequired

import orjson
from typing_extensions import TypedDict

from chevet.app.archive import attachments as archive_attachments
from chevet.app.archive import html as archive_html
from chevet.app.archive import reports as archive_reports
from chevet.app.archive.audit import checkpoint_json, entry_json, public_key_b64
from chevet.app.archive.schema import FORMAT, READABLE_FORMATS, SCHEMA
from chevet.app.archive.values import a_time as _dt
from chevet.app.archive.values import a_time_or_none as _odt
from chevet.app.archive.values import an_id as _u
from chevet.app.archive.values import an_id_or_none as _ou
from chevet.app.archive.values import id_text as _s
from chevet.app.archive.values import time_text as _t
from chevet.app.care import alert_archive, roster_archive
from chevet.app.care import handovers as archive_handovers
from chevet.app.messaging.views import body_of, ref_of, title_of
from chevet.app.services import Services
from chevet.core import blind_index, envelope
from chevet.core.breach import Breach
from chevet.core.conversation import ConversationKind
from chevet.core.entities import Conversation, Entry, Membership, Organisation, Person, PersonStatus, Team
from chevet.core.errors import Conflict
from chevet.core.message import EntryKind, MessageFlag
from chevet.core.retention import RetentionRule, check_rule
from chevet.core.roles import Role
from chevet.core.sealed_archive import ArchiveError, SealedWriter, decrypt_chunks

if TYPE_CHECKING:
    from chevet.ports import Transaction

Progress = Callable[[str, int, int], None]

ExportHook = Callable[["Transaction", Services, Conversation, envelope.DataKey], Awaitable[dict[str, bytes]]]
"""A feature that keeps content outside the log (attachments) adds it to the archive: returns
``{original file name: decrypted bytes}`` for one conversation, written under
``attachments/<conversation id>/``. Metadata goes in its own ``data/<name>.jsonl`` records."""

ImportHook = Callable[["Transaction", Services, Conversation, envelope.DataKey, dict[str, bytes], dict[str, bytes]],
                      Awaitable[int]]
"""Called inside the import transaction after a conversation's log is written, with that
conversation's files from ``attachments/<id>/`` and every archive file (for its metadata);
seals and stores them under the new key and returns how many it restored."""

_EXPORT_HOOKS: list[ExportHook] = []
_IMPORT_HOOKS: list[ImportHook] = []


def register_archive_hooks(export: ExportHook, import_: ImportHook) -> None:
    if export not in _EXPORT_HOOKS:
        _EXPORT_HOOKS.append(export)
    if import_ not in _IMPORT_HOOKS:
        _IMPORT_HOOKS.append(import_)


def attachment_path(conversation_id: uuid.UUID, name: str) -> str:
    """A safe archive path for an original file name (no folders, no hidden files)."""
    clean = name.replace("/", "_").replace("\\", "_").lstrip(".").strip() or "fichier"
    return f"attachments/{conversation_id}/{clean[:200]}"
KIND_NAMES = {EntryKind.MESSAGE: "message", EntryKind.EDIT: "edit", EntryKind.DELETE: "delete",
              EntryKind.MEMBER_ADDED: "member_added", EntryKind.MEMBER_REMOVED: "member_removed",
              EntryKind.CREATED: "created"}
KINDS_BY_NAME = {v: k for k, v in KIND_NAMES.items()}
MAX_ARCHIVE_FILES = 1_000_000
_SAFE_PATH = re.compile(r"^(README\.txt|manifest\.json|schema/[a-z0-9.-]+\.json|data/[a-z_]+\.jsonl|"
                        r"audit/[a-z_]+\.(jsonl|txt)|html/index\.html|html/c/[0-9a-f-]{36}\.html|"
                        r"attachments/[0-9a-f-]{36}/[^/]{1,255}|reports/[0-9a-f-]{36}/[0-9a-f-]{36}\.[a-z0-9]{1,8})$")

README = """Archive Chevet — format chevet-export-2
=======================================

FR. Cette archive contient toutes les données d'une organisation : personnes, équipes,
conversations et messages (en clair), transmissions ciblées (DAR) et modèles des équipes,
alertes urgentes (qui a été appelé, qui a pris en charge, quand) et échelles d'escalade,
plannings de garde et d'astreinte (postes, affectations, adresses de rôle),
états de lecture, règles de conservation, signalements
d'événements indésirables (avec leurs suites, formulaires, déclarations et pièces jointes ; un
signalement anonyme reste anonyme ; fichiers dans reports/), registre des violations et journal
d'audit signé. Ouvrez html/index.html dans un navigateur pour lire les conversations sans
serveur. Les fichiers data/*.jsonl (un objet JSON par ligne) sont décrits par
schema/chevet-export-2.schema.json ; manifest.json donne l'empreinte SHA-256 de chaque fichier.
Les mots de passe et secrets TOTP ne sont jamais exportés.

EN. This archive holds everything of one organisation: people, teams, conversations and
messages (decrypted), handover notes (DAR) and the teams' templates, urgent alerts (who was
called, who took them, when) and escalation ladders, duty rosters (shifts, assignments, role
addresses), read state, retention
rules, adverse-event reports (with their follow-up,
forms, submissions and files, in reports/; an anonymous report stays anonymous), the breach
log and the signed audit trail. Open html/index.html in a browser to read the conversations
without any server. data/*.jsonl (one JSON object per line) is described by
schema/chevet-export-2.schema.json; manifest.json gives the SHA-256 of every file. Passwords
and TOTP secrets are never exported.

audit/: audit.jsonl is the organisation's hash chain with its checkpoints, signed with the
installation's Ed25519 key (public key in audit/public_key.txt); see docs/governance.md.
"""


def _jsonl(records: Sequence[Mapping[str, object]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def entry_record(conv_id: uuid.UUID, key: envelope.DataKey, e: Entry, mentions: list[uuid.UUID]) -> dict[str, Any]:
    return {"record": "entry", "conversation_id": str(conv_id), "seq": e.seq, "id": str(e.id),
            "kind": KIND_NAMES[e.kind], "author_id": _s(e.author_id), "created_at": e.created_at.isoformat(),
            "body": body_of(conv_id, key, e), "urgent": bool(e.flags & MessageFlag.URGENT),
            "edited": bool(e.flags & MessageFlag.EDITED), "deleted": bool(e.flags & MessageFlag.DELETED),
            "has_attachments": bool(e.flags & MessageFlag.ATTACHMENTS),
            "edited_at": _t(e.edited_at), "reply_to_seq": e.reply_to_seq, "target_seq": e.target_seq,
            "subject_id": _s(e.subject_id), "mentions": [str(m) for m in mentions]}


def person_record(p: Person) -> dict[str, Any]:
    return {"record": "person", "id": str(p.id), "email": p.email, "name": p.name, "role": p.role.value,
            "status": p.status.value, "rpps": p.rpps, "language": p.language, "created_at": p.created_at.isoformat()}


class BreachRecord(TypedDict):
    record: str
    id: str
    discovered_at: str
    recorded_at: str
    recorded_by: str | None
    nature: str
    data_categories: str
    people_affected: int | None
    consequences: str
    measures: str
    authority_notified_at: str | None
    people_notified_at: str | None
    closed_at: str | None
    records_affected: NotRequired[int | None]
    late_reason: NotRequired[str]


def breach_record(b: Breach) -> BreachRecord:
    return {"record": "breach", "id": str(b.id), "discovered_at": b.discovered_at.isoformat(),
            "recorded_at": b.recorded_at.isoformat(), "recorded_by": _s(b.recorded_by), "nature": b.nature,
            "data_categories": b.data_categories, "people_affected": b.people_affected,
            "consequences": b.consequences, "measures": b.measures,
            "authority_notified_at": _t(b.authority_notified_at), "people_notified_at": _t(b.people_notified_at),
            "closed_at": _t(b.closed_at), "records_affected": b.records_affected, "late_reason": b.late_reason}


def write_tar(files: dict[str, bytes], out: BinaryIO, mtime: float, archive_format: str = FORMAT) -> None:
    """Files, then a manifest with the SHA-256 and size of each: a reader checks every file."""
    manifest = {"format": archive_format, "files": {p: {"sha256": sha256(d).hexdigest(), "bytes": len(d)}
                                            for p, d in files.items()}}
    with tarfile.open(fileobj=out, mode="w|gz") as tar:
        for path, data in [*files.items(), ("manifest.json", orjson.dumps(manifest, option=orjson.OPT_INDENT_2))]:
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(data), int(mtime), 0o600
            tar.addfile(info, io.BytesIO(data))


async def export_organisation(services: Services, slug: str, out: BinaryIO, header: bytes, key: bytes, *,
                              operator: str = "operator", progress: Progress | None = None) -> dict[str, int]:
    """Write the organisation's archive to ``out``; returns counts. The export is audited on
    the organisation's chain and the installation's."""
    from chevet.app.identity.organisations import organisation_by_slug
    from chevet.app.signalement.filing import record_anonymous_filings

    org = await organisation_by_slug(services, slug)
    await record_anonymous_filings(services)  # so that the exported chain has every filing
    now = services.clock.now()
    files: dict[str, bytes] = {"README.txt": README.encode(),
                               f"schema/{FORMAT}.schema.json": orjson.dumps(SCHEMA, option=orjson.OPT_INDENT_2)}
    async with services.unit() as u:
        await u.audit(org.id, "organisation.exported", None, "organisation", org.id, by=operator)
        await u.audit(None, "organisation.exported", None, "organisation", org.id, by=operator)
    async with services.db.transaction() as tx:
        org_rec = {"record": "organisation", "id": str(org.id), "slug": org.slug, "name": org.name,
                   "created_at": org.created_at.isoformat()}
        people = [person_record(p) for p in await tx.archive.people(org.id)]
        names = {p["id"]: p["name"] for p in people}
        teams = [{"record": "team", "id": str(t.id), "name": t.name, "created_at": t.created_at.isoformat(),
                  "member_ids": [str(m) for m in ms]} for t, ms in await tx.archive.teams(org.id)]
        convs, members, entries_out = [], [], []
        attachments_out: list[dict[str, Any]] = []
        all_convs = await tx.archive.conversations(org.id)
        org_handovers = await archive_handovers.by_conversation(tx, org.id)
        handover_notes: list[dict[str, object]] = []
        for n, (conv, last_activity, pair) in enumerate(all_convs, 1):
            wrapped = await tx.conversations.wrapped_key(conv.id)
            if wrapped is None:
                continue  # shredded, rows awaiting the purge: nothing readable remains
            key_ = await services.unwrap_key(conv.org_id, conv.id, wrapped)
            notes = [archive_handovers.export_record(h, key_) for h in org_handovers.get(conv.id, [])]
            handover_notes += notes
            state = await tx.retention.state(org.id, conv.id)
            c = {"record": "conversation", "id": str(conv.id), "kind": conv.kind.value,
                 "title": title_of(conv, key_), "care_case_ref": ref_of(conv, key_), "team_id": _s(conv.team_id),
                 "created_by": _s(conv.created_by), "created_at": conv.created_at.isoformat(),
                 "last_seq": conv.last_seq, "last_activity": last_activity.isoformat(), "direct_pair": pair,
                 "retention_days": state.days if state else None, "legal_hold": bool(state and state.legal_hold),
                 "closed_at": _t(state.closed_at) if state else None}
            convs.append(c)
            ms = await tx.archive.memberships(conv.id)
            members += [{"record": "member", "conversation_id": str(conv.id), "person_id": str(m.person_id),
                         "is_owner": m.is_owner, "visible_from_seq": m.visible_from_seq, "read_seq": m.read_seq,
                         "joined_at": m.joined_at.isoformat()} for m in ms]
            mentions = await tx.archive.mentions(conv.id)
            log: list[dict[str, Any]] = []
            after = 0
            while batch := await tx.archive.entries(conv.id, after):
                log += [entry_record(conv.id, key_, e, mentions.get(e.seq, [])) for e in batch]
                after = batch[-1].seq
            entries_out += log
            att_files, att_records = await archive_attachments.export_conversation(services, tx, conv.id, key_)
            files.update(att_files)
            attachments_out += att_records
            for hook in _EXPORT_HOOKS:
                for name, data in (await hook(tx, services, conv, key_)).items():
                    files[attachment_path(conv.id, name)] = data
            files[f"html/c/{conv.id}.html"] = archive_html.render_conversation(
                org_rec, c | {"label": archive_html.label(c, names)}, [names.get(str(m.person_id), "?") for m in ms],
                log, names, notes).encode()
            if progress:
                progress("conversations", n, len(all_convs))
        policies = [{"record": "retention_policy", "kind": r.kind.value, "days": r.days, "min_days": r.min_days,
                     "max_days": r.max_days} for r in (await tx.retention.policies(org.id)).values()]
        breaches = [breach_record(b) for b in await tx.breaches.all(org.id)]
        handover_templates = await archive_handovers.export_templates(tx, org.id)
        alert_records = await alert_archive.export_records(tx, org.id)
        roster_records = await roster_archive.export_records(tx, org.id)
        report_files, report_records = await archive_reports.export_reports(services, tx, org.id)
        files.update(report_files)
        audit_lines = [orjson.dumps({"type": "header", "format": "chevet-audit-export-1",
                                     "public_key_ed25519": public_key_b64(services),
                                     "key_id": services.signer.key_id if services.signer else None})]
        anchor = await tx.audit_trail.anchor(org.id) or 0
        checkpoints = await tx.audit_trail.checkpoints(org.id)
        prev: bytes | None = next((cp.head_hash for cp in checkpoints if cp.seq == anchor), None) if anchor else \
            envelope_genesis()
        async for e in tx.audit.entries(org.id):
            audit_lines.append(orjson.dumps(entry_json(e, prev)))
            prev = e.hash
        audit_lines += [orjson.dumps(checkpoint_json(cp)) for cp in checkpoints]
    files["data/organisation.jsonl"] = _jsonl([org_rec])
    files["data/people.jsonl"] = _jsonl(people)
    files["data/teams.jsonl"] = _jsonl(teams)
    files["data/conversations.jsonl"] = _jsonl(convs)
    files["data/members.jsonl"] = _jsonl(members)
    files["data/entries.jsonl"] = _jsonl(entries_out)
    files["data/retention_policies.jsonl"] = _jsonl(policies)
    files["data/breaches.jsonl"] = _jsonl(breaches)
    files["data/attachments.jsonl"] = _jsonl(attachments_out)
    files["data/handovers.jsonl"] = _jsonl(handover_notes)
    files["data/handover_templates.jsonl"] = _jsonl(handover_templates)
    for name, records in alert_records.items():
        files[f"data/{name}.jsonl"] = _jsonl(records)
    for name, records in roster_records.items():
        files[f"data/{name}.jsonl"] = _jsonl(records)
    for name, records in report_records.items():
        files[f"data/{name}.jsonl"] = _jsonl(records)
    files["audit/audit.jsonl"] = b"".join(line + b"\n" for line in audit_lines)
    files["audit/public_key.txt"] = ((public_key_b64(services) or "") + "\n").encode()
    files["html/index.html"] = archive_html.render_index(
        org_rec, people, [c | {"label": archive_html.label(c, names)} for c in convs], now.isoformat()).encode()
    writer = SealedWriter(out, header, key)
    write_tar(files, writer, now.timestamp())  # type: ignore[arg-type]
    writer.close()
    return {"people": len(people), "conversations": len(convs), "entries": len(entries_out),
            "attachments": len(attachments_out), "reports": len(report_records["reports"]),
            "handovers": len(handover_notes), "files": len(files) + 1}


def envelope_genesis() -> bytes:
    from chevet.core.audit import GENESIS

    return GENESIS


def read_archive(src: BinaryIO, *, passphrase: str | None = None, identity: Any = None,
                 progress: Progress | None = None) -> dict[str, bytes]:
    """Decrypt and unpack an archive entirely, checking every chunk, every path and every file
    against the manifest. Raises ``ArchiveError`` with a precise code; returns the files."""
    buf = io.BytesIO()
    for n, chunk in enumerate(decrypt_chunks(src, passphrase=passphrase, identity=identity), 1):
        buf.write(chunk)
        if progress:
            progress("decrypting", n, 0)
    buf.seek(0)
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=buf, mode="r:gz") as tar:
            for member in tar:
                if len(files) >= MAX_ARCHIVE_FILES or not member.isfile() or not _SAFE_PATH.match(member.name) \
                        or member.name in files:
                    raise ArchiveError("archive_unexpected_file")
                fh = tar.extractfile(member)
                assert fh is not None
                files[member.name] = fh.read()
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise ArchiveError("archive_corrupted") from exc
    try:
        manifest = orjson.loads(files.pop("manifest.json"))
        listed = manifest["files"]
    except (KeyError, orjson.JSONDecodeError, TypeError) as exc:
        raise ArchiveError("archive_manifest_invalid") from exc
    if manifest.get("format") not in READABLE_FORMATS:
        raise ArchiveError("archive_format_unknown")
    if set(listed) != set(files):
        raise ArchiveError("archive_manifest_mismatch")
    for path, data in files.items():
        if sha256(data).hexdigest() != listed[path].get("sha256"):
            raise ArchiveError("archive_manifest_mismatch")
    return files


def _records(files: dict[str, bytes], name: str, record: str) -> Iterator[dict[str, Any]]:
    for line in files.get(f"data/{name}.jsonl", b"").splitlines():
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ArchiveError("archive_record_invalid", file=name) from exc
        if not isinstance(value, dict) or value.get("record") != record:
            raise ArchiveError("archive_record_invalid", file=name)
        yield value


async def import_organisation(services: Services, files: dict[str, bytes], *, archive_sha256: str,
                              operator: str = "operator", progress: Progress | None = None) -> dict[str, int]:
    """Restore an organisation from a verified archive into this installation, with fresh data
    keys, the same ids, content, order and authors. Refuses if anything of it already exists.
    One transaction: a failure imports nothing."""
    try:
        return await _import(services, files, archive_sha256, operator, progress)
    except (KeyError, ValueError, TypeError) as exc:
        raise ArchiveError("archive_record_invalid", file=type(exc).__name__) from exc


async def _import(services: Services, files: dict[str, bytes], archive_sha256: str, operator: str,
                  progress: Progress | None) -> dict[str, int]:
    orgs = list(_records(files, "organisation", "organisation"))
    if len(orgs) != 1:
        raise ArchiveError("archive_record_invalid", file="organisation")
    o = orgs[0]
    org = Organisation(_u(o["id"]), str(o["slug"]), str(o["name"]), _dt(o["created_at"]))
    people = [Person(_u(p["id"]), org.id, str(p["email"]), str(p["name"]), Role(p["role"]),
                     PersonStatus(p["status"]), p["rpps"], str(p["language"]), _dt(p["created_at"]))
              for p in _records(files, "people", "person")]
    convs = list(_records(files, "conversations", "conversation"))
    members = list(_records(files, "members", "member"))
    entries = list(_records(files, "entries", "entry"))
    from chevet.core.entities import Credentials

    async with services.unit() as u:
        if await u.tx.organisations.by_slug(org.slug) or await u.tx.organisations.get(org.id):
            raise Conflict("import_organisation_exists", slug=org.slug)
        for p in people:
            if await u.tx.people.by_email(p.email):
                raise Conflict("import_person_exists")
        if await u.tx.archive.person_exists([p.id for p in people]) or \
                await u.tx.archive.conversation_exists([_u(c["id"]) for c in convs]) or \
                await u.tx.reports.any_exists([_u(r["id"]) for r in _records(files, "reports", "report")]):
            raise Conflict("import_data_exists")
        await u.tx.organisations.add(org)
        for p in people:
            await u.tx.people.add(p, Credentials(p.id, None, None, None, 0, None))
        for t in _records(files, "teams", "team"):
            await u.tx.archive.add_team(Team(_u(t["id"]), org.id, str(t["name"]), _dt(t["created_at"])),
                                        [_u(m) for m in t["member_ids"]])
        for r in _records(files, "retention_policies", "retention_policy"):
            await u.tx.retention.set_policy(org.id, check_rule(RetentionRule(
                ConversationKind(r["kind"]), int(r["days"]), int(r["min_days"]), int(r["max_days"]))),
                services.clock.now())
        keys: dict[uuid.UUID, envelope.DataKey] = {}
        imported_convs: list[Conversation] = []
        for n, c in enumerate(convs, 1):
            cid = _u(c["id"])
            key, wrapped = await services.new_wrapped_key(org.id, cid, u.tx)
            keys[cid] = key
            conv = Conversation(
                id=cid, org_id=org.id, kind=ConversationKind(c["kind"]),
                title_sealed=key.seal(str(c["title"]).encode(), envelope.aad("title", cid)) if c["title"] else None,
                ref_sealed=key.seal(str(c["care_case_ref"]).encode(), envelope.aad("ref", cid))
                if c["care_case_ref"] else None,
                team_id=_ou(c["team_id"]), created_by=_ou(c["created_by"]), created_at=_dt(c["created_at"]),
                last_seq=int(c["last_seq"]))
            pair = None
            if c["direct_pair"]:
                low, high = str(c["direct_pair"]).split(":")
                pair = (uuid.UUID(low), uuid.UUID(high))
            await u.tx.conversations.add(conv, wrapped, pair)
            imported_convs.append(conv)
            await u.tx.archive.set_last_activity(cid, _dt(c["last_activity"]))
            if c["retention_days"] is not None or c["legal_hold"] or c["closed_at"]:
                await u.tx.retention.save(org.id, cid, days=c["retention_days"], legal_hold=bool(c["legal_hold"]),
                                          closed_at=_odt(c["closed_at"]))
            if progress:
                progress("conversations", n, len(convs))
        for m in members:
            await u.tx.conversations.add_member(Membership(
                _u(m["conversation_id"]), _u(m["person_id"]), bool(m["is_owner"]), int(m["visible_from_seq"]),
                int(m["read_seq"]), _dt(m["joined_at"])))
        for n, e in enumerate(entries, 1):
            cid, eid = _u(e["conversation_id"]), _u(e["id"])
            key = keys[cid]
            kind = KINDS_BY_NAME[e["kind"]]
            flags = MessageFlag.NONE
            for name, flag in (("urgent", MessageFlag.URGENT), ("edited", MessageFlag.EDITED),
                               ("deleted", MessageFlag.DELETED), ("has_attachments", MessageFlag.ATTACHMENTS)):
                if e.get(name):
                    flags |= flag
            body = e["body"]
            sealed = key.seal(str(body).encode(), envelope.aad("msg", cid, eid)) if body is not None else None
            terms = blind_index.terms(key.search_key, str(body)) \
                if kind is EntryKind.MESSAGE and body is not None and not flags & MessageFlag.DELETED else []
            await u.tx.entries.add(Entry(
                id=eid, conversation_id=cid, seq=int(e["seq"]), kind=kind, author_id=_ou(e["author_id"]),
                created_at=_dt(e["created_at"]), body_sealed=sealed, flags=flags, reply_to_seq=e["reply_to_seq"],
                target_seq=e["target_seq"], subject_id=_ou(e["subject_id"]), edited_at=_odt(e["edited_at"])),
                terms, [_u(m) for m in e["mentions"]])
            if progress and (n % 1000 == 0 or n == len(entries)):
                progress("entries", n, len(entries))
        written: list[str] = []
        try:
            await archive_attachments.import_records(services, u.tx, org.id, keys,
                                                     list(_records(files, "attachments", "attachment")), files,
                                                     written)
            # Reports are absent from archives made before they were exported (chevet-export-1).
            reports_count = await archive_reports.import_reports(
                services, u.tx, org.id, list(_records(files, "reports", "report")),
                list(_records(files, "report_designations", "report_designation")),
                list(_records(files, "report_retention", "report_retention")), files, written, services.clock.now)
        except BaseException:
            if services.attachments is not None:
                for blob in written:
                    await services.attachments.blobs.delete(blob)
            raise
        for conv in imported_convs:
            prefix = f"attachments/{conv.id}/"
            own = {p[len(prefix):]: d for p, d in files.items() if p.startswith(prefix)}
            for import_hook in _IMPORT_HOOKS:
                await import_hook(u.tx, services, conv, keys[conv.id], own, files)
        # Handovers are absent from archives made before they were exported.
        handovers_count = await archive_handovers.import_records(
            u, org.id, keys, list(_records(files, "handovers", "handover")),
            list(_records(files, "handover_templates", "handover_template")))
        # Alerts likewise (after their conversations and people).
        await alert_archive.import_records(u, org.id, list(_records(files, "alerts", "alert")),
                                           list(_records(files, "alert_events", "alert_event")),
                                           list(_records(files, "alert_ladders", "alert_ladder")))
        # Rosters likewise (after their teams and people).
        await roster_archive.import_records(u, org.id, list(_records(files, "roster_shifts", "roster_shift")),
                                            list(_records(files, "roster_roles", "roster_role")),
                                            list(_records(files, "roster_assignments", "roster_assignment")))
        for b in _records(files, "breaches", "breach"):
            await u.tx.breaches.add(Breach(
                _u(b["id"]), org.id, _dt(b["discovered_at"]), _dt(b["recorded_at"]), _ou(b["recorded_by"]),
                str(b["nature"]), str(b["data_categories"]), b["people_affected"], str(b["consequences"]),
                str(b["measures"]), _odt(b["authority_notified_at"]), _odt(b["people_notified_at"]),
                _odt(b["closed_at"]), b.get("records_affected"), str(b.get("late_reason") or "")))
        audit_entries = sum(1 for line in files.get("audit/audit.jsonl", b"").splitlines() if b'"entry"' in line)
        await u.audit(org.id, "organisation.imported", None, "organisation", org.id, by=operator,
                      archive_sha256=archive_sha256, source_audit_entries=audit_entries)
        await u.audit(None, "organisation.imported", None, "organisation", org.id, by=operator,
                      archive_sha256=archive_sha256)
    return {"people": len(people), "conversations": len(convs), "entries": len(entries), "reports": reports_count,
            "handovers": handovers_count}

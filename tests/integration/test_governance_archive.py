"""Reversibility: an organisation exported from one installation and imported into another
(fresh keys) is the same organisation, compared object by object; the archive follows its
published schema, its HTML opens in a browser without a server, and a damaged or cut archive,
or an import over existing data, is refused with nothing imported."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from chevet.app.archive import archive
from chevet.app.archive.schema import SCHEMA
from chevet.app.attachments import download, upload
from chevet.app.governance import gdpr, retention
from chevet.app.messaging import conversations, messages, teams
from chevet.app.messaging.views import body_of, ref_of, title_of
from chevet.bootstrap import Installation
from chevet.core.attachment import Variant
from chevet.core.errors import Conflict, NotFound
from chevet.core.sealed_archive import ArchiveError, passphrase_header
from tests.governance_support import PASSPHRASE, cli, say, scene, use_clock
from tests.media_samples import pdf, small_jpeg
from tests.support import IN_CI, create_pg_database, drop_pg_database, new_installation, pg_available

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


async def _rich_organisation(installation: Installation) -> Any:
    svc = installation.services
    use_clock(svc, datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    s = await scene(svc, f"ehpad-{uuid.uuid4().hex[:6]}")
    first = await say(svc, s.nurse, s.care, "Chute nocturne, hématome frontal")
    svc.clock.advance(minutes=5)  # type: ignore[attr-defined]
    await messages.send_message(svc, s.physician.actor, s.care, body=f"Je passe à 14 h @[{s.nurse.id}]",
                                client_id="p-1", urgent=True, reply_to=uuid.UUID(str(first["id"])))
    await messages.edit_message(svc, s.nurse.actor, s.care, uuid.UUID(str(first["id"])),
                                "Chute nocturne, hématome frontal droit")
    gone = await say(svc, s.manager, s.team, "message à supprimer")
    await messages.delete_message(svc, s.manager.actor, s.team, uuid.UUID(str(gone["id"])))
    await say(svc, s.manager, s.team, "Relève : RAS")
    await conversations.add_member(svc, s.manager.actor, s.team, s.dpo.id, share_history=False)
    await say(svc, s.nurse, s.direct, "Tu peux me rappeler ?")
    photo, _ = await upload.upload(svc, s.nurse.actor, s.care, data=small_jpeg(), name="plaie talon.jpg")
    report, _ = await upload.upload(svc, s.nurse.actor, s.care, data=pdf("Bilan"), name="bilan infirmier.pdf")
    await messages.send_message(svc, s.nurse.actor, s.care, body="Photo et bilan", client_id="n-2",
                                attachment_ids=[uuid.UUID(str(photo["id"])), uuid.UUID(str(report["id"]))])
    await conversations.mark_read(svc, s.physician.actor, s.care, 2)
    team = await teams.create_team(svc, s.manager.actor, "Équipe de nuit")
    await teams.add_team_member(svc, s.manager.actor, uuid.UUID(str(team["id"])), s.nurse.id)
    await retention.set_override(svc, s.manager.actor, s.team, 60)
    await retention.set_policy(svc, s.dpo.actor, s.org.id, "group", days=120, min_days=30, max_days=365)
    await retention.close_care_case(svc, s.nurse.actor, s.care)
    await retention.set_legal_hold(svc, s.dpo.actor, s.org.id, s.care, True)
    await gdpr.record_breach(svc, s.dpo.actor, discovered_at=svc.clock.now() - timedelta(hours=2),
                             nature="Poste laissé ouvert", data_categories="messages", people_affected=3,
                             consequences="faible", measures="verrouillage automatique")
    return s


async def snapshot(installation: Installation, slug: str, member: Any) -> dict[str, Any]:
    """Everything of one organisation as plain values, content decrypted: what must survive."""
    svc = installation.services
    out: dict[str, Any] = {}
    async with svc.db.transaction() as tx:
        org = await tx.organisations.by_slug(slug)
        assert org is not None
        out["organisation"] = (org.id, org.slug, org.name, org.created_at)
        out["people"] = [(p.id, p.email, p.name, p.role, p.status, p.rpps, p.language, p.created_at)
                         for p in await tx.archive.people(org.id)]
        out["teams"] = [(t.id, t.name, t.created_at, ms) for t, ms in await tx.archive.teams(org.id)]
        out["policies"] = sorted((r.kind.value, r.days, r.min_days, r.max_days)
                                 for r in (await tx.retention.policies(org.id)).values())
        out["conversations"] = []
        for conv, last_activity, pair in await tx.archive.conversations(org.id):
            wrapped = await tx.conversations.wrapped_key(conv.id)
            assert wrapped is not None
            key = await svc.unwrap_key(conv.org_id, conv.id, wrapped)
            state = await tx.retention.state(org.id, conv.id)
            assert state is not None
            entries = [(e.id, e.seq, e.kind, e.author_id, e.created_at, body_of(conv.id, key, e), e.flags,
                        e.reply_to_seq, e.target_seq, e.subject_id, e.edited_at)
                       for e in await tx.archive.entries(conv.id)]
            out["conversations"].append({
                "conv": (conv.id, conv.kind, title_of(conv, key), ref_of(conv, key), conv.team_id, conv.created_by,
                         conv.created_at, conv.last_seq, last_activity, pair),
                "retention": (state.days, state.legal_hold, state.closed_at),
                "members": [(m.person_id, m.is_owner, m.visible_from_seq, m.read_seq, m.joined_at)
                            for m in await tx.archive.memberships(conv.id)],
                "entries": entries, "mentions": await tx.archive.mentions(conv.id)})
        out["attachments"] = []
        for conv, _, _ in await tx.archive.conversations(org.id):
            for att in await tx.attachments.all_in(conv.id):
                out["attachments"].append((att.id, att.conversation_id, att.entry_id, att.uploader_id, att.created_at,
                                           att.kind, att.mime, att.size, att.width, att.height))
        out["attachments"].sort()
        out["breaches"] = [(b.id, b.discovered_at, b.nature, b.data_categories, b.people_affected, b.consequences,
                            b.measures, b.authority_notified_at) for b in await tx.breaches.all(org.id)]
    out["files"] = {}
    for att_id, *_ in out["attachments"]:
        for variant in Variant:
            try:
                got = await download.download(svc, member, att_id, variant)
            except NotFound:
                continue
            out["files"][(att_id, variant)] = (got.name, got.mime, b"".join([p async for p in got.body]))
    return out


async def _export(installation: Installation, slug: str) -> bytes:
    out = io.BytesIO()
    header, key = passphrase_header(PASSPHRASE, log2_n=14)
    await archive.export_organisation(installation.services, slug, out, header, key)
    return out.getvalue()


async def test_round_trip_reproduces_the_organisation_exactly(installation: Installation, tmp_path: Path) -> None:
    s = await _rich_organisation(installation)
    before = await snapshot(installation, s.org.slug, s.nurse.actor)
    assert len(before["files"]) >= 3  # photo (content and thumbnail) and the PDF
    blob = await _export(installation, s.org.slug)
    files = archive.read_archive(io.BytesIO(blob), passphrase=PASSPHRASE)
    # The other database engine when it is there: SQLite -> PostgreSQL and PostgreSQL -> SQLite.
    target_url = await create_pg_database() if installation.settings.database.url is None and pg_available() \
        else None
    other = await new_installation(tmp_path / "other", target_url)
    try:
        counts = await archive.import_organisation(other.services, files, archive_sha256="x")
        assert counts["conversations"] == 3
        after = await snapshot(other, s.org.slug, s.nurse.actor)
        for part in before:
            assert after[part] == before[part], part
        async with installation.services.db.transaction() as tx, other.services.db.transaction() as tx2:
            assert await tx.conversations.wrapped_key(s.care) != await tx2.conversations.wrapped_key(s.care)
            imported = await tx2.audit_trail.search(s.org.id, actions=["organisation.imported"], limit=1)
        assert imported
        # Search works in the new installation: the blind index was rebuilt with the new keys.
        # (the same ids and the same organisation exist in the target)
        found = await messages.search(other.services, s.physician.actor, "hématome droit")
        assert [m["body"] for m in found] == ["Chute nocturne, hématome frontal droit"]
        with pytest.raises(Conflict):  # once is enough
            await archive.import_organisation(other.services, files, archive_sha256="x")
    finally:
        await other.close()
        if target_url:
            await drop_pg_database(target_url)


async def test_archive_follows_its_published_schema(installation: Installation) -> None:
    s = await _rich_organisation(installation)
    files = archive.read_archive(io.BytesIO(await _export(installation, s.org.slug)), passphrase=PASSPHRASE)
    published = orjson.loads((ROOT / "docs/export-schema/chevet-export-2.schema.json").read_bytes())
    assert published == SCHEMA == orjson.loads(files["schema/chevet-export-2.schema.json"])
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    seen = set()
    for path, data in files.items():
        if path.startswith("data/"):
            for line in data.splitlines():
                record = orjson.loads(line)
                validator.validate(record)
                seen.add(record["record"])
    assert seen == {"organisation", "person", "team", "conversation", "member", "entry", "attachment",
                    "retention_policy", "breach"}
    names = {orjson.loads(x)["name"] for x in files["data/attachments.jsonl"].splitlines()}
    assert "bilan infirmier.pdf" in names and any(n.startswith("plaie talon.") for n in names)  # re-encoded
    assert any(p.startswith(f"attachments/{s.care}/") and p.endswith("bilan infirmier.pdf") for p in files)
    assert b"password" not in files["data/people.jsonl"] and b"totp" not in files["data/people.jsonl"]
    audit_lines = [orjson.loads(x) for x in files["audit/audit.jsonl"].splitlines()]
    assert audit_lines[0]["public_key_ed25519"] and any(x.get("action") == "organisation.exported"
                                                        for x in audit_lines)


async def test_html_browse_opens_in_chromium_without_a_server(installation: Installation, tmp_path: Path) -> None:
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail("Chromium is required in CI (.ci/setup-governance installs it)")
        pytest.skip("Chromium not installed")
    s = await _rich_organisation(installation)
    archive_file = tmp_path / "export.chevet"
    r = cli(installation, "export", "--org", s.org.slug, "--out", str(archive_file),
            env={"CHEVET_EXPORT_PASSPHRASE": PASSPHRASE})
    assert r.returncode == 0, r.stderr
    assert "conversations" in r.stderr  # progress and summary go to stderr
    opened = tmp_path / "opened"
    r = cli(installation, "archive", "extract", str(archive_file), "--to", str(opened),
            env={"CHEVET_EXPORT_PASSPHRASE": PASSPHRASE}, data_dir=False)
    assert r.returncode == 0, r.stderr
    manifest = orjson.loads((opened / "manifest.json").read_bytes())
    assert set(manifest["files"]) == {str(p.relative_to(opened)) for p in opened.rglob("*")
                                      if p.is_file() and p.name != "manifest.json"}
    for page in (opened / "html").rglob("*.html"):
        text = page.read_text()
        assert "<script" not in text and not re.search(r"(src|href)=\"(https?:)?//", text), page.name
    profile = tmp_path / "profile"
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                          "--dump-dom", (opened / "html" / "c" / f"{s.care}.html").as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert "Chute nocturne, hématome frontal droit" in dom.stdout, dom.stderr[-2000:]
    assert "Paul Lefèvre" in dom.stdout and "CH12-R" in dom.stdout
    index = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                            "--dump-dom", (opened / "html" / "index.html").as_uri()],
                           capture_output=True, text=True, timeout=120)
    assert f'href="c/{s.care}.html"' in index.stdout and "Suivi chambre 12" in index.stdout


async def test_damaged_cut_or_duplicate_archives_import_nothing(installation: Installation, tmp_path: Path) -> None:
    s = await _rich_organisation(installation)
    archive_file = tmp_path / "export.chevet"
    env = {"CHEVET_EXPORT_PASSPHRASE": PASSPHRASE}
    assert cli(installation, "export", "--org", s.org.slug, "--out", str(archive_file), env=env).returncode == 0
    blob = archive_file.read_bytes()
    target = await new_installation(tmp_path / "target", None)
    try:
        def import_(data: bytes, passphrase: str = PASSPHRASE) -> subprocess.CompletedProcess[str]:
            path = tmp_path / f"try-{uuid.uuid4().hex}.chevet"
            path.write_bytes(data)
            env = {**_env(), "CHEVET_EXPORT_PASSPHRASE": passphrase}
            return subprocess.run([*_chevet(), "import", str(path), "--data-dir", str(target.settings.data_dir)],
                                  capture_output=True, text=True, env=env)

        damaged = bytearray(blob)
        damaged[len(blob) // 2] ^= 0xFF
        for data, message in ((bytes(damaged), "damaged"), (blob[: len(blob) * 2 // 3], "truncated"),
                              (blob[:-1], "truncated"), (b"PK\x03\x04 not an archive", "not a Chevet archive")):
            r = import_(data)
            assert r.returncode == 1 and message in r.stderr and "nothing was imported" in r.stderr, r.stderr
        r = import_(blob, "une mauvaise phrase de passe")
        assert r.returncode == 1 and "Wrong passphrase" in r.stderr
        async with target.services.db.transaction() as tx:
            assert await tx.organisations.all() == []
        assert import_(blob).returncode == 0
        r = import_(blob)
        assert r.returncode == 1 and "already exists" in r.stderr
        with pytest.raises(ArchiveError):
            archive.read_archive(io.BytesIO(blob), passphrase="une mauvaise phrase de passe")
    finally:
        await target.close()


def _chevet() -> list[str]:
    import sys

    return [sys.executable, "-m", "chevet.cli.main"]


def _env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CHEVET_PASSWORD_TIME_COST": "1",
            "CHEVET_PASSWORD_MEMORY_KIB": "1024"}

"""Backups: a consistent database backup without any data key (conversations, reports), and a
separate key backup that is replaced after every purge. Content shredded after a database backup cannot be
recovered from that backup when the key backup is handled as documented (docs/backup.md)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import orjson

from chevet.app.governance import audit_trail, retention
from chevet.app.messaging import messages
from chevet.bootstrap import Installation, open_installation
from chevet.core.audit import INSTALLATION_CHAIN
from chevet.core.witness import parse_line
from chevet.settings import load_settings
from tests.governance_support import cli, say, scene, use_clock
from tests.support import FAST_PASSWORDS, create_pg_database, drop_pg_database

SECRET = "Mme Quatrefages chute nocturne"


@asynccontextmanager
async def _target(installation: Installation, tmp_path: Path) -> AsyncIterator[tuple[Path, str | None]]:
    """A new, empty place to restore into: a folder, and a new PostgreSQL database if the
    installation runs on PostgreSQL."""
    url = await create_pg_database() if installation.settings.database.url else None
    try:
        yield tmp_path / "restored", url
    finally:
        if url:
            await drop_pg_database(url)


def _restore(db: Path, keys: Path, target_dir: Path, target_url: str | None,
             *command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``chevet restore`` into the target (or, with ``command``, another command on it)."""
    extra = {"CHEVET_DATABASE_URL": target_url} if target_url else {}
    args = list(command) or ["restore", "--db", str(db), "--keys", str(keys)]
    return subprocess.run([sys.executable, "-m", "chevet.cli.main", *args, "--data-dir", str(target_dir)],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **extra, **(env or {})})


def _assert_nowhere(needle: bytes, root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), path


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} \
        if root.exists() else {}


async def _pg_tables(url: str) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return sorted(r[0] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
    finally:
        await conn.close()


def _restored(db: Path, keys: Path, target_dir: Path, target_url: str | None, removed: str) -> Installation:
    r = _restore(db, keys, target_dir, target_url)
    assert r.returncode == 0, r.stderr
    assert f"{removed} shredded after the backup were removed" in r.stdout, r.stdout
    return _open(target_dir, target_url)


def _open(target_dir: Path, target_url: str | None) -> Installation:
    return open_installation(load_settings(target_dir, environ={}, database__url=target_url, **FAST_PASSWORDS),
                             with_bus=False)


def _backup(installation: Installation, out: Path, keys: Path) -> Path:
    r = cli(installation, "backup", "--out", str(out), "--keys-out", str(keys))
    assert r.returncode == 0, r.stderr
    [db] = list(out.glob("chevet-db-*"))
    return db


def _key_rows_in(installation: Installation, db_backup: Path, table: str) -> int:
    """How many rows of a key table the database backup holds, read with sqlite3 / pg_restore."""
    if installation.settings.database.url is None:
        with sqlite3.connect(db_backup) as db:
            return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    data = subprocess.run(["pg_restore", "--data-only", f"--table={table}", "--file=-", str(db_backup)],
                          capture_output=True, text=True, check=True).stdout
    lines = data.split(f"COPY public.{table} ", 1)
    return 0 if len(lines) == 1 else len(lines[1].split("\n\\.", 1)[0].strip().splitlines()) - 1


async def test_shredded_content_is_unrecoverable_from_an_earlier_backup(installation: Installation,
                                                                       tmp_path: Path) -> None:
    svc = installation.services
    clock = use_clock(svc)
    s = await scene(svc)
    await say(svc, s.nurse, s.care, SECRET)
    await say(svc, s.manager, s.team, "Relève : RAS")
    await retention.close_care_case(svc, s.nurse.actor, s.care)
    await retention.set_override(svc, s.nurse.actor, s.care, 30)
    async with svc.db.transaction() as tx:
        care_key = await tx.conversations.wrapped_key(s.care)
    assert care_key is not None

    keys = tmp_path / "keys" / "chevet-keys.json"
    r = cli(installation, "backup", "--out", str(tmp_path / "db1"), "--keys-out", str(keys))
    assert r.returncode == 0, r.stderr
    [old_db] = list((tmp_path / "db1").glob("chevet-db-*"))
    assert oct(keys.stat().st_mode & 0o777) == "0o600"
    first_keys = orjson.loads(keys.read_bytes())
    assert str(s.care) in {k["conversation_id"] for k in first_keys["conversation_keys"]}
    assert first_keys["master_key"] and first_keys["audit_key"] and first_keys["vapid_key"]
    # The database backup never holds a conversation key.
    if installation.settings.database.url is None:
        with sqlite3.connect(old_db) as db:
            assert db.execute("SELECT count(*) FROM conversation_key").fetchone() == (0,)
            assert db.execute("SELECT count(*) FROM entry").fetchone()[0] > 0
        assert care_key not in old_db.read_bytes()
    else:
        data = subprocess.run(["pg_restore", "--data-only", "--table=conversation_key", "--file=-", str(old_db)],
                              capture_output=True, text=True, check=True).stdout
        assert "COPY public.conversation_key" not in data

    # The care case expires and is shredded; the key backup is then replaced, as documented.
    clock.advance(days=31)
    await say(svc, s.nurse, s.direct, "toujours là")
    report = await retention.purge(svc)
    assert [x["conversation_id"] for x in report.shredded] == [str(s.care)]
    r = cli(installation, "backup", "--out", str(tmp_path / "db2"), "--keys-out", str(keys))
    assert r.returncode == 0, r.stderr
    current_keys = keys.read_bytes()
    assert str(s.care).encode() not in current_keys

    # Restore the backup taken BEFORE the purge, with the current key backup, into a new place.
    async with _target(installation, tmp_path) as (target_dir, target_url):
        restored = _restored(old_db, keys, target_dir, target_url, "1 conversation(s) and 0 report(s)")
        try:
            assert restored.settings.vapid_key_file.read_text() == first_keys["vapid_key"]
            async with restored.services.db.transaction() as tx:
                assert await tx.conversations.get(s.org.id, s.care) is None
                assert await tx.conversations.wrapped_key(s.care) is None
            # What is still alive reads normally: the team channel.
            page = await messages.history(restored.services, s.manager.actor, s.team)
            assert [m.get("body") for m in page if m.get("body")] == ["Relève : RAS"]
        finally:
            await restored.close()
        if target_url is None:
            _assert_nowhere(SECRET.encode(), target_dir)
        # Restoring over an installation that holds data is refused.
        r = _restore(old_db, keys, target_dir, target_url)
        assert r.returncode == 1 and "restaurez dans une installation vide" in r.stderr


async def test_daily_job_purges_prunes_and_replaces_the_key_backup(installation: Installation, tmp_path: Path) -> None:
    from chevet.jobs.governance import run_retention_once

    svc = installation.services
    clock = use_clock(svc)
    s = await scene(svc)
    await retention.close_care_case(svc, s.nurse.actor, s.care)
    await retention.set_override(svc, s.nurse.actor, s.care, 30)
    target = tmp_path / "keys.json"
    job = Installation(installation.settings.replace(keys__backup_file=target), svc)
    clock.advance(days=31)
    await say(svc, s.nurse, s.team, "actif")
    await say(svc, s.nurse, s.direct, "actif")
    await run_retention_once(job)
    kept = {k["conversation_id"] for k in orjson.loads(target.read_bytes())["conversation_keys"]}
    assert kept == {str(s.team), str(s.direct)}
    async with svc.db.transaction() as tx:
        assert await tx.conversations.get(s.org.id, s.care) is None
        actions = [e.action async for e in tx.audit.entries(INSTALLATION_CHAIN)]
    assert "retention.applied" in actions and actions[-1] == "key.backup_written"


async def test_restore_after_a_conversation_with_attachments_was_shredded(installation: Installation,
                                                                          tmp_path: Path) -> None:
    from chevet.app.attachments import download, upload
    from tests.media_samples import pdf, small_jpeg

    svc = installation.services
    clock = use_clock(svc)
    s = await scene(svc)
    photo, _ = await upload.upload(svc, s.nurse.actor, s.care, data=small_jpeg(), name="plaie talon.jpg")
    await messages.send_message(svc, s.nurse.actor, s.care, body=SECRET, client_id="c-1",
                                attachment_ids=[uuid.UUID(str(photo["id"]))])
    letter, _ = await upload.upload(svc, s.manager.actor, s.team, data=pdf("Planning"), name="planning.pdf")
    await messages.send_message(svc, s.manager.actor, s.team, body="Relève : RAS", client_id="t-1",
                                attachment_ids=[uuid.UUID(str(letter["id"]))])
    await retention.close_care_case(svc, s.nurse.actor, s.care)
    await retention.set_override(svc, s.nurse.actor, s.care, 30)
    keys = tmp_path / "keys" / "chevet-keys.json"
    old_db = _backup(installation, tmp_path / "db1", keys)
    [old_blobs] = list((tmp_path / "db1").glob("chevet-blobs-*"))
    assert any(s.care.hex in name for name in _files(old_blobs))

    clock.advance(days=31)
    await say(svc, s.nurse, s.team, "toujours là")
    await say(svc, s.nurse, s.direct, "toujours là")
    report = await retention.purge(svc)
    assert [x["conversation_id"] for x in report.shredded] == [str(s.care)]
    _backup(installation, tmp_path / "db2", keys)  # the key backup is replaced, as documented

    async with _target(installation, tmp_path) as (target_dir, target_url):
        restored = _restored(old_db, keys, target_dir, target_url, "1 conversation(s) and 0 report(s)")
        try:
            rsvc = restored.services
            async with rsvc.db.transaction() as tx:
                assert await tx.conversations.get(s.org.id, s.care) is None
                assert await tx.attachments.get(s.org.id, uuid.UUID(str(photo["id"]))) is None
            # The shredded conversation's sealed files are not in the restored blob folder…
            blob_names = list(_files(restored.settings.blobs_path))
            assert blob_names and not [n for n in blob_names if s.care.hex in n]
            # … and what is alive opens, files included.
            page = await messages.history(rsvc, s.manager.actor, s.team)
            assert [m.get("body") for m in page if m.get("body")] == ["Relève : RAS"]
            d = await download.download(rsvc, s.manager.actor, uuid.UUID(str(letter["id"])))
            assert b"".join([x async for x in d.body]) == pdf("Planning")
            async with rsvc.db.transaction() as tx:
                [done] = [e async for e in tx.audit.entries(INSTALLATION_CHAIN) if e.action == "backup.restored"]
            assert done.detail["shredded_after_backup"] == 1
        finally:
            await restored.close()
        if target_url is None:
            _assert_nowhere(SECRET.encode(), target_dir)


async def test_reports_purged_by_retention_do_not_come_back_from_an_older_backup(installation: Installation,
                                                                                 tmp_path: Path) -> None:
    from dataclasses import replace
    from datetime import timedelta

    from chevet.app.signalement import filing, reports
    from chevet.app.signalement.files import IncomingFile
    from chevet.core.signalement.report import ReportStatus
    from tests.media_samples import pdf
    from tests.signalement_support import ehpad, fall

    svc = installation.services
    use_clock(svc)
    e = await ehpad(svc)
    gone = await filing.file_report(svc, e.carer.actor, mode="named", **fall(svc.clock.now()),
                                     files=[IncomingFile("constat.pdf", pdf("Constat de chute"))])
    kept = await filing.file_report(svc, e.carer.actor, mode="confidential", **fall(svc.clock.now()),
                                     files=[IncomingFile("note.pdf", pdf("Note"))])
    async with svc.db.transaction() as tx:
        r = await tx.reports.get(e.org.id, gone.report_id)
        assert r is not None
        await tx.reports.save(replace(r, status=ReportStatus.CLOSED, closed_at=svc.clock.now()))
        gone_key = await tx.reports.wrapped_key(gone.report_id)
    assert gone_key is not None
    keys = tmp_path / "keys" / "chevet-keys.json"
    old_db = _backup(installation, tmp_path / "db1", keys)
    # No data key of any kind travels in the database backup; the key backup carries them.
    assert _key_rows_in(installation, old_db, "report_key") == 0
    assert _key_rows_in(installation, old_db, "conversation_key") == 0
    if installation.settings.database.url is None:
        assert gone_key not in old_db.read_bytes()
    first = orjson.loads(keys.read_bytes())
    assert {k["report_id"] for k in first["report_keys"]} == {str(gone.report_id), str(kept.report_id)}

    done = await retention.purge(svc, svc.clock.now() + timedelta(days=5 * 365 + 2))
    assert [x["report_id"] for x in done.reports] == [str(gone.report_id)]
    _backup(installation, tmp_path / "db2", keys)
    assert str(gone.report_id) not in keys.read_text()

    async with _target(installation, tmp_path) as (target_dir, target_url):
        restored = _restored(old_db, keys, target_dir, target_url, "0 conversation(s) and 1 report(s)")
        try:
            rsvc = restored.services
            async with rsvc.db.transaction() as tx:
                assert await tx.reports.get(e.org.id, gone.report_id) is None
                assert await tx.reports.files(gone.report_id) == []
            assert not [n for n in _files(restored.settings.blobs_path) if gone.report_id.hex in n]
            view = await reports.get_report(rsvc, e.quality.actor, kept.report_id)
            [att] = view["attachments"]
            d = await reports.download_file(rsvc, e.quality.actor, kept.report_id, uuid.UUID(str(att["id"])))
            assert b"".join([x async for x in d.body]) == pdf("Note")
        finally:
            await restored.close()


async def test_a_failed_restore_leaves_the_target_as_it_was(installation: Installation, tmp_path: Path) -> None:
    from chevet.app.messaging import conversations
    from chevet.bootstrap import write_key_backup
    from tests.support import new_installation

    svc = installation.services
    s = await scene(svc)
    await say(svc, s.manager, s.team, "Relève : RAS")
    keys = tmp_path / "keys" / "chevet-keys.json"
    db = _backup(installation, tmp_path / "db1", keys)
    # A key backup older than the database backup: what was created in between has no key in it.
    stale = tmp_path / "keys" / "stale.json"
    stale.write_bytes(keys.read_bytes())
    await conversations.create_conversation(svc, s.nurse.actor, kind="care_case", title="Suivi chambre 14",
                                            member_ids=[s.physician.id], care_case_ref="CH14-B")
    newer = _backup(installation, tmp_path / "db2", keys)
    truncated = tmp_path / "broken" / db.name
    truncated.parent.mkdir()
    truncated.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    # The key backup of another installation (other records, other master key) …
    other = await new_installation(tmp_path / "other", None)
    try:
        await scene(other.services)
        foreign = tmp_path / "keys" / "other-installation.json"
        await write_key_backup(other, foreign)
    finally:
        await other.close()
    # … and this one's keys with another master key: neither opens this database.
    doc = orjson.loads(keys.read_bytes())
    doc["master_key"] = other.settings.key_file.read_text()
    mixed = tmp_path / "keys" / "mixed.json"
    mixed.write_bytes(orjson.dumps(doc))

    async with _target(installation, tmp_path) as (target_dir, target_url):
        target_dir.mkdir()
        (target_dir / "chevet.toml").write_text('default_language = "fr"\n')
        before, around = _files(target_dir), sorted(p.name for p in tmp_path.iterdir())
        for bad_db, bad_keys, why in ((truncated, keys, "sauvegarde de la base"),
                                      (db, foreign, "ne correspond pas"), (db, mixed, "ne correspond pas"),
                                      (newer, stale, "plus ancienne")):
            r = _restore(bad_db, bad_keys, target_dir, target_url)
            assert r.returncode == 1, r.stdout
            assert why in r.stderr and "rien n'a été restauré" in r.stderr, r.stderr
            assert _files(target_dir) == before
            assert sorted(p.name for p in tmp_path.iterdir()) == around
            if target_url:
                assert await _pg_tables(target_url) == []
        restored = _restored(newer, keys, target_dir, target_url, "0 conversation(s) and 0 report(s)")
        try:
            page = await messages.history(restored.services, s.manager.actor, s.team)
            assert [m.get("body") for m in page if m.get("body")] == ["Relève : RAS"]
        finally:
            await restored.close()


async def test_a_restore_tells_the_witness_what_it_brings_back(installation: Installation, tmp_path: Path) -> None:
    """The server is rebuilt from last night's backup; its witness, on another volume, saw the
    trail go further. The restore writes the restored heads to the witness, signed: verify then
    holds the restored trail to them, not to what the restore knowingly lost."""
    svc = installation.services
    s = await scene(svc)
    await say(svc, s.nurse, s.care, "avant la sauvegarde")
    await audit_trail.checkpoint_all(svc)
    keys = tmp_path / "keys" / "chevet-keys.json"
    db = _backup(installation, tmp_path / "db1", keys)
    await say(svc, s.nurse, s.care, "après la sauvegarde")
    await audit_trail.checkpoint_all(svc)  # the witness now holds a longer chain than the backup
    witness = {"CHEVET_AUDIT__WITNESS_FILE": str(installation.settings.audit_witness)}
    async with _target(installation, tmp_path) as (target_dir, target_url):
        r = _restore(db, keys, target_dir, target_url, env=witness)
        assert r.returncode == 0, r.stderr
        last = parse_line(installation.settings.audit_witness.read_bytes().splitlines()[-1])
        assert last.kind == "restored" and s.org.id in {cp.chain for cp in last.checkpoints}
        v = _restore(db, keys, target_dir, target_url, "audit", "verify", env=witness)
        assert v.returncode == 0, v.stdout + v.stderr
        assert f"witness {installation.settings.audit_witness}: ok" in v.stdout

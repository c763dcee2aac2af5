"""Backups: a consistent database backup without conversation keys, and a separate key backup
that is replaced after every purge. Content shredded after a database backup cannot be
recovered from that backup when the key backup is handled as documented (docs/backup.md)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson

from chevet.app import messages, retention
from chevet.bootstrap import Installation, open_installation
from chevet.core.audit import INSTALLATION_CHAIN
from chevet.settings import load_settings
from tests.governance_support import cli, say, scene, use_clock
from tests.support import FAST_PASSWORDS, create_pg_database, drop_pg_database

SECRET = "Mme Quatrefages chute nocturne"


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
    if installation.settings.database_url is None:
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
    target_url = await create_pg_database() if installation.settings.database_url else None
    target_dir = tmp_path / "restored"
    env = {"CHEVET_DATABASE_URL": target_url} if target_url else {}
    try:
        r = subprocess.run([sys.executable, "-m", "chevet.cli.main", "restore", "--db", str(old_db), "--keys",
                            str(keys), "--data-dir", str(target_dir)], capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin", **env})
        assert r.returncode == 0, r.stderr
        assert "1 shredded after the backup were removed" in r.stdout
        restored = open_installation(load_settings(target_dir, environ={}, database_url=target_url, **FAST_PASSWORDS),
                                     with_bus=False)
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
            for path in target_dir.rglob("*"):
                if path.is_file():
                    assert SECRET.encode() not in path.read_bytes()
        # Restoring over an installation that holds data is refused.
        r = subprocess.run([sys.executable, "-m", "chevet.cli.main", "restore", "--db", str(old_db), "--keys",
                            str(keys), "--data-dir", str(target_dir)], capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin", **env})
        assert r.returncode == 1 and "empty" in r.stderr
    finally:
        if target_url:
            await drop_pg_database(target_url)


async def test_daily_job_purges_prunes_and_replaces_the_key_backup(installation: Installation, tmp_path: Path) -> None:
    from chevet.jobs.governance import run_retention_once

    svc = installation.services
    clock = use_clock(svc)
    s = await scene(svc)
    await retention.close_care_case(svc, s.nurse.actor, s.care)
    await retention.set_override(svc, s.nurse.actor, s.care, 30)
    target = tmp_path / "keys.json"
    job = Installation(installation.settings.model_copy(update={"key_backup_file": target}), svc)
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

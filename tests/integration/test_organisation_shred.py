"""An organisation leaving: ``chevet org shred`` refuses before an archive export and without the
slug typed again; then destroys its keys, so that nothing of it opens any more — in the running
installation, nor from a backup taken before — while the other organisation reads as before;
and prints a statement that openssl verifies with the installation's audit key."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chevet.app.governance import organisation_key_rotation as rotation
from chevet.app.messaging import messages
from chevet.app.signalement import filing
from chevet.bootstrap import Installation, open_installation
from chevet.core.audit import INSTALLATION_CHAIN
from chevet.core.entities import PersonStatus
from chevet.core.errors import Forbidden, IntegrityError
from chevet.ports.organisation_keys import DESTROYED
from chevet.settings import load_settings
from tests.governance_support import PASSPHRASE, cli, say, scene
from tests.signalement_support import fall
from tests.softhsm_support import SoftHsmToken
from tests.support import FAST_PASSWORDS, IN_CI, create_pg_database, drop_pg_database

SECRET = "Mme Lagrange a fait une chute dans la salle de bain"


def _openssl_verifies(folder: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("openssl") is None:
        if IN_CI:
            pytest.fail("openssl is required in CI")
        pytest.skip("openssl not installed")
    return subprocess.run(["openssl", "pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", "cle-audit.pem",
                           "-in", "attestation.txt", "-sigfile", "attestation.sig"], cwd=folder,
                          capture_output=True, text=True)


async def test_shred_after_export_leaves_the_other_organisation_and_no_way_back(installation: Installation,
                                                                               tmp_path: Path) -> None:
    svc = installation.services
    leaving, staying = await scene(svc), await scene(svc)
    await say(svc, leaving.nurse, leaving.care, SECRET)
    await say(svc, leaving.nurse, leaving.team, "Relève : RAS")
    await say(svc, staying.nurse, staying.team, "Nous restons")
    await filing.file_report(svc, leaving.nurse.actor, mode="named", **fall(svc.clock.now()))
    keys_file = tmp_path / "keys" / "chevet-keys.json"
    backup = cli(installation, "backup", "--out", str(tmp_path / "db-before"), "--keys-out", str(keys_file))
    assert backup.returncode == 0, backup.stderr
    [old_db] = list((tmp_path / "db-before").glob("chevet-db-*"))
    key_backup_before = keys_file.read_bytes()
    slug = leaving.org.slug
    env = {"CHEVET_KEYS__BACKUP_FILE": str(keys_file)}

    refused = cli(installation, "org", "shred", slug, "--confirm", slug, env=env)
    assert refused.returncode == 1 and "never exported" in refused.stderr, refused.stderr
    mistyped = cli(installation, "org", "shred", slug, "--confirm", staying.org.slug, "--without-export", env=env)
    assert mistyped.returncode == 2 and "nothing was destroyed" in mistyped.stderr
    assert all(k.state != DESTROYED for k in await svc.org_keys.refresh(leaving.org.id))

    exported = cli(installation, "export", "--org", slug, "--out", str(tmp_path / "leaving.chevet"),
                   env={"CHEVET_EXPORT_PASSPHRASE": PASSPHRASE})
    assert exported.returncode == 0, exported.stderr
    before = await rotation.count_by_version(svc, leaving.org.id)
    wrapped_before = [item async for _name, items in rotation.org_items(svc, leaving.org.id) for item in items]
    done = cli(installation, "org", "shred", slug, "--confirm", slug, "--out", str(tmp_path / "statement"), env=env)
    assert done.returncode == 0, done.stderr

    # The statement: printed, written apart, verified by openssl; its hash is on the installation chain.
    statement = (tmp_path / "statement" / "attestation.txt").read_text(encoding="utf-8")
    assert done.stdout.startswith(statement)
    assert f"Établissement : {leaving.org.name}" in statement and "heure de Paris (UTC+" in statement
    assert "- conversations : 3" in statement and "- signalements : 1" in statement
    assert int(re.search(r"- messages : (\d+)", statement)[1]) >= 2  # type: ignore[index]
    assert f"- clés de données supprimées : {sum(before.values())}" in statement
    assert "La sauvegarde des clés configurée a été réécrite" in statement
    verified = _openssl_verifies(tmp_path / "statement")
    assert verified.returncode == 0 and "Signature Verified Successfully" in verified.stdout, verified.stderr
    async with svc.db.transaction() as tx:
        [entry] = [e async for e in tx.audit.entries(INSTALLATION_CHAIN) if e.action == "organisation.shredded"]
    assert entry.object_id == leaving.org.id
    assert entry.detail["statement_sha256"] == hashlib.sha256(statement.encode("utf-8")).hexdigest()

    # In the running installation: no key left for it, nothing of it opens; the other reads.
    svc.org_keys.forget(leaving.org.id)
    rows = await svc.org_keys.refresh(leaving.org.id)
    assert rows and all(k.state == DESTROYED and k.wrapped is None for k in rows)
    assert await rotation.count_by_version(svc, leaving.org.id) == {}
    with pytest.raises(Forbidden) as refused_wrap:
        await svc.org_keys.wrap(leaving.org.id, b"\x00" * 32, b"probe")  # never silently re-keyed
    assert refused_wrap.value.code == "organisation_shredded"
    for item in wrapped_before[:3]:  # a data key kept from before: a clear refusal, not a 500
        with pytest.raises(Forbidden) as refused_read:
            await svc.org_keys.unwrap(leaving.org.id, item.blob, item.aad)
        assert refused_read.value.code == "organisation_shredded"
    # Its people can no longer sign in, and every session they had is ended.
    async with svc.db.transaction() as tx:
        for member in (leaving.nurse, leaving.physician, leaving.manager, leaving.dpo):
            person = await tx.people.get(leaving.org.id, member.actor.id)
            assert person is not None and person.status == PersonStatus.DEACTIVATED
            assert all(s.revoked_at is not None for s in await tx.sessions.for_person(member.actor.id))
        kept = await tx.people.get(staying.org.id, staying.nurse.actor.id)
        assert kept is not None and kept.status == PersonStatus.ACTIVE
    page = await messages.history(svc, staying.nurse.actor, staying.team)
    assert [m.get("body") for m in page if m.get("body")] == ["Nous restons"]

    # The key backup was rewritten without it.
    current = keys_file.read_bytes()
    assert current != key_backup_before and str(leaving.care).encode() not in current
    assert str(staying.team).encode() in current

    # The database backup taken before, restored with the current key backup: the leaving
    # organisation's content is gone, the other's reads.
    url = await create_pg_database() if installation.settings.database.url else None
    target = tmp_path / "restored"
    try:
        restored = subprocess.run([sys.executable, "-m", "chevet.cli.main", "restore", "--db", str(old_db),
                                   "--keys", str(keys_file), "--data-dir", str(target)],
                                  capture_output=True, text=True,
                                  env={"PATH": "/usr/bin:/bin", **({"CHEVET_DATABASE_URL": url} if url else {})})
        assert restored.returncode == 0, restored.stderr
        removed = "3 conversation(s) and 1 report(s) shredded after the backup were removed"
        assert removed in restored.stdout, restored.stdout
        back = open_installation(load_settings(target, environ={}, database__url=url, **FAST_PASSWORDS),
                                 with_bus=False)
        try:
            async with back.services.db.transaction() as tx:
                assert await tx.conversations.get(leaving.org.id, leaving.care) is None
            page = await messages.history(back.services, staying.nurse.actor, staying.team)
            assert [m.get("body") for m in page if m.get("body")] == ["Nous restons"]
        finally:
            await back.close()
        if url is None:
            for path in target.rglob("*"):
                if path.is_file():
                    assert SECRET.encode() not in path.read_bytes(), path
    finally:
        if url:
            await drop_pg_database(url)


async def test_a_token_key_destroyed_leaves_even_the_old_key_backup_useless(tmp_path: Path, database_url: str | None,
                                                                           softhsm_token: SoftHsmToken) -> None:
    """The worst case the token answers: someone kept the database AND the key backup from before
    the shredding and puts their rows back. The organisation's key was destroyed on the token:
    its data keys still do not open."""
    from sqlalchemy import insert

    from chevet.adapters.backup import key_backup, read_key_backup
    from chevet.adapters.db.database import SqlDatabase
    from chevet.adapters.db.schema import conversation_key
    from chevet.adapters.db.schema_keys import organisation_key
    from chevet.app.governance import organisation_shred
    from chevet.ports.organisation_keys import OrganisationKeyUnavailable
    from tests.support import new_installation

    inst = await new_installation(tmp_path / "data", database_url, **softhsm_token.settings())
    try:
        svc = inst.services
        leaving = await scene(svc)
        await say(svc, leaving.nurse, leaving.care, SECRET)
        moved = await rotation.rotate(svc, leaving.org.id, rotation.Target("pkcs11", softhsm_token.name), grace=0)
        assert moved.done
        [on_token] = [k for k in await svc.org_keys.refresh(leaving.org.id) if k.state != DESTROYED]
        label = on_token.reference.split("/", 1)[1]
        old = tmp_path / "old-keys.json"
        db = svc.db
        assert isinstance(db, SqlDatabase)
        old.write_bytes(await key_backup(db, inst.settings.key_file, inst.settings.audit_key, svc.clock.now()))

        shredded = await organisation_shred.shred(svc, leaving.org, without_export=True)
        # The token's words, with its serial (the exact serial is the provider's own test).
        assert label in shredded.statement and f"sur le jeton {softhsm_token.label}" in shredded.statement
        assert "numéro de série" in shredded.statement
        assert label not in softhsm_token.pkcs11_tool("--list-objects", "--type", "secrkey")

        kept = read_key_backup(old)
        async with svc.db.transaction() as tx:  # the old rows put back, as a restore would
            from sqlalchemy import delete

            await tx.conn.execute(delete(organisation_key).where(organisation_key.c.org_id == leaving.org.id))
            await tx.conn.execute(insert(organisation_key),
                                  [k for k in kept["organisation_keys"] if k["org_id"] == leaving.org.id])
            await tx.conn.execute(insert(conversation_key), [{"conversation_id": leaving.care,
                                                              "wrapped": kept["conversation_keys"][leaving.care]}])
        svc.org_keys.forget(leaving.org.id)
        with pytest.raises((IntegrityError, OrganisationKeyUnavailable)):
            await svc.unwrap_key(leaving.org.id, leaving.care, kept["conversation_keys"][leaving.care])
    finally:
        await inst.close()

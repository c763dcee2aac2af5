"""Console operations (export, import, backup as background jobs): a job runs to done with its
progress rising, produces the same archive as ``chevet export`` and that archive imports into
another installation through the console; a job whose runner died is taken up again, then failed
in words; only the roles that may start a kind may start it or download its file, only after a
recent authentication; every start and download is audited."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from sqlalchemy import update

from chevet.adapters.db.schema_identity import session_auth
from chevet.app.archive import archive
from chevet.app.governance import operations as ops
from chevet.app.messaging import messages
from chevet.bootstrap import Installation, open_installation
from chevet.bootstrap.operation_files import input_path
from chevet.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chevet.core.operation import LEASE, OperationKind, OperationState
from chevet.jobs import operations as runner
from chevet.settings import load_settings
from tests.governance_support import PASSPHRASE, cli, say, scene, use_clock
from tests.support import (
    FAST_PASSWORDS,
    Server,
    create_pg_database,
    drop_pg_database,
    login,
    new_installation,
    new_member,
    new_org,
)


async def _audit_actions(installation: Installation, org_id: uuid.UUID) -> list[str]:
    async with installation.services.db.transaction() as tx:
        return [e.action async for e in tx.audit.entries(org_id)]


def _data_files(files: dict[str, bytes]) -> dict[str, bytes]:
    """What the organisation is made of (the audit chain and the index page differ by the export itself)."""
    return {p: d for p, d in files.items() if p.startswith(("data/", "schema/", "html/c/", "attachments/"))
            and p != "data/organisation.jsonl"} | {"README.txt": files["README.txt"]}


class Recording(runner.Tracker):
    made: ClassVar[list[runner.Tracker]] = []

    def __init__(self, kind: OperationKind) -> None:
        super().__init__(kind)
        Recording.made.append(self)


async def test_export_runs_to_done_with_rising_progress_same_as_cli_and_imports_elsewhere(
        installation: Installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None) -> None:
    svc = installation.services
    s = await scene(svc)
    for n in range(6):
        await say(svc, s.nurse, s.care, f"Transmission {n}")
    admin = await new_member(svc, s.org, "admin", "Alice Admin")
    monkeypatch.setattr(runner, "Tracker", Recording)
    Recording.made.clear()

    started = await ops.start(svc, admin.actor, OperationKind.EXPORT, PASSPHRASE)
    assert started.state is OperationState.QUEUED
    [queued] = await ops.operations(svc, admin.actor)
    assert queued.requested_by == "Alice Admin" and queued.percent == 0
    ran = await runner.run_once(installation)
    assert ran is not None and ran.id == started.id
    [done] = await ops.operations(svc, admin.actor)
    assert done.state is OperationState.DONE and done.percent == 100 and done.downloadable
    assert done.result_bytes and done.expires_at == done.finished_at + timedelta(days=7)  # type: ignore[operator]
    seen = Recording.made[0].seen
    assert len(seen) >= 3 and seen == sorted(seen) and seen[-1] == runner.SCALE, seen

    got = await ops.download(svc, admin.actor, done.id)  # a command-line actor: no session to re-check
    produced = runner.folder(installation) / got.stored_name
    assert produced.stat().st_size == got.size and produced.stat().st_mode & 0o077 == 0
    with produced.open("rb") as fh:
        console_files = archive.read_archive(fh, passphrase=PASSPHRASE)
    out = tmp_path / "cli.chevet"
    r = cli(installation, "export", "--org", s.org.slug, "--out", str(out),
            env={"CHEVET_EXPORT_PASSPHRASE": PASSPHRASE})
    assert r.returncode == 0, r.stderr
    with out.open("rb") as fh:
        cli_files = archive.read_archive(fh, passphrase=PASSPHRASE)
    assert _data_files(console_files) == _data_files(cli_files)
    actions = await _audit_actions(installation, s.org.id)
    assert {"operation.started", "operation.done", "operation.downloaded", "organisation.exported"} <= set(actions)

    # The console's archive imports into another installation, through that one's console.
    other = await new_installation(tmp_path / "other", None)
    try:
        host = await new_org(other.services)
        host_admin = await new_member(other.services, host, "admin", "Hugo Hôte")
        target = input_path(other.settings, "upload")
        target.write_bytes(produced.read_bytes())
        imported = await ops.start(other.services, host_admin.actor, OperationKind.IMPORT, PASSPHRASE,
                                   input_name=target.name, input_bytes=target.stat().st_size)
        target.rename(input_path(other.settings, imported.id))
        await runner.run_once(other)
        [view] = await ops.operations(other.services, host_admin.actor)
        assert view.state is OperationState.DONE, view.error
        assert not view.downloadable and not input_path(other.settings, imported.id).exists()
        async with other.services.db.transaction() as tx:
            org = await tx.organisations.by_slug(s.org.slug)
            assert org is not None and len(await tx.archive.people(org.id)) == 5

        # The same archive again: refused in words, nothing imported twice.
        again = input_path(other.settings, "again")
        again.write_bytes(produced.read_bytes())
        second = await ops.start(other.services, host_admin.actor, OperationKind.IMPORT, PASSPHRASE,
                                 input_name=again.name, input_bytes=again.stat().st_size)
        again.rename(input_path(other.settings, second.id))
        await runner.run_once(other)
        latest = (await ops.operations(other.services, host_admin.actor))[0]
        assert latest.state is OperationState.FAILED and latest.error == "import_organisation_exists"
    finally:
        await other.close()


async def test_an_interrupted_job_is_taken_up_again_then_failed_in_words(installation: Installation) -> None:
    svc = installation.services
    clock = use_clock(svc)
    s = await scene(svc)
    admin = await new_member(svc, s.org, "admin")
    started = await ops.start(svc, admin.actor, OperationKind.EXPORT, PASSPHRASE)
    dead = await ops.claim(svc)  # a runner takes it, then its process is killed
    assert dead is not None and dead.operation.id == started.id
    assert await runner.run_once(installation) is None  # its lease still holds: nobody else runs it
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert await runner.run_once(installation) is not None  # taken up again, from the start
    [view] = await ops.operations(svc, admin.actor)
    assert view.state is OperationState.DONE
    assert not await ops.succeed(svc, dead.operation, None, None, 1)  # the dead runner can change nothing now
    assert "operation.resumed" in await _audit_actions(installation, s.org.id)

    again = await ops.start(svc, admin.actor, OperationKind.EXPORT, PASSPHRASE)
    for _ in range(2):  # killed twice
        assert await ops.claim(svc) is not None
        clock.advance(seconds=LEASE.total_seconds() + 1)
    assert await runner.run_once(installation) is not None
    latest = next(v for v in await ops.operations(svc, admin.actor) if v.id == again.id)
    assert latest.state is OperationState.FAILED and latest.error == "operation_interrupted"
    async with svc.db.transaction() as tx:
        row = await tx.operations.get(s.org.id, again.id)
    assert row is not None and row.secret_sealed is None  # the passphrase is gone with the job


async def test_who_may_start_see_and_download(installation: Installation) -> None:
    svc = installation.services
    s = await scene(svc)
    admin = await new_member(svc, s.org, "admin")
    director = await new_member(svc, s.org, "director")
    with pytest.raises(Forbidden):
        await ops.start(svc, s.nurse.actor, OperationKind.EXPORT, PASSPHRASE)
    with pytest.raises(Forbidden):
        await ops.operations(svc, s.nurse.actor)
    with pytest.raises(Forbidden):
        await ops.start(svc, director.actor, OperationKind.EXPORT, PASSPHRASE)
    for kind in (OperationKind.BACKUP, OperationKind.IMPORT):
        with pytest.raises(Forbidden):
            await ops.start(svc, s.dpo.actor, kind, PASSPHRASE)
    with pytest.raises(InvalidInput):
        await ops.start(svc, admin.actor, OperationKind.EXPORT, "court")
    exported = await ops.start(svc, s.dpo.actor, OperationKind.EXPORT, PASSPHRASE)
    await runner.run_once(installation)
    assert (await ops.download(svc, admin.actor, exported.id)).size > 0
    other = await new_org(svc)
    stranger = await new_member(svc, other, "admin")
    with pytest.raises(NotFound):  # another organisation's admin does not even see it
        await ops.download(svc, stranger.actor, exported.id)
    assert await ops.operations(svc, stranger.actor) == []
    # Two organisations in this installation: its backup is the operator's.
    with pytest.raises(Exception) as refused:
        await ops.start(svc, admin.actor, OperationKind.BACKUP, PASSPHRASE)
    assert getattr(refused.value, "code", None) == "operation_backup_shared"


async def test_backup_of_a_single_organisation_installation(installation: Installation, tmp_path: Path) -> None:
    svc = installation.services
    s = await scene(svc)
    await say(svc, s.nurse, s.care, "Pansement refait")
    async with svc.db.transaction() as tx:
        assert len(await tx.organisations.all()) == 1
    admin = await new_member(svc, s.org, "admin")
    started = await ops.start(svc, admin.actor, OperationKind.BACKUP, PASSPHRASE)
    await runner.run_once(installation)
    [view] = await ops.operations(svc, admin.actor)
    assert view.state is OperationState.DONE, view.error
    got = await ops.download(svc, admin.actor, started.id)
    import io
    import tarfile

    from chevet.core.sealed_archive import decrypt_chunks
    with (runner.folder(installation) / got.stored_name).open("rb") as fh:
        plain = b"".join(decrypt_chunks(fh, passphrase=PASSPHRASE))
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as tar:
        names = tar.getnames()
    assert any(n.startswith("chevet-db-") for n in names)


async def test_a_console_backup_restores_with_the_operators_tools(installation: Installation,
                                                                  tmp_path: Path) -> None:
    """What docs/administration.md promises the administrator: the downloaded backup opens with
    `chevet archive extract`, and with the operator's key backup `chevet restore` brings the
    organisation back, its messages readable."""
    svc = installation.services
    s = await scene(svc)
    await say(svc, s.nurse, s.care, "Pansement refait à 14 h")
    admin = await new_member(svc, s.org, "admin")
    started = await ops.start(svc, admin.actor, OperationKind.BACKUP, PASSPHRASE)
    await runner.run_once(installation)
    got = await ops.download(svc, admin.actor, started.id)
    keys = tmp_path / "keys.json"
    assert cli(installation, "backup", "--keys-only", "--keys-out", str(keys)).returncode == 0
    opened = tmp_path / "opened"
    r = cli(installation, "archive", "extract", str(runner.folder(installation) / got.stored_name), "--to",
            str(opened), env={"CHEVET_EXPORT_PASSPHRASE": PASSPHRASE}, data_dir=False)
    assert r.returncode == 0, r.stderr
    [db] = list(opened.glob("chevet-db-*"))
    target_url = await create_pg_database() if installation.settings.database.url else None
    try:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **({"CHEVET_DATABASE_URL": target_url}
                                                                   if target_url else {})}
        # No --blobs: the minimum the docs ask; restore finds the files' folder beside the database.
        r = subprocess.run([sys.executable, "-m", "chevet.cli.main", "restore", "--db", str(db), "--keys", str(keys),
                            "--data-dir", str(tmp_path / "restored")],
                           capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        restored = open_installation(load_settings(tmp_path / "restored", environ={}, database__url=target_url,
                                                   **FAST_PASSWORDS), with_bus=False)
        try:
            page = await messages.history(restored.services, s.nurse.actor, s.care)
            assert "Pansement refait à 14 h" in [m.get("body") for m in page]
        finally:
            await restored.close()
    finally:
        if target_url:
            await drop_pg_database(target_url)


async def test_expired_files_are_deleted(installation: Installation) -> None:
    svc = installation.services
    clock = use_clock(svc)
    s = await scene(svc)
    admin = await new_member(svc, s.org, "admin")
    started = await ops.start(svc, admin.actor, OperationKind.EXPORT, PASSPHRASE)
    await runner.run_once(installation)
    produced = runner.folder(installation) / f"{started.id}.chevet"
    assert produced.exists()
    clock.advance(days=7, seconds=1)
    await runner.sweep(installation)
    assert not produced.exists()
    [view] = await ops.operations(svc, admin.actor)
    assert view.state is OperationState.EXPIRED and not view.downloadable
    with pytest.raises(Conflict):
        await ops.download(svc, admin.actor, started.id)


def _csrf(html: str) -> str:
    import re
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


async def test_the_page_starts_an_export_and_downloads_only_after_reauthentication(
        installation: Installation, server: Server) -> None:
    svc = installation.services
    s = await scene(svc)
    admin = await new_member(svc, s.org, "admin", "Alice Admin")
    token = login(server.url, admin)
    with httpx.Client(base_url=server.url, cookies={"chevet_session": token}) as web:
        page = web.get("/gouvernance/travaux")
        assert page.status_code == 200 and "Lancer l&#39;export" in page.text
        bad = web.post("/gouvernance/travaux/export", data={"csrf": _csrf(page.text), "passphrase": PASSPHRASE,
                                                             "passphrase_again": "autre chose encore"})
        assert bad.status_code == 422 and "ne sont pas identiques" in bad.text
        r = web.post("/gouvernance/travaux/export", data={"csrf": _csrf(page.text), "passphrase": PASSPHRASE,
                                                           "passphrase_again": PASSPHRASE})
        assert r.status_code == 303
        deadline = time.monotonic() + 60
        rows: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            rows = web.get("/gouvernance/travaux/etat", headers={"Accept": "application/json"}).json()["operations"]
            if rows and rows[0]["state"] == "done":
                break
            time.sleep(0.5)
        assert rows[0]["state_text"].startswith("Terminé") and rows[0]["download"], rows
        async with svc.db.transaction() as tx:  # as if the sign-in were two hours old
            await tx.conn.execute(update(session_auth).values(  # type: ignore[attr-defined]
                authenticated_at=svc.clock.now() - timedelta(hours=2)))
        refused = web.get(rows[0]["download"])
        assert refused.status_code == 303 and refused.headers["location"].startswith("/compte/confirmer?next=")
        assert "operation.downloaded" not in await _audit_actions(installation, s.org.id)
    fresh = login(server.url, admin, offset_steps=1)
    with httpx.Client(base_url=server.url, cookies={"chevet_session": fresh}) as web:
        got = web.get(rows[0]["download"])
        assert got.status_code == 200 and got.content.startswith(b"CHEVET-ARCHIVE-1\n")
        assert "attachment" in got.headers["content-disposition"]
    assert "operation.downloaded" in await _audit_actions(installation, s.org.id)
    nurse = login(server.url, s.nurse)
    with httpx.Client(base_url=server.url, cookies={"chevet_session": nurse}) as web:
        assert web.get("/gouvernance/travaux").status_code == 403
        assert web.get(rows[0]["download"]).status_code in (403, 404)


async def test_a_two_megabyte_archive_uploads_through_the_page(installation: Installation, server: Server) -> None:
    """The general request limit is for JSON: the import form takes an archive of the console's own limit."""
    svc = installation.services
    s = await scene(svc)
    admin = await new_member(svc, s.org, "admin", "Alice Admin")
    token = login(server.url, admin)
    with httpx.Client(base_url=server.url, cookies={"chevet_session": token}) as web:
        page = web.get("/gouvernance/travaux")
        archive_bytes = b"CHEVET-ARCHIVE-1\n" + os.urandom(2 * 1024 * 1024)
        r = web.post("/gouvernance/travaux/import", data={"csrf": _csrf(page.text), "passphrase": PASSPHRASE},
                     files={"file": ("sauvegarde.chevet", archive_bytes, "application/octet-stream")})
        assert r.status_code == 303, r.text[:300]
    [started] = await ops.operations(svc, admin.actor)
    assert started.kind is OperationKind.IMPORT and started.input_bytes == len(archive_bytes)

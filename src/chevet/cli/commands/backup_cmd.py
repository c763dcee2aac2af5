"""``chevet backup``: a consistent online backup — the database without any data key, the
blobs, and the key material in a separate file (docs/backup.md)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from chevet.app.governance import audit
from chevet.bootstrap import BackupError, Installation, backup_database, write_key_backup
from chevet.cli.support import DataDir, fail, run, settings_for
from chevet.web.i18n import gettext

NAME = "backup"
app = typer.Typer(help="Back up the installation.", invoke_without_command=True)


@app.callback()
def backup(keys_out: Annotated[Path, typer.Option("--keys-out", help="Key backup file to write or REPLACE "
                                                  "(keep it apart from database backups)")],
           out: Annotated[Path | None, typer.Option(help="Folder for the database backup (and blobs)")] = None,
           keys_only: Annotated[bool, typer.Option("--keys-only", help="Only refresh the key backup "
                                                   "(after a retention run)")] = False,
           data_dir: DataDir = None) -> None:
    """Database (SQLite: VACUUM INTO; PostgreSQL: pg_dump) without data keys, blobs, and
    the current key material in --keys-out."""
    settings = settings_for(data_dir)
    if keys_only:
        count = run(lambda i: _keys(i, keys_out), settings)
        typer.echo(f"key backup ({count} conversation keys): {keys_out}")
        return
    if out is None:
        raise fail("--out is required (or --keys-only)", 2)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "sqlite" if settings.database_in_use.startswith("sqlite") else "pgdump"
    db_file = out / f"chevet-db-{stamp}.{suffix}"
    if keys_out.resolve().is_relative_to(out.resolve()):
        raise fail("--keys-out must not be inside the database backup folder", 2)

    async def go(i: Installation) -> int:
        try:
            backup_database(settings, db_file)
            blobs = settings.data_dir / "blobs"
            if blobs.is_dir():
                shutil.copytree(blobs, out / f"chevet-blobs-{stamp}")
            count = await write_key_backup(i, keys_out)
        except BackupError as exc:
            raise fail(gettext(exc.code, settings.default_language, **exc.params)) from exc
        await audit.record_installation_act(i.services, "backup.created", database=db_file.name,
                                            conversation_keys=count)
        await audit.record_installation_act(i.services, "key.backup_written", scheduled=False)
        return count

    count = run(go, settings)
    typer.echo(f"database backup: {db_file}\nkey backup ({count} conversation keys): {keys_out}\n"
               "Keep the key backup apart from database backups and replace it, never archive it: "
               "see docs/backup.md.")
    if settings.blobs.backend == "s3":
        typer.echo(f"attachments are kept in the object store (bucket {settings.blobs.bucket}): this backup "
                   "does not copy them; protect the bucket itself (versioning, replication): "
                   "see docs/object-storage.md, Backups.", err=True)


async def _keys(i: Installation, keys_out: Path) -> int:
    try:
        count = await write_key_backup(i, keys_out)
    except BackupError as exc:
        raise fail(gettext(exc.code, i.settings.default_language, **exc.params)) from exc
    await audit.record_installation_act(i.services, "key.backup_written", scheduled=False)
    return count

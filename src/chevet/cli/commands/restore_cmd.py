"""``chevet restore``: a database backup plus the current key backup into an empty installation,
all or nothing (docs/backup.md)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from chevet.app.governance import retention, witnessing
from chevet.bootstrap import BackupError, migrate, open_installation, read_key_backup
from chevet.bootstrap import restore as restore_backup
from chevet.cli.support import DataDir, fail, settings_for
from chevet.core.errors import ChevetError
from chevet.settings import Settings, SettingsError
from chevet.web.i18n import gettext

NAME = "restore"
app = typer.Typer(help="Restore a backup.", invoke_without_command=True)


def _blobs_beside(db: Path) -> Path | None:
    """``chevet backup`` writes ``chevet-blobs-<time>`` next to ``chevet-db-<time>.*``."""
    stamp = db.name.removeprefix("chevet-db-").rsplit(".", 1)[0]
    candidate = db.parent / f"chevet-blobs-{stamp}"
    return candidate if db.name.startswith("chevet-db-") and candidate.is_dir() else None


@app.callback()
def restore(db: Annotated[Path, typer.Option("--db", help="Database backup file")],
            keys: Annotated[Path, typer.Option("--keys", help="The current key backup")],
            blobs: Annotated[Path | None, typer.Option("--blobs", help="Blob folder of that backup (default: "
                                                       "the chevet-blobs-<time> folder next to it)")] = None,
            data_dir: DataDir = None) -> None:
    """Restore into an empty installation (a new folder, or a new empty PostgreSQL database),
    without `chevet init`. Whatever was shredded after the database backup (its key is no longer
    in the key backup) is removed the way retention removes it. Nothing is kept on failure."""
    settings = settings_for(data_dir)
    lang = settings.default_language
    made_dir = not settings.data_dir.exists()
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    async def migrated(url: str) -> None:
        await migrate(settings.replace(database__url=url))

    async def finish(url: str, blob_dir: Path) -> retention.RestoreReport:
        staged = _staged(settings, url, blob_dir)
        installation = open_installation(staged, with_bus=False)
        try:
            done = await retention.finish_restore(installation.services, database=db.name,
                                                  keys_written_at=_written_at(key_doc))
            await witnessing.after_restore(installation.services)
            return done
        finally:
            await installation.close()

    try:
        key_doc = read_key_backup(keys)
        done = asyncio.run(restore_backup(settings, db, key_doc, blobs or _blobs_beside(db), migrated, finish))
    except (BackupError, ChevetError, SettingsError) as exc:
        if made_dir and not any(settings.data_dir.iterdir()):
            settings.data_dir.rmdir()
        said = str(exc) if isinstance(exc, SettingsError) else gettext(exc.code, lang, **exc.params)
        raise fail(said + " — " + gettext("restore_nothing_done", lang)) from exc
    typer.echo(f"restored {done.conversations} conversation(s); "
               f"{len(done.shredded_conversations)} conversation(s) and {len(done.shredded_reports)} report(s) "
               "shredded after the backup were removed")


def _written_at(key_doc: dict[str, Any]) -> datetime | None:
    try:
        at = datetime.fromisoformat(str(key_doc.get("created_at")))
    except ValueError:
        return None
    return at if at.tzinfo else None


def _staged(settings: Settings, url: str, blob_dir: Path) -> Settings:
    return settings.replace(database__url=url, attachments__blob_dir=blob_dir)

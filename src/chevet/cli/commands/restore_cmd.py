"""``chevet restore``: a database backup plus the current key backup into an empty installation."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from chevet.bootstrap import BackupError, Installation, migrate, read_key_backup
from chevet.bootstrap import restore as restore_database
from chevet.cli.support import DataDir, fail, run, settings_for

NAME = "restore"
app = typer.Typer(help="Restore a backup.", invoke_without_command=True)


@app.callback()
def restore(db: Annotated[Path, typer.Option("--db", help="Database backup file")],
            keys: Annotated[Path, typer.Option("--keys", help="The current key backup")],
            data_dir: DataDir = None) -> None:
    """Restore into an empty installation (after `chevet init` on a new folder or database).
    Conversations shredded after the database backup stay unreadable and are removed."""
    settings = settings_for(data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        key_doc = read_key_backup(keys)
        restored = asyncio.run(restore_database(settings.database, db, key_doc, settings.key_file,
                                                settings.audit_key, settings.vapid_key_file))
        asyncio.run(migrate(settings))
    except BackupError as exc:
        raise fail(str(exc)) from exc

    async def go(i: Installation) -> None:
        async with i.services.unit() as u:
            for cid in await u.tx.retention.conversations_without_key():
                await u.tx.retention.shred_conversation(cid)
            await u.audit(None, "backup.restored", None, "installation", None, database=db.name,
                          conversations=restored.conversations, shredded_after_backup=len(restored.shredded))

    run(go, settings)
    typer.echo(f"restored {restored.conversations} conversations; {len(restored.shredded)} shredded after "
               "the backup were removed")

"""Consistent online backups: the database without its conversation keys, and the key material
in a separate file.

Why apart: crypto-shredding destroys a conversation's wrapped data key. If database backups
carried the wrapped keys, every old backup would still open shredded content (the master key
never changes). So database backups never contain ``conversation_key`` rows; the keys go to a
key backup that is *replaced*, never accumulated, and is rewritten after every purge. An old
database backup restored with the current key backup opens only what is still alive.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import insert, inspect, select
from sqlalchemy.engine import Connection

from chevet.adapters.db.database import SqlDatabase
from chevet.adapters.db.schema import conversation, conversation_key

KEY_BACKUP_FORMAT = "chevet-key-backup-1"
KEY_INSTRUCTIONS = ("Chevet key backup (master key, audit signing key, Web Push key, wrapped conversation "
                    "keys). Secret: it opens every conversation still alive. Keep exactly one "
                    "current copy, apart from database backups (another medium, another place, restricted "
                    "access); replace it after each retention run; never archive old copies, or shredded "
                    "conversations become readable again from old database backups. See docs/backup.md.")


class BackupError(Exception):
    pass


def sqlite_path(url: str) -> Path:
    return Path(url.split("///", 1)[1])


def pg_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def backup_database(database_url: str, out: Path) -> None:
    """SQLite: ``VACUUM INTO`` (a consistent snapshot while the server runs), then the keys are
    removed from the copy and the copy rebuilt so no freed page keeps them. PostgreSQL:
    ``pg_dump`` in custom format, without the key table's data."""
    if out.exists():
        raise BackupError(f"{out} exists: choose a new file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    if database_url.startswith("sqlite"):
        src = sqlite3.connect(sqlite_path(database_url))
        try:
            src.execute("VACUUM INTO ?", (str(out),))
        finally:
            src.close()
        os.chmod(out, 0o600)
        copy = sqlite3.connect(out)
        try:
            copy.execute("PRAGMA secure_delete = ON")
            copy.execute("DELETE FROM conversation_key")
            copy.commit()
            copy.execute("VACUUM")
        finally:
            copy.close()
        return
    # Fixed argv; pg_dump comes from Debian's PostgreSQL client tools on PATH.
    argv = ["pg_dump", "--format=custom", "--no-owner", "--exclude-table-data=conversation_key", "--file", str(out),
            pg_url(database_url)]
    result = subprocess.run(argv, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    os.chmod(out, 0o600)


def _read_optional(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


async def key_backup(db: SqlDatabase, master_key_file: Path, audit_key_file: Path, at: datetime,
                     vapid_key_file: Path | None = None) -> bytes:
    master = await asyncio.to_thread(master_key_file.read_text)
    audit = await asyncio.to_thread(_read_optional, audit_key_file)
    vapid = await asyncio.to_thread(_read_optional, vapid_key_file) if vapid_key_file else None
    async with db.transaction() as tx:
        rows = await tx.conn.execute(select(conversation_key).order_by(conversation_key.c.conversation_id))
        keys = [{"conversation_id": str(r.conversation_id), "wrapped": base64.b64encode(bytes(r.wrapped)).decode()}
                for r in rows]
    doc: dict[str, Any] = {"format": KEY_BACKUP_FORMAT, "created_at": at.isoformat(), "instructions": KEY_INSTRUCTIONS,
                           "master_key": master, "audit_key": audit, "vapid_key": vapid,
                           "conversation_keys": keys}
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2)


async def write_key_backup(db: SqlDatabase, master_key_file: Path, audit_key_file: Path, out: Path,
                           at: datetime, vapid_key_file: Path | None = None) -> int:
    data = await key_backup(db, master_key_file, audit_key_file, at, vapid_key_file)
    await asyncio.to_thread(_write_private, out, data)
    return len(orjson.loads(data)["conversation_keys"])


def read_key_backup(path: Path) -> dict[str, Any]:
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise BackupError(f"{path}: not a readable key backup") from exc
    if not isinstance(doc, dict) or doc.get("format") != KEY_BACKUP_FORMAT:
        raise BackupError(f"{path}: not a Chevet key backup")
    return doc


async def _is_empty(db: SqlDatabase) -> bool:
    async with db.engine.connect() as conn:
        def check(sync: Connection) -> bool:
            tables = inspect(sync).get_table_names()
            if "organisation" not in tables:
                return True
            return sync.execute(select(conversation.c.id).limit(1)).first() is None and \
                sync.exec_driver_sql("SELECT 1 FROM organisation LIMIT 1").first() is None
        return await conn.run_sync(check)


@dataclass(frozen=True, slots=True)
class Restored:
    conversations: int
    shredded: list[str]


def _restore_key_file(path: Path, content: str | None) -> None:
    if content is None:
        return
    if path.exists():
        if path.read_text() != content:
            raise BackupError(f"{path} exists and differs from the key backup: restore into a new installation")
        return
    _write_private(path, content.encode())


def _copy_in(database_url: str, db_backup: Path) -> None:
    if not db_backup.is_file():
        raise BackupError(f"{db_backup}: no such file")
    if database_url.startswith("sqlite"):
        target = sqlite_path(database_url)
        for suffix in ("", "-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        shutil.copyfile(db_backup, target)
        os.chmod(target, 0o600)
        return
    result = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error",  # noqa: S603, S607 - fixed argv
                             "--single-transaction", "--dbname", pg_url(database_url), str(db_backup)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()}")


async def restore(database_url: str, db_backup: Path, keys: dict[str, Any], master_key_file: Path,
                  audit_key_file: Path, vapid_key_file: Path | None = None) -> Restored:
    """Into an empty installation only: the database backup, then the key material. Conversations
    whose key is not in the key backup were shredded after the database backup: they stay
    unreadable and are returned so the caller can finish their removal."""
    db = SqlDatabase(database_url)
    try:
        if not await _is_empty(db):
            raise BackupError("the target installation already holds data: restore into an empty one")
    finally:
        await db.close()
    await asyncio.to_thread(_restore_key_file, master_key_file, keys.get("master_key"))
    await asyncio.to_thread(_restore_key_file, audit_key_file, keys.get("audit_key"))
    if vapid_key_file is not None:  # browsers' push subscriptions depend on it
        await asyncio.to_thread(_restore_key_file, vapid_key_file, keys.get("vapid_key"))
    await asyncio.to_thread(_copy_in, database_url, db_backup)
    db = SqlDatabase(database_url)
    try:
        wrapped = {k["conversation_id"]: base64.b64decode(k["wrapped"]) for k in keys.get("conversation_keys", [])}
        async with db.transaction() as tx:
            present = [r[0] for r in await tx.conn.execute(select(conversation.c.id))]
            alive = [c for c in present if str(c) in wrapped]
            if alive:
                await tx.conn.execute(insert(conversation_key), [
                    {"conversation_id": c, "wrapped": wrapped[str(c)]} for c in alive])
        return Restored(len(alive), [str(c) for c in present if str(c) not in wrapped])
    finally:
        await db.close()

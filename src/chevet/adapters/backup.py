"""Consistent online backups: the database without any data key, and the key material in a
separate file; and the all-or-nothing restore of the two.

Why apart: crypto-shredding destroys a record's wrapped data key (a conversation's, a
signalement report's). If database backups carried the wrapped keys, every old backup would
still open shredded content (the master key never changes). So database backups hold no row of
any data-key table (every column registered as wrapped by the master key in
``db/sealed.py``); the keys go to a key backup that is *replaced*, never accumulated, and is
rewritten after every purge. An old database backup restored with the current key backup opens
only what is still alive.

The organisations' own keys (``organisation_key``) go the same way: a key of the key file is
stored there wrapped by the master key, so its rows are kept out of database backups and carried
by the key backup, which an organisation's shredding rewrites without them. A token's key is not
in any backup: only its reference is.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import Table, delete, insert, inspect, select, text
from sqlalchemy.engine import Connection

from chevet.adapters.db.database import SqlDatabase
from chevet.adapters.db.schema import conversation, organisation
from chevet.adapters.db.schema_keys import organisation_key
from chevet.adapters.db.sealed import REGISTRY

T = TypeVar("T")
KEY_BACKUP_FORMAT = "chevet-key-backup-3"
# 1: conversation keys only (report keys stayed in database backups); 2: no organisation keys.
OLD_FORMATS = ("chevet-key-backup-1", "chevet-key-backup-2")
ORGANISATION_KEYS = "organisation_keys"  # its list's name in the key backup
KEY_INSTRUCTIONS = ("Chevet key backup (master key, audit signing key, Web Push key, wrapped data keys of "
                    "conversations and signalement reports). Secret: it opens everything still alive. Keep "
                    "exactly one current copy, apart from database backups (another medium, another place, "
                    "restricted access); replace it after each retention run; never archive old copies, or "
                    "shredded content becomes readable again from old database backups. See docs/backup.md.")


class BackupError(Exception):
    """A backup or restore that cannot be done; ``code`` is a message id of the gettext catalogs."""

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True, slots=True)
class DataKeyTable:
    table: Table
    id_column: str
    wrapped: str

    @property
    def field(self) -> str:  # its list's name in the key backup: "conversation_keys", "report_keys"
        return f"{self.table.name!s}s"


def data_key_tables() -> list[DataKeyTable]:
    """Every table holding per-record data keys (one row per record, wrapped by the master key):
    the ones crypto-shredding deletes from. Derived from the rotation registry, so a feature
    that registers such a table keeps its keys out of database backups without touching this file."""
    out = []
    for c in REGISTRY.values():
        if c.key_table:
            [pk] = c.table.primary_key.columns
            out.append(DataKeyTable(c.table, str(pk.name), str(c.column)))
    return sorted(out, key=lambda t: t.table.name)


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


def _first_line(stderr: str) -> str:
    return (stderr.strip().splitlines() or [""])[-1][:300]


def backup_database(database_url: str, out: Path) -> None:
    """SQLite: ``VACUUM INTO`` (a consistent snapshot while the server runs), then the data keys
    are removed from the copy and the copy rebuilt so no freed page keeps them. PostgreSQL:
    ``pg_dump`` in custom format, without the data-key tables' rows."""
    if out.exists():
        raise BackupError("backup_file_exists", path=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    tables = [t.table.name for t in data_key_tables()] + [organisation_key.name]
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
            for name in tables:
                copy.execute(f'DELETE FROM "{name}"')  # noqa: S608 - our own table names
            copy.commit()
            copy.execute("VACUUM")
        finally:
            copy.close()
        return
    # Fixed argv; pg_dump comes from Debian's PostgreSQL client tools on PATH.
    argv = ["pg_dump", "--format=custom", "--no-owner", *[f"--exclude-table-data={n}" for n in tables],
            "--file", str(out), pg_url(database_url)]
    result = subprocess.run(argv, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        out.unlink(missing_ok=True)
        raise BackupError("backup_pg_dump_failed", detail=_first_line(result.stderr))
    os.chmod(out, 0o600)


def _read_optional(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


async def key_backup(db: SqlDatabase, master_key_file: Path, audit_key_file: Path, at: datetime,
                     vapid_key_file: Path | None = None) -> bytes:
    master = await asyncio.to_thread(master_key_file.read_text)
    audit = await asyncio.to_thread(_read_optional, audit_key_file)
    vapid = await asyncio.to_thread(_read_optional, vapid_key_file) if vapid_key_file else None
    doc: dict[str, Any] = {"format": KEY_BACKUP_FORMAT, "created_at": at.isoformat(), "instructions": KEY_INSTRUCTIONS,
                           "master_key": master, "audit_key": audit, "vapid_key": vapid}
    async with db.transaction() as tx:  # one snapshot for every key table
        for t in data_key_tables():
            id_col, wrapped = t.table.c[t.id_column], t.table.c[t.wrapped]
            rows = await tx.conn.execute(select(id_col, wrapped).order_by(id_col))
            doc[t.field] = [{t.id_column: str(r[0]), "wrapped": base64.b64encode(bytes(r[1])).decode()}
                            for r in rows]
        rows = await tx.conn.execute(select(organisation_key).order_by(organisation_key.c.org_id,
                                                                       organisation_key.c.version))
        doc[ORGANISATION_KEYS] = [_organisation_key_json(r) for r in rows]
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2)


def _organisation_key_json(r: Any) -> dict[str, Any]:
    return {"org_id": str(r.org_id), "version": int(r.version), "provider": r.provider, "reference": r.reference,
            "wrapped": base64.b64encode(bytes(r.wrapped)).decode() if r.wrapped is not None else None,
            "state": r.state, "created_at": r.created_at.isoformat(),
            "destroyed_at": r.destroyed_at.isoformat() if r.destroyed_at is not None else None}


def _organisation_key_row(k: Any) -> dict[str, Any]:
    """One organisation key of a key backup, checked, as a row of ``organisation_key``."""
    if not isinstance(k, dict) or not isinstance(k.get("version"), int) or not isinstance(k.get("provider"), str) \
            or not isinstance(k.get("reference"), str) or not isinstance(k.get("state"), str):
        raise ValueError("organisation key")
    wrapped = k.get("wrapped")
    destroyed = k.get("destroyed_at")
    return {"org_id": uuid.UUID(k["org_id"]), "version": k["version"], "provider": k["provider"],
            "reference": k["reference"],
            "wrapped": base64.b64decode(wrapped, validate=True) if wrapped is not None else None,
            "state": k["state"], "created_at": datetime.fromisoformat(k["created_at"]),
            "destroyed_at": datetime.fromisoformat(destroyed) if destroyed is not None else None}


async def write_key_backup(db: SqlDatabase, master_key_file: Path, audit_key_file: Path, out: Path,
                           at: datetime, vapid_key_file: Path | None = None) -> int:
    """Returns how many conversation keys it holds."""
    data = await key_backup(db, master_key_file, audit_key_file, at, vapid_key_file)
    await asyncio.to_thread(_write_private, out, data)
    return len(orjson.loads(data)["conversation_keys"])


def read_key_backup(path: Path) -> dict[str, Any]:
    """The key backup, checked: its format, and every data key well formed."""
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise BackupError("key_backup_unreadable", path=str(path)) from exc
    if not isinstance(doc, dict) or doc.get("format") not in (KEY_BACKUP_FORMAT, *OLD_FORMATS) \
            or not isinstance(doc.get("master_key"), str):
        raise BackupError("key_backup_not_chevet", path=str(path))
    for t in data_key_tables():
        if t.field in doc:
            try:
                doc[t.field] = {uuid.UUID(k[t.id_column]): base64.b64decode(k["wrapped"], validate=True)
                                for k in doc[t.field]}
            except (TypeError, KeyError, ValueError, binascii.Error) as exc:
                raise BackupError("key_backup_not_chevet", path=str(path)) from exc
    if ORGANISATION_KEYS in doc:
        try:
            doc[ORGANISATION_KEYS] = [_organisation_key_row(k) for k in doc[ORGANISATION_KEYS]]
        except (TypeError, KeyError, ValueError, binascii.Error) as exc:
            raise BackupError("key_backup_not_chevet", path=str(path)) from exc
    return doc


# --- restore -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RestoreTarget:
    database_url: str
    blob_dir: Path
    master_key_file: Path
    audit_key_file: Path
    vapid_key_file: Path | None = None


_SEQUENCES = text("SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = current_schema()")


async def _relations(database_url: str) -> tuple[set[str], set[str]]:
    """The PostgreSQL target's tables and sequences, to tell later what the restore created."""
    db = SqlDatabase(database_url)
    try:
        async with db.engine.connect() as conn:
            tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
            return tables, {r[0] for r in await conn.execute(_SEQUENCES)}
    finally:
        await db.close()


async def _is_empty(database_url: str) -> bool:
    if database_url.startswith("sqlite") and not sqlite_path(database_url).exists():
        return True  # not even created: nothing to open (opening would create it)
    db = SqlDatabase(database_url)
    try:
        async with db.engine.connect() as conn:
            def check(sync: Connection) -> bool:
                tables = inspect(sync).get_table_names()
                if "organisation" not in tables:
                    return True
                return sync.execute(select(conversation.c.id).limit(1)).first() is None and \
                    sync.exec_driver_sql("SELECT 1 FROM organisation LIMIT 1").first() is None
            return await conn.run_sync(check)
    finally:
        await db.close()


class _Staging:
    """Where a restore is built before it is moved into place, and how to undo it: SQLite and
    blobs are built beside their targets (``*.restoring``) and moved in by rename; PostgreSQL is
    restored into the (empty) target database, and on failure every relation created is dropped."""

    def __init__(self, target: RestoreTarget) -> None:
        self.target = target
        self.sqlite = target.database_url.startswith("sqlite")
        self.blobs = target.blob_dir.with_name(target.blob_dir.name + ".restoring")
        self.created: list[Path] = []  # key files and folders written, removed again on failure
        self._pg_before: tuple[set[str], set[str]] = (set(), set())
        if self.sqlite:
            db = sqlite_path(target.database_url)
            self.db = db.with_name(db.name + ".restoring")
            self.url = f"sqlite:///{self.db}"
        else:
            self.url = target.database_url

    def _sqlite_files(self, db: Path) -> list[Path]:
        return [Path(str(db) + suffix) for suffix in ("", "-wal", "-shm", "-journal")]

    async def check_target(self) -> None:
        if not await _is_empty(self.target.database_url):
            raise BackupError("restore_target_not_empty")
        blobs = self.target.blob_dir
        if blobs.is_dir() and any(blobs.iterdir()):
            raise BackupError("restore_blobs_not_empty", path=str(blobs))
        if not self.sqlite:
            self._pg_before = await _relations(self.url)

    def put_key_file(self, path: Path, content: object) -> None:
        if not isinstance(content, str):
            return
        if path.exists():
            if path.read_text() != content:
                raise BackupError("restore_key_file_differs", path=str(path))
            return
        missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
        self.created += [path, *missing]  # file first, then its folders from the deepest
        _write_private(path, content.encode())

    def copy_in(self, db_backup: Path, blobs_from: Path | None) -> None:
        if self.sqlite:
            for path in self._sqlite_files(self.db):
                path.unlink(missing_ok=True)
            self.db.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(db_backup, self.db)
            os.chmod(self.db, 0o600)
            try:  # a damaged or truncated file is refused here, before anything else is done
                with closing(sqlite3.connect(self.db)) as check:
                    ok = check.execute("PRAGMA integrity_check").fetchone()
            except sqlite3.DatabaseError as exc:
                raise BackupError("restore_database_unreadable", path=db_backup.name, detail=str(exc)[:200]) from exc
            if ok != ("ok",):
                raise BackupError("restore_database_unreadable", path=db_backup.name, detail=str(ok)[:200])
        else:
            result = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error",  # noqa: S603, S607 - fixed argv
                                     "--single-transaction", "--dbname", pg_url(self.url), str(db_backup)],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                raise BackupError("restore_database_unreadable", path=db_backup.name,
                                  detail=_first_line(result.stderr))
        shutil.rmtree(self.blobs, ignore_errors=True)
        if blobs_from is not None:
            shutil.copytree(blobs_from, self.blobs)
        else:
            self.blobs.mkdir(parents=True)

    def commit(self) -> None:
        """Move what was built into place (renames, on the same file system)."""
        if self.sqlite:
            with closing(sqlite3.connect(self.db)) as db:  # fold the WAL in: one file to move
                db.execute("PRAGMA journal_mode = DELETE")
            target = sqlite_path(self.target.database_url)
            for path in self._sqlite_files(target)[1:]:
                path.unlink(missing_ok=True)
            os.replace(self.db, target)
        if self.target.blob_dir.is_dir():
            self.target.blob_dir.rmdir()  # checked empty before
        os.replace(self.blobs, self.target.blob_dir)

    async def abort(self) -> None:
        """Remove whatever the restore created, so that the target is as it was and a second try
        (with the right files) works."""
        shutil.rmtree(self.blobs, ignore_errors=True)
        if self.sqlite:
            for path in self._sqlite_files(self.db):
                path.unlink(missing_ok=True)
        else:
            await _drop_created(self.url, *self._pg_before)
        for path in self.created:
            if path.is_dir():
                try:
                    path.rmdir()
                except OSError:
                    pass  # something else was put there meanwhile: left alone
            else:
                path.unlink(missing_ok=True)


async def _drop_created(database_url: str, tables: set[str], sequences: set[str]) -> None:
    """Drop every table and sequence of the PostgreSQL target that was not there before."""
    db = SqlDatabase(database_url)
    try:
        async with db.engine.begin() as conn:
            prep = conn.dialect.identifier_preparer
            names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
            created = [prep.quote(n) for n in names if n not in tables]
            if created:
                await conn.execute(text(f"DROP TABLE IF EXISTS {', '.join(created)} CASCADE"))
            for (name,) in (await conn.execute(_SEQUENCES)).all():  # those not owned by a dropped table
                if name not in sequences:
                    await conn.execute(text(f"DROP SEQUENCE IF EXISTS {prep.quote(name)} CASCADE"))
    finally:
        await db.close()


async def _put_data_keys(database_url: str, keys: dict[str, Any]) -> None:
    """The key backup is the one source of data keys: whatever key rows the database backup
    holds (old backups did) are replaced by the living keys of records present. A format-1 key
    backup has no report keys: those in such an old database backup are then kept."""
    db = SqlDatabase(database_url)
    try:
        async with db.transaction() as tx:
            for t in data_key_tables():
                wrapped: dict[uuid.UUID, bytes] | None = keys.get(t.field)
                if wrapped is None:
                    continue
                id_col = t.table.c[t.id_column]
                [fk] = id_col.foreign_keys
                parent = fk.column
                await tx.conn.execute(delete(t.table))
                present = [r[0] for r in await tx.conn.execute(select(parent))]
                rows = [{t.id_column: i, t.wrapped: wrapped[i]} for i in present if i in wrapped]
                if rows:
                    await tx.conn.execute(insert(t.table), rows)
            org_keys: list[dict[str, Any]] | None = keys.get(ORGANISATION_KEYS)
            if org_keys is not None:  # the organisations' keys, destroyed ones included (as destroyed)
                await tx.conn.execute(delete(organisation_key))
                orgs = {r[0] for r in await tx.conn.execute(select(organisation.c.id))}
                kept = [k for k in org_keys if k["org_id"] in orgs]
                if kept:
                    await tx.conn.execute(insert(organisation_key), kept)
    finally:
        await db.close()


def _check_inputs(db_backup: Path, blobs_from: Path | None) -> None:
    if not db_backup.is_file():
        raise BackupError("restore_database_missing", path=str(db_backup))
    if blobs_from is not None and not blobs_from.is_dir():
        raise BackupError("restore_blobs_missing", path=str(blobs_from))


async def restore(target: RestoreTarget, db_backup: Path, keys: dict[str, Any], blobs_from: Path | None,
                  migrate: Callable[[str], Awaitable[None]], finish: Callable[[str, Path], Awaitable[T]]) -> T:
    """All or nothing, into an empty installation only: the key files, the database backup
    (then ``migrate``), the living data keys from the key backup, the blobs; then ``finish``
    (database URL and blob folder of the staging copy) completes the shredding done since the
    backup. Only when all of that succeeded is the result moved into place; on any failure
    everything created is removed again and the error raised."""
    await asyncio.to_thread(_check_inputs, db_backup, blobs_from)
    staging = _Staging(target)
    await staging.check_target()
    try:
        staging.put_key_file(target.master_key_file, keys.get("master_key"))
        staging.put_key_file(target.audit_key_file, keys.get("audit_key"))
        if target.vapid_key_file is not None:  # browsers' push subscriptions depend on it
            staging.put_key_file(target.vapid_key_file, keys.get("vapid_key"))
        await asyncio.to_thread(staging.copy_in, db_backup, blobs_from)
        try:
            await migrate(staging.url)
        except BackupError:
            raise
        except Exception as exc:  # a database backup this version cannot bring up to date
            raise BackupError("restore_database_unreadable", path=db_backup.name,
                              detail=type(exc).__name__) from exc
        await _put_data_keys(staging.url, keys)
        result = await finish(staging.url, staging.blobs)
        await asyncio.to_thread(staging.commit)
        return result
    except BaseException:
        await staging.abort()
        raise

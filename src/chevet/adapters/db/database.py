"""The database: engine set-up for SQLite and PostgreSQL, transactions, migrations."""

from __future__ import annotations

import ast
import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from chevet.adapters.db.alerts import SqlAlerts
from chevet.adapters.db.archive import SqlArchive
from chevet.adapters.db.attachments import SqlAttachments
from chevet.adapters.db.audit import SqlAuditLog
from chevet.adapters.db.audit_trail import SqlAuditTrail
from chevet.adapters.db.breaches import SqlBreaches
from chevet.adapters.db.conversations import SqlConversations
from chevet.adapters.db.directory import SqlDirectory
from chevet.adapters.db.directory_sync import SqlDirectorySync
from chevet.adapters.db.entries import SqlEntries
from chevet.adapters.db.handovers import SqlHandovers
from chevet.adapters.db.identity import SqlChallenges, SqlPasskeys, SqlRecoveryCodes, SqlSessionSecurity
from chevet.adapters.db.mail_outbox import SqlMailOutbox
from chevet.adapters.db.mssante import SqlMssante
from chevet.adapters.db.operations import SqlOperations
from chevet.adapters.db.organisation_keys import SqlOrganisationKeys, keys_of
from chevet.adapters.db.organisations import SqlOrganisations
from chevet.adapters.db.people import SqlPeople
from chevet.adapters.db.reports import SqlReports
from chevet.adapters.db.retention import SqlRetention
from chevet.adapters.db.rosters import SqlRosters
from chevet.adapters.db.sealed import SqlSealedBlobs
from chevet.adapters.db.sessions import SqlInvitations, SqlSessions
from chevet.adapters.db.shared_devices import SqlSharedDevices
from chevet.adapters.db.sign_in_failures import SqlSignInFailures
from chevet.adapters.db.teams import SqlTeams
from chevet.adapters.db.uploads import SqlUploads
from chevet.adapters.db.web import SqlPreferences, SqlPush
from chevet.adapters.disk import has_room
from chevet.ports import DependencyUnavailable
from chevet.ports.organisation_keys import OrganisationKey

MIGRATIONS = Path(__file__).parent / "migrations"
READ_ONLY = "chevet_read_only"  # execution option of a connection that never writes
PING_TIMEOUT = 3.0

# SQLite primary result codes that say the database cannot work now, not that the request is
# wrong: BUSY and LOCKED (beyond busy_timeout), READONLY, IOERR, FULL, CANTOPEN.
_SQLITE_UNAVAILABLE = {5, 6, 8, 10, 13, 14}
# PostgreSQL SQLSTATE classes: 08 connection exception, 53 insufficient resources (disk full,
# out of memory, too many connections), 57P operator intervention (shutdown, cannot connect
# now), 58 system error (I/O).
_PG_UNAVAILABLE = ("08", "53", "57P", "58")


def unavailable(exc: BaseException) -> bool:
    """Whether a driver error means the database is out of reach or cannot write (as opposed
    to a bug or a constraint violation, which stay what they are). OSError (refused,
    unreachable, timed out) and the PostgreSQL driver's own errors come from connecting:
    SQLAlchemy passes those through unwrapped."""
    if isinstance(exc, PoolTimeout | OSError) or type(exc).__module__.split(".")[0] == "asyncpg":
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_UNAVAILABLE
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(state, str):
        return state.startswith(_PG_UNAVAILABLE)
    return isinstance(getattr(orig, "__cause__", None), OSError)


def outage(exc: BaseException, *, connecting: bool) -> bool:
    """``unavailable``, or any driver error while still connecting: whatever the reason (the
    database is gone, closed to connections, refuses the role), no connection means no service."""
    return unavailable(exc) or (connecting and isinstance(exc, DBAPIError))


@dataclass
class SqlTransaction:
    conn: AsyncConnection

    def __post_init__(self) -> None:
        self.organisations = SqlOrganisations(self.conn)
        self.people = SqlPeople(self.conn)
        self.teams = SqlTeams(self.conn)
        self.sessions = SqlSessions(self.conn)
        self.invitations = SqlInvitations(self.conn)
        self.conversations = SqlConversations(self.conn)
        self.entries = SqlEntries(self.conn)
        self.audit = SqlAuditLog(self.conn)
        self.attachments = SqlAttachments(self.conn)
        self.uploads = SqlUploads(self.conn)
        self.preferences = SqlPreferences(self.conn)
        self.push = SqlPush(self.conn)
        self.reports = SqlReports(self.conn)
        self.passkeys = SqlPasskeys(self.conn)
        self.recovery_codes = SqlRecoveryCodes(self.conn)
        self.challenges = SqlChallenges(self.conn)
        self.session_security = SqlSessionSecurity(self.conn)
        self.sealed_blobs = SqlSealedBlobs(self.conn)
        self.mssante = SqlMssante(self.conn)
        self.mail_outbox = SqlMailOutbox(self.conn)
        self.sign_in_failures = SqlSignInFailures(self.conn)
        self.directory = SqlDirectory(self.conn)
        self.audit_trail = SqlAuditTrail(self.conn)
        self.retention = SqlRetention(self.conn)
        self.archive = SqlArchive(self.conn)
        self.breaches = SqlBreaches(self.conn)
        self.directory_sync = SqlDirectorySync(self.conn)
        self.operations = SqlOperations(self.conn)
        self.shared_devices = SqlSharedDevices(self.conn)
        self.handovers = SqlHandovers(self.conn)
        self.rosters = SqlRosters(self.conn)
        self.alerts = SqlAlerts(self.conn)
        self.organisation_keys = SqlOrganisationKeys(self.conn)


def async_url(url: str) -> str:
    """Accept plain ``sqlite:///`` and ``postgresql://`` URLs and pick the async drivers."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def _sqlite_setup(engine: AsyncEngine, synchronous: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # 8 KiB pages, as PostgreSQL's: a message row (about 410 B) leaves less unused space at the
        # end of each page than with 4 KiB (18 B less per message; send throughput unchanged,
        # docs/performance.md). Only a new file takes it, before WAL creates it: an existing
        # database keeps its page size.
        cursor.execute("PRAGMA page_size=8192")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Take the write lock up front: a deferred transaction that later writes can fail with
        # SQLITE_BUSY instead of waiting its turn. A read-only connection (``READ_ONLY``) reads
        # its snapshot next to the writer (WAL) without waiting.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


class SqlDatabase:
    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 10) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if not self.is_sqlite:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False)
        self.engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            if sqlite_synchronous.upper() not in {"FULL", "NORMAL", "EXTRA"}:
                raise ValueError("sqlite synchronous must be FULL, NORMAL or EXTRA")
            _sqlite_setup(self.engine, sqlite_synchronous.upper())
        # SQLite has one writer at a time and every transaction here starts with BEGIN IMMEDIATE.
        # Several pooled connections competing for that lock wait in SQLite's busy handler, which
        # sleeps in growing steps (up to 100 ms) and wakes them in no particular order: under load
        # most of the time goes to sleeping. Queueing the transactions of this process in an
        # asyncio lock instead hands the write lock over in FIFO order as soon as it is free.
        # Other processes (the CLI, a second server) still wait through busy_timeout.
        self._sqlite_turn: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTransaction]:
        """Errors that mean the database is out of reach or full become ``DependencyUnavailable``:
        on connecting, in the body's statements and on commit. Anything else (a bug, a
        constraint) is raised as it is."""
        connected = in_body = False
        try:
            if self._sqlite_turn is None:
                async with self.engine.begin() as conn:
                    connected = in_body = True
                    yield SqlTransaction(conn)
                    in_body = False
            else:
                async with self._sqlite_turn, self.engine.begin() as conn:
                    connected = in_body = True
                    yield SqlTransaction(conn)
                    in_body = False
        except Exception as exc:
            # An OSError from the body is not the database's (a file, a socket of another part).
            if outage(exc, connecting=not connected) and not (in_body and isinstance(exc, OSError)):
                raise DependencyUnavailable("database") from exc
            raise

    async def organisation_keys_of(self, org_id: uuid.UUID) -> list[OrganisationKey]:
        """The organisation's committed key rows, read on a connection of its own that neither
        takes nor waits for the write turn: the keyring reads them while its caller may be in
        the middle of a transaction."""
        connected = False
        try:
            async with self.engine.connect() as conn:
                connected = True
                await conn.execution_options(**{READ_ONLY: True})
                return await keys_of(conn, org_id)
        except Exception as exc:
            if outage(exc, connecting=not connected):
                raise DependencyUnavailable("database") from exc
            raise

    async def ping(self) -> None:
        """One statement within ``PING_TIMEOUT``; for SQLite, room left on its disk too (reading
        works on a full disk, the next write does not)."""
        try:
            async with asyncio.timeout(PING_TIMEOUT), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            if outage(exc, connecting=True):  # SELECT 1 fails for no bug of ours
                raise DependencyUnavailable("database") from exc
            raise
        path = self.engine.url.database
        if self.is_sqlite and path and path != ":memory:" and not has_room(Path(path)):
            raise DependencyUnavailable("database")

    async def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        async with self.engine.connect() as conn:
            def _upgrade(sync_conn: Connection) -> None:
                cfg.attributes["connection"] = sync_conn
                command.upgrade(cfg, "heads")
            await conn.run_sync(_upgrade)
            await conn.commit()

    def heads(self) -> list[str]:
        """The newest revisions this version of Chevet knows: those no other migration names as
        its ``down_revision``. Read from the migration files without importing Alembic, which
        would stay in the server's memory (about 10 MiB) for a check made once at start-up."""
        revisions: dict[str, tuple[str, ...]] = {}
        for path in (MIGRATIONS / "versions").glob("*.py"):
            values: dict[str, object] = {}
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                        and node.targets[0].id in ("revision", "down_revision"):
                    values[node.targets[0].id] = ast.literal_eval(node.value)
            if isinstance(values.get("revision"), str):
                down = values.get("down_revision")
                parents = (down,) if isinstance(down, str) else tuple(down) if isinstance(down, tuple) else ()
                revisions[str(values["revision"])] = tuple(str(x) for x in parents)
        named = {parent for parents in revisions.values() for parent in parents}
        return sorted(set(revisions) - named)

    async def revision(self) -> str | None:
        """The revisions the database is at (comma-separated), or None before the first migration."""
        connected = False
        try:
            async with self.engine.connect() as conn:
                connected = True
                try:
                    rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
                except DBAPIError as exc:
                    if unavailable(exc):
                        raise
                    return None  # no alembic_version table: nothing migrated yet
        except Exception as exc:
            if outage(exc, connecting=not connected):
                raise DependencyUnavailable("database") from exc
            raise
        return ",".join(sorted(str(r) for r in rows)) or None

    async def close(self) -> None:
        await self.engine.dispose()


def _conforms(tx: SqlTransaction) -> None:  # pragma: no cover - checked by mypy only
    from chevet.ports import Transaction

    _: Transaction = tx

"""Which database errors are an outage (``DependencyUnavailable``, answered 503) and which are
not: a bug or a broken rule must stay what it is, so that it is answered 500 and fixed, not
hidden behind "try again later". On SQLite and PostgreSQL, against the real drivers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from chevet.adapters.db.database import SqlDatabase
from chevet.bootstrap import Installation
from chevet.ports import DependencyUnavailable
from tests.support import PG_ADMIN_DSN, create_pg_database, drop_pg_database, free_port


async def test_a_bug_in_a_transaction_is_not_an_outage(installation: Installation) -> None:
    db = installation.services.db
    assert isinstance(db, SqlDatabase)
    with pytest.raises(DBAPIError) as caught:
        async with db.transaction() as tx:
            await tx.conn.execute(text("SELECT * FROM no_such_table"))
    assert not isinstance(caught.value, DependencyUnavailable)
    with pytest.raises(DBAPIError):  # a broken constraint: the request's fault, not the database's
        async with db.transaction() as tx:
            await tx.conn.execute(text("INSERT INTO organisations (id) VALUES (NULL)"))
    # An OSError from the action's own work (a file, a socket) is not the database's either.
    with pytest.raises(FileNotFoundError):
        async with db.transaction():
            Path("/nonexistent/chevet").read_bytes()
    with pytest.raises(RuntimeError):
        async with db.transaction():
            raise RuntimeError("a bug")
    await db.ping()  # and the database is still fine


async def test_an_unreachable_postgresql_is_an_outage(pg_required: None) -> None:
    db = SqlDatabase(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")  # nobody listens there
    try:
        with pytest.raises(DependencyUnavailable) as caught:
            async with db.transaction():
                pass
        assert caught.value.dependency == "database" and isinstance(caught.value.__cause__, OSError)
        with pytest.raises(DependencyUnavailable):
            await db.ping()
        with pytest.raises(DependencyUnavailable):
            await db.revision()
    finally:
        await db.close()


async def test_a_postgresql_database_closed_to_connections_is_an_outage(pg_required: None) -> None:
    import asyncpg

    url = await create_pg_database()
    db = SqlDatabase(url)
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    name = url.rsplit("/", 1)[1]
    try:
        await db.ping()
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        with pytest.raises(DependencyUnavailable):  # the pooled connection was terminated
            async with db.transaction() as tx:
                await tx.conn.execute(text("SELECT 1"))
        with pytest.raises(DependencyUnavailable):  # and no new one is accepted
            async with db.transaction() as tx:
                await tx.conn.execute(text("SELECT 1"))
        with pytest.raises(DependencyUnavailable):
            await db.ping()
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await db.ping()  # back by itself
    finally:
        await db.close()
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
        await drop_pg_database(url)


async def test_an_sqlite_file_that_cannot_be_opened_is_an_outage(tmp_path: Path) -> None:
    db = SqlDatabase(f"sqlite:///{tmp_path / 'gone' / 'chevet.db'}")  # its folder is missing
    try:
        with pytest.raises(DependencyUnavailable):
            async with db.transaction():
                pass
        with pytest.raises(DependencyUnavailable):
            await db.ping()
    finally:
        await db.close()

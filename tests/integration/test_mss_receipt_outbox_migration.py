"""Migration 0022 (the receipts' own outbox) goes down and up on SQLite and PostgreSQL, and a
queued receipt survives neither: down drops the table with what it sealed."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from chevet.bootstrap import Installation
from tests.support import migrate


async def _tables(installation: Installation) -> set[str]:
    def names(conn: Connection) -> set[str]:
        return set(inspect(conn).get_table_names())

    async with installation.services.db.engine.connect() as conn:
        return await conn.run_sync(names)


async def test_receipt_outbox_migration_down_and_up(installation: Installation) -> None:
    assert "mss_receipt_outbox" in await _tables(installation)
    await migrate(installation, "0021_mss_psc_link", up=False)
    assert "mss_receipt_outbox" not in await _tables(installation)
    assert "mss_psc_link" in await _tables(installation)          # only this migration was undone
    await migrate(installation, "heads")
    assert "mss_receipt_outbox" in await _tables(installation)

"""What the database says: size after vacuum/checkpoint, WAL volume and syncs."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def sqlite_size(path: Path) -> dict[str, Any]:
    """Bytes of the database file after a full checkpoint and VACUUM, and per table (dbstat)."""
    con = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        con.execute("PRAGMA busy_timeout=60000")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("VACUUM")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        tables: dict[str, int] = {}
        try:
            for name, size in con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
                tables[name] = int(size)
        except sqlite3.OperationalError:
            pass  # this SQLite has no dbstat table
        return {"bytes": int(page_size * pages), "tables": tables}
    finally:
        con.close()


async def pg_size(url: str) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM FULL")
        rows = await conn.fetch("SELECT c.relname, pg_total_relation_size(c.oid) AS size FROM pg_class c "
                                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                                "WHERE n.nspname = 'public' AND c.relkind = 'r'")
        tables = {r["relname"]: int(r["size"]) for r in rows}
        return {"bytes": sum(tables.values()), "tables": tables}
    finally:
        await conn.close()


async def pg_wal(url: str) -> dict[str, int]:
    """Cluster-wide WAL position and sync counters (other databases on the server count too)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        lsn = await conn.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        row = await conn.fetchrow("SELECT wal_records, wal_bytes, wal_write, wal_sync FROM pg_stat_wal")
        return {"lsn": int(lsn), "records": int(row["wal_records"]), "wal_bytes": int(row["wal_bytes"]),
                "writes": int(row["wal_write"]), "syncs": int(row["wal_sync"])}
    finally:
        await conn.close()

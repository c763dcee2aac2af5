"""Storage of the health directory: generations swapped atomically, word-prefix search.

An import writes a new generation beside the current one in short batches (readers keep
seeing the old one), builds its search index, then one short transaction makes it current
and the old generation is deleted in batches. Search uses SQLite FTS5 prefix indexes or a
PostgreSQL GIN index over ``to_tsvector('simple', …)`` with ``:*`` prefix queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema_mssante import directory_entry, directory_state
from chevet.core.mssante.directory import DirectoryEntry

CURRENT = "current"
INDEX_BATCH = 20000


_DATA_FIELDS = tuple(f for f in DirectoryEntry.__dataclass_fields__ if f not in ("address", "mailbox_type"))


def _row(generation: int, e: DirectoryEntry) -> dict[str, Any]:
    # Plain attribute reads: dataclasses.asdict deep-copies and dominated the import's time.
    data = {k: v for k in _DATA_FIELDS if (v := getattr(e, k))}
    return {"generation": generation, "address": e.address, "mailbox_type": e.mailbox_type,
            "data": orjson.dumps(data).decode(), "search": e.search_text()}


def _entry(address: str, mailbox_type: str, data: str) -> DirectoryEntry:
    fields = orjson.loads(data)
    return DirectoryEntry(address=address, mailbox_type=mailbox_type,
                          **{k: v for k, v in fields.items() if k in DirectoryEntry.__dataclass_fields__})


class SqlDirectory:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.is_sqlite = conn.dialect.name == "sqlite"

    async def state(self) -> dict[str, Any] | None:
        row = (await self.conn.execute(select(directory_state).where(directory_state.c.name == CURRENT))).first()
        if row is None:
            return None
        return {"generation": row.generation, "imported_at": row.imported_at, "source": row.source,
                "counts": orjson.loads(row.counts)}

    async def new_generation(self) -> int:
        top = (await self.conn.execute(select(func.max(directory_entry.c.generation)))).scalar()
        current = await self.state()
        return max(int(top or 0), int(current["generation"]) if current else 0) + 1

    async def add_batch(self, generation: int, entries: Sequence[DirectoryEntry]) -> None:
        if entries:
            await self.conn.execute(insert(directory_entry), [_row(generation, e) for e in entries])

    async def get(self, generation: int, address: str) -> DirectoryEntry | None:
        row = (await self.conn.execute(select(directory_entry.c.address, directory_entry.c.mailbox_type,
                                              directory_entry.c.data)
                                       .where(directory_entry.c.generation == generation,
                                              directory_entry.c.address == address))).first()
        return _entry(row.address, row.mailbox_type, row.data) if row else None

    async def replace(self, generation: int, entry: DirectoryEntry) -> None:
        values = _row(generation, entry)
        await self.conn.execute(update(directory_entry).where(
            directory_entry.c.generation == generation, directory_entry.c.address == entry.address).values(
            data=values["data"], search=values["search"], mailbox_type=values["mailbox_type"]))

    async def id_range(self, generation: int) -> tuple[int, int] | None:
        row = (await self.conn.execute(select(func.min(directory_entry.c.id), func.max(directory_entry.c.id))
                                       .where(directory_entry.c.generation == generation))).first()
        if row is None or row[0] is None:
            return None
        return int(row[0]), int(row[1])

    async def index_range(self, generation: int, first_id: int, last_id: int) -> None:
        """Add a slice of a generation to the search index (SQLite; PostgreSQL indexes on write)."""
        if self.is_sqlite:
            await self.conn.execute(text(
                "INSERT INTO directory_fts(rowid, search) SELECT id, search FROM directory_entry "
                "WHERE generation = :g AND id BETWEEN :a AND :b"), {"g": generation, "a": first_id, "b": last_id})

    async def activate(self, generation: int, at: datetime, source: str, counts: dict[str, Any]) -> None:
        values = {"generation": generation, "imported_at": at, "source": source[:300],
                  "counts": orjson.dumps(counts).decode()}
        done = await self.conn.execute(update(directory_state).where(directory_state.c.name == CURRENT)
                                       .values(**values))
        if done.rowcount == 0:
            await self.conn.execute(insert(directory_state).values(name=CURRENT, **values))

    async def purge_range(self, generation: int, first_id: int, last_id: int) -> None:
        """Delete a slice of an old generation (and its index entries)."""
        if self.is_sqlite:
            await self.conn.execute(text(
                "INSERT INTO directory_fts(directory_fts, rowid, search) SELECT 'delete', id, search "
                "FROM directory_entry WHERE generation = :g AND id BETWEEN :a AND :b "
                "AND id IN (SELECT rowid FROM directory_fts_docsize)"),
                {"g": generation, "a": first_id, "b": last_id})
        await self.conn.execute(delete(directory_entry).where(directory_entry.c.generation == generation,
                                                              directory_entry.c.id.between(first_id, last_id)))

    async def stale_generations(self, keep: int) -> list[int]:
        rows = await self.conn.execute(select(directory_entry.c.generation).distinct()
                                       .where(directory_entry.c.generation != keep))
        return [int(r[0]) for r in rows]

    async def search(self, generation: int, words: Sequence[str], limit: int,
                     mailbox_type: str | None = None) -> list[DirectoryEntry]:
        params: dict[str, Any] = {"g": generation, "n": limit, "t": mailbox_type}
        type_filter = " AND e.mailbox_type = :t" if mailbox_type else ""
        if self.is_sqlite:
            # Driven by the FTS index, stopping at the limit: never a scan of the directory.
            params["m"] = " ".join(f'"{w}"*' for w in words)
            sql = ("SELECT e.address, e.mailbox_type, e.data FROM directory_fts f "  # noqa: S608 - constant parts only
                   "CROSS JOIN directory_entry e ON e.id = f.rowid "  # FTS drives the loop
                   f"WHERE directory_fts MATCH :m AND e.generation = :g{type_filter} LIMIT :n")
        else:
            params["m"] = " & ".join(f"{w}:*" for w in words)
            sql = ("SELECT e.address, e.mailbox_type, e.data FROM directory_entry e "  # noqa: S608 - constant parts only
                   "WHERE to_tsvector('simple', e.search) @@ to_tsquery('simple', :m) "
                   f"AND e.generation = :g{type_filter} LIMIT :n")
        rows = (await self.conn.execute(text(sql), params)).all()
        return [_entry(r.address, r.mailbox_type, r.data) for r in rows]

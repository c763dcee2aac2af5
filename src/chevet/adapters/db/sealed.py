"""Every column sealed with the master key (wrapped data keys) or with a key derived from it
(credential secrets), so that a master-key rotation can re-wrap all of them.

A feature that stores such a column registers it here (``register``). A column whose name says
it is wrapped (``wrapped`` or ``*_wrapped``) but that nobody registered makes rotation refuse to
start: a forgotten table must never keep blobs under a key that is about to be destroyed.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db import schema
from chevet.adapters.db.schema_identity import session_auth
from chevet.adapters.db.schema_mail import mail_outbox
from chevet.adapters.db.schema_signalement import report_key
from chevet.core import envelope
from chevet.ports import SealedItem


@dataclass(frozen=True, slots=True)
class SealedColumn:
    name: str            # stable identifier, e.g. "conversation_key.wrapped"
    table: Table
    column: str
    by: str              # "master": wrapped by the master key; "credentials": derived credentials key
    label: str           # associated-data label (envelope.aad)
    id_columns: tuple[str, ...]


REGISTRY: dict[str, SealedColumn] = {}


def register(table: Table, column: str, by: str, label: str, *id_columns: str) -> None:
    if by not in ("master", "credentials"):
        raise ValueError(by)
    name = f"{table.name}.{column}"
    REGISTRY[name] = SealedColumn(name, table, column, by, label, tuple(id_columns))


register(schema.conversation_key, "wrapped", "master", "ckey", "conversation_id")
register(schema.person, "totp_sealed", "credentials", "totp", "id")
register(schema.invitation, "pending_totp_sealed", "credentials", "totp", "person_id")
register(session_auth, "psc_id_token_sealed", "credentials", "psc_id_token", "session_id")
register(report_key, "wrapped", "master", "rkey", "report_id")  # signalement: one data key per report
register(mail_outbox, "message_sealed", "credentials", "mail", "id")  # holds a one-time link


def _load_feature_schemas() -> None:
    import chevet.adapters.db as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("schema_"):
            importlib.import_module(f"chevet.adapters.db.{info.name}")


class SqlSealedBlobs:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    def columns(self) -> list[tuple[str, str]]:
        """(name, "master" or "credentials") of every registered column."""
        return [(c.name, c.by) for c in REGISTRY.values()]

    def unregistered(self) -> list[str]:
        _load_feature_schemas()
        known = {(c.table.name, c.column) for c in REGISTRY.values()}
        return sorted(f"{t.name}.{col.name}" for t in schema.metadata.tables.values() for col in t.columns
                      if (col.name == "wrapped" or col.name.endswith("_wrapped")) and (t.name, col.name) not in known)

    async def batch(self, name: str, after: tuple[Any, ...] | None, limit: int) -> list[SealedItem]:
        c = REGISTRY[name]
        pk = list(c.table.primary_key.columns)
        blob = c.table.c[c.column]
        stmt = select(*pk, *[c.table.c[i] for i in c.id_columns], blob).where(blob.is_not(None))
        if after is not None:
            stmt = stmt.where(tuple_(*pk) > tuple_(*after)) if len(pk) > 1 else stmt.where(pk[0] > after[0])
        rows = await self._conn.execute(stmt.order_by(*pk).limit(limit))
        out = []
        for r in rows:
            key = tuple(r[: len(pk)])
            ids = tuple(r[len(pk): len(pk) + len(c.id_columns)])
            out.append(SealedItem(name, c.by, key, envelope.aad(c.label, *ids), bytes(r[-1])))
        return out

    async def replace(self, item: SealedItem, new_blob: bytes) -> bool:
        """Swap the blob only if it is still the one read: a concurrent change (a key destroyed
        by retention, a TOTP re-enrolled) wins and is simply not rewritten."""
        c = REGISTRY[item.column]
        pk = list(c.table.primary_key.columns)
        blob = c.table.c[c.column]
        cond = and_(*[col == value for col, value in zip(pk, item.key, strict=True)], blob == item.blob)
        result = await self._conn.execute(update(c.table).where(cond).values({c.column: new_blob}))
        return bool(result.rowcount)

"""Every column sealed with the master key (wrapped data keys) or with a key derived from it
(credential secrets), so that a master-key rotation can re-wrap all of them.

A feature that stores such a column registers it here (``register``). A column whose name says
it is wrapped (``wrapped`` or ``*_wrapped``) but that nobody registered makes rotation refuse to
start: a forgotten table must never keep blobs under a key that is about to be destroyed.
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, delete, null, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db import schema
from chevet.adapters.db.schema_identity import session_auth
from chevet.adapters.db.schema_keys import organisation_key
from chevet.adapters.db.schema_mail import mail_outbox
from chevet.adapters.db.schema_mssante import mss_inbound, mss_psc_link, mss_receipt_outbox
from chevet.adapters.db.schema_signalement import report, report_key
from chevet.core import envelope
from chevet.ports import SealedItem


@dataclass(frozen=True, slots=True)
class OrgReach:
    """How a data-key row reaches its organisation: its own ``org_id`` column (``via`` None), or
    the ``org_id`` of the row of ``via`` whose ``remote`` column equals this row's ``local``."""

    local: str
    via: Table | None = None
    remote: str = "id"


@dataclass(frozen=True, slots=True)
class SealedColumn:
    name: str            # stable identifier, e.g. "conversation_key.wrapped"
    table: Table
    column: str
    by: str              # "master": wrapped by the master key; "credentials": derived credentials key
    label: str           # associated-data label (envelope.aad)
    id_columns: tuple[str, ...]
    # A data key, wrapped by its organisation's key (0x03) or, before that, by the master key
    # (0x01/0x02): how to reach the organisation. None: not an organisation's data key.
    org: OrgReach | None = None
    # The table holds nothing but keys, one row per record: database backups leave its rows
    # out and the key backup carries them (adapters/backup.py).
    key_table: bool = False


REGISTRY: dict[str, SealedColumn] = {}


def register(table: Table, column: str, by: str, label: str, *id_columns: str, org: OrgReach | None = None,
             key_table: bool = False) -> None:
    if by not in ("master", "credentials") or (key_table and by != "master"):
        raise ValueError(by)
    name = f"{table.name}.{column}"
    REGISTRY[name] = SealedColumn(name, table, column, by, label, tuple(id_columns), org, key_table)


register(schema.conversation_key, "wrapped", "master", "ckey", "conversation_id",
         org=OrgReach("conversation_id", schema.conversation), key_table=True)
register(schema.person, "totp_sealed", "credentials", "totp", "id")
register(schema.invitation, "pending_totp_sealed", "credentials", "totp", "person_id")
register(session_auth, "psc_id_token_sealed", "credentials", "psc_id_token", "session_id")
register(report_key, "wrapped", "master", "rkey", "report_id",  # signalement: one data key per report
         org=OrgReach("report_id", report), key_table=True)
register(mail_outbox, "message_sealed", "credentials", "mail", "id")  # holds a one-time link
# A person's key for the addresses sealed in her sign-in entries (app/identity/addresses.py).
register(schema.person, "address_key", "master", "akey", "id", org=OrgReach("org_id"))
# A received MSSanté mail kept aside (quarantine): its own data key.
register(mss_inbound, "wrapped_key", "master", "ckey", "id", org=OrgReach("org_id"))
# An error receipt waiting in the receipts' own outbox (it carries the original mail): its own data key.
register(mss_receipt_outbox, "wrapped_key", "master", "ckey", "id", org=OrgReach("org_id"))
# A PER/ORG mailbox's Pro Santé Connect refresh token, bound to its organisation and the person
# who linked it.
register(mss_psc_link, "refresh_sealed", "credentials", "mss_psc_refresh", "org_id", "person_id")
# Each organisation's key under the file provider, wrapped by the master key (not a data key).
register(organisation_key, "wrapped", "master", "okek", "org_id", "version")


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

    def data_key_columns(self) -> list[str]:
        """The columns of organisations' data keys (each item's ``org_id`` is set)."""
        return [c.name for c in REGISTRY.values() if c.org is not None]

    async def batch(self, name: str, after: tuple[Any, ...] | None, limit: int,
                    org_id: uuid.UUID | None = None) -> list[SealedItem]:
        """The next blobs of a column in primary-key order; of one organisation's data keys
        only when ``org_id`` is given (a column that is not a data key then has none)."""
        c = REGISTRY[name]
        pk = list(c.table.primary_key.columns)
        blob = c.table.c[c.column]
        org_col = None
        if c.org is not None:
            org_col = c.org.via.c.org_id if c.org.via is not None else c.table.c[c.org.local]
        elif org_id is not None:
            return []
        stmt = select(*pk, *[c.table.c[i] for i in c.id_columns], org_col if org_col is not None else null(), blob)
        if c.org is not None and c.org.via is not None:
            stmt = stmt.select_from(c.table.join(c.org.via, c.org.via.c[c.org.remote] == c.table.c[c.org.local]))
        stmt = stmt.where(blob.is_not(None))
        if org_id is not None and org_col is not None:
            stmt = stmt.where(org_col == org_id)
        if after is not None:
            stmt = stmt.where(tuple_(*pk) > tuple_(*after)) if len(pk) > 1 else stmt.where(pk[0] > after[0])
        rows = await self._conn.execute(stmt.order_by(*pk).limit(limit))
        out = []
        for r in rows:
            key = tuple(r[: len(pk)])
            ids = tuple(i if isinstance(i, uuid.UUID) else uuid.UUID(int=int(i))
                        for i in r[len(pk): len(pk) + len(c.id_columns)])
            out.append(SealedItem(name, c.by, key, envelope.aad(c.label, *ids), bytes(r[-1]), r[-2]))
        return out

    async def discard(self, item: SealedItem) -> bool:
        """Delete a data key for good (an organisation's shredding), only if it is still the
        blob read: the row of a key table, the column elsewhere (a person's address key).
        SQLite overwrites the freed pages (``secure_delete``), so the file keeps no copy."""
        c = REGISTRY[item.column]
        pk = list(c.table.primary_key.columns)
        blob = c.table.c[c.column]
        cond = and_(*[col == value for col, value in zip(pk, item.key, strict=True)], blob == item.blob)
        if self._conn.dialect.name == "sqlite":
            await self._conn.exec_driver_sql("PRAGMA secure_delete = ON")
        stmt = delete(c.table).where(cond) if c.key_table else update(c.table).where(cond).values({c.column: None})
        result = await self._conn.execute(stmt)
        return bool(result.rowcount)

    async def replace(self, item: SealedItem, new_blob: bytes) -> bool:
        """Swap the blob only if it is still the one read: a concurrent change (a key destroyed
        by retention, a TOTP re-enrolled) wins and is simply not rewritten."""
        c = REGISTRY[item.column]
        pk = list(c.table.primary_key.columns)
        blob = c.table.c[c.column]
        cond = and_(*[col == value for col, value in zip(pk, item.key, strict=True)], blob == item.blob)
        result = await self._conn.execute(update(c.table).where(cond).values({c.column: new_blob}))
        return bool(result.rowcount)

"""The conversation log is keyed by its place (conversation, seq), on SQLite as the table itself
(WITHOUT ROWID), and the message id stays unique. Migration 0015 rebuilds an existing log both
ways without changing what anyone reads, and the audit chains that run through it verify."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from chevet.adapters.db.schema import entry
from chevet.app.governance.audit import verify_audit
from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
from tests.support import Member, migrate, new_member, new_org


async def _conversation(installation: Installation) -> tuple[Member, uuid.UUID]:
    svc = installation.services
    org = await new_org(svc)
    a, b = await new_member(svc, org, "nurse"), await new_member(svc, org, "physician")
    view, _ = await conversations.create_conversation(svc, a.actor, kind="group", title="Nuit", member_ids=[b.id])
    cid = uuid.UUID(view["id"])
    sent = [(await messages.send_message(svc, a.actor, cid, body=f"transmission {i}", client_id=str(i)))[0]
            for i in range(4)]
    await messages.send_message(svc, b.actor, cid, body="bien reçu", client_id="r",
                                reply_to=uuid.UUID(sent[1]["id"]))
    await messages.edit_message(svc, a.actor, cid, uuid.UUID(sent[2]["id"]), "transmission 2, corrigée")
    await messages.delete_message(svc, a.actor, cid, uuid.UUID(sent[3]["id"]))
    return a, cid


async def _last_seq(installation: Installation, cid: uuid.UUID) -> int:
    """The place of the conversation's latest entry, edits and deletions included."""
    async with installation.services.db.engine.connect() as conn:
        last = await conn.execute(select(func.max(entry.c.seq)).where(entry.c.conversation_id == cid))
        return int(last.scalar_one())


async def _shape(installation: Installation) -> tuple[list[str], bool]:
    """The key's columns and whether the table has no rowid (always False on PostgreSQL)."""
    async with installation.services.db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            info = (await conn.exec_driver_sql("PRAGMA table_info(entry)")).all()
            key = [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
            sql = (await conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'entry'")).scalar_one()
            return key, "WITHOUT ROWID" in sql.upper()
        rows = await conn.execute(text(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'entry'::regclass AND i.indisprimary "
            "ORDER BY array_position(i.indkey::int2[], a.attnum)"))
        return [r[0] for r in rows], False


async def test_the_log_is_keyed_by_place_and_migrates_both_ways_unchanged(installation: Installation) -> None:
    svc = installation.services
    author, cid = await _conversation(installation)
    sqlite = installation.services.db.engine.dialect.name == "sqlite"
    before = await messages.history(svc, author.actor, cid)
    last = await _last_seq(installation, cid)
    assert await _shape(installation) == (["conversation_id", "seq"], sqlite)

    await migrate(installation, "0014_message_in_audit_chain", up=False)
    assert await _shape(installation) == (["id"], False)
    assert await messages.history(svc, author.actor, cid) == before

    await migrate(installation, "heads", up=True)
    assert await _shape(installation) == (["conversation_id", "seq"], sqlite)
    assert await messages.history(svc, author.actor, cid) == before
    assert all(r.broken is None for r in await verify_audit(svc))
    later, _ = await messages.send_message(svc, author.actor, cid, body="après la migration", client_id="n")
    assert later["seq"] == last + 1


async def test_a_place_and_a_message_id_are_each_taken_once(installation: Installation) -> None:
    _, cid = await _conversation(installation)
    async with installation.services.db.engine.connect() as conn:
        row = (await conn.execute(select(entry).where(entry.c.conversation_id == cid, entry.c.seq == 2))).one()
    values = dict(row._mapping)
    for clash in ({**values, "id": uuid.uuid4()}, {**values, "seq": 999}):  # same place, then same id
        async with installation.services.db.engine.connect() as conn:
            with pytest.raises(IntegrityError):
                await conn.execute(insert(entry).values(**clash))

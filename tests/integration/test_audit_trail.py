"""The audit trail is hash-chained: tampering with or removing any entry is detected, and
`chevet audit verify` names the first broken entry."""

from __future__ import annotations

import subprocess
import sys
import uuid

from sqlalchemy import func, select, update

from chevet.adapters.db.schema import audit_entry, entry
from chevet.app.governance.audit import verify_audit
from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
from tests.governance_support import remove_trail
from tests.support import migrate, new_member, new_org


def _cli(installation: Installation, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"}
    if installation.settings.database.url:
        env["CHEVET_DATABASE_URL"] = installation.settings.database.url
    return subprocess.run([sys.executable, "-m", "chevet.cli.main", *args, "--data-dir",
                           str(installation.settings.data_dir)], capture_output=True, text=True, env=env)


async def _activity(installation: Installation) -> uuid.UUID:
    svc = installation.services
    org = await new_org(svc)
    a, b = await new_member(svc, org, "nurse"), await new_member(svc, org, "physician")
    view, _ = await conversations.create_conversation(svc, a.actor, kind="group", title="Nuit", member_ids=[b.id])
    for i in range(3):
        await messages.send_message(svc, a.actor, uuid.UUID(view["id"]), body=f"note {i}", client_id=str(i))
    return org.id


async def test_every_state_change_is_chained_and_verifies(installation: Installation) -> None:
    org_id = await _activity(installation)
    reports = await verify_audit(installation.services)
    assert all(r.broken is None for r in reports)
    async with installation.services.db.transaction() as tx:
        actions = [e.action async for e in tx.audit.entries(org_id)]
    assert actions[:1] == ["organisation.created"]
    assert actions.count("message.sent") == 3 and "conversation.created" in actions
    result = _cli(installation, "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


async def test_an_altered_entry_is_named(installation: Installation) -> None:
    org_id = await _activity(installation)
    async with installation.services.db.transaction() as tx:
        assert (await tx.audit_trail.entry_at(org_id, 4)) is not None
        await tx.conn.execute(update(audit_entry).where(audit_entry.c.chain == org_id, audit_entry.c.seq == 4)
                              .values(action="message.read"))
        assert (await tx.audit_trail.entry_at(org_id, 4)).action == "message.read"  # type: ignore[union-attr]
    [broken] = [r for r in await verify_audit(installation.services) if r.broken]
    assert broken.chain == str(org_id) and broken.broken is not None
    assert (broken.broken.seq, broken.broken.reason) == (4, "altered")
    result = _cli(installation, "audit", "verify")
    assert result.returncode == 1
    assert f"chain {org_id}: BROKEN at entry #4 (altered)" in result.stdout


async def test_a_removed_entry_is_named(installation: Installation) -> None:
    org_id = await _activity(installation)
    async with installation.services.db.transaction() as tx:
        await remove_trail(tx, org_id, from_seq=3, to_seq=3)
    result = _cli(installation, "audit", "verify")
    assert result.returncode == 1 and "BROKEN at entry #3 (missing)" in result.stdout


async def test_a_removed_tail_is_detected(installation: Installation) -> None:
    org_id = await _activity(installation)
    async with installation.services.db.transaction() as tx:
        last = await tx.audit_trail.last_seq(org_id)
        await remove_trail(tx, org_id, from_seq=last - 1)
    [broken] = [r for r in await verify_audit(installation.services) if r.broken]
    assert broken.broken is not None and broken.broken.reason == "truncated"


async def test_a_message_is_one_row_and_its_place_in_the_chain_is_covered_by_the_hash(
        installation: Installation) -> None:
    org_id = await _activity(installation)
    async with installation.services.db.transaction() as tx:
        sent = [e async for e in tx.audit.entries(org_id) if e.action == "message.sent"]
        own_rows = (await tx.conn.execute(select(func.count()).select_from(audit_entry).where(
            audit_entry.c.chain == org_id, audit_entry.c.action == "message.sent"))).scalar_one()
        linked = (await tx.conn.execute(select(entry.c.audit_seq).where(entry.c.id == sent[0].object_id))).scalar()
    assert len(sent) == 3 and own_rows == 0  # no second row per message …
    assert linked == sent[0].seq  # … the message's own row holds its place
    assert sent[0].detail["conversation"] and sent[0].detail["urgent"] is False
    async with installation.services.db.transaction() as tx:  # the urgent flag is part of what is hashed
        await tx.conn.execute(update(entry).where(entry.c.id == sent[1].object_id).values(flags=1))
    [broken] = [r for r in await verify_audit(installation.services) if r.broken]
    assert broken.broken is not None and (broken.broken.seq, broken.broken.reason) == (sent[1].seq, "altered")


async def test_entries_survive_the_compact_audit_migration_both_ways(installation: Installation) -> None:
    org_id = await _activity(installation)
    db = installation.services.db

    async def entries() -> list[object]:
        async with db.transaction() as tx:
            return [e async for e in tx.audit.entries(org_id)]

    before = await entries()

    await migrate(installation, "0008_compact_audit_entry-1", up=False)
    async with db.engine.connect() as conn:
        details = [r[0] for r in await conn.exec_driver_sql(
            "SELECT detail FROM audit_entry WHERE action = 'message.sent'")]
    assert details and all('"conversation":' in d for d in details)
    await migrate(installation, "heads", up=True)
    assert await entries() == before
    assert all(r.broken is None for r in await verify_audit(installation.services))


async def test_messages_move_into_their_own_rows_and_back_with_every_chain_verifying(
        installation: Installation) -> None:
    """An installation of the two-row layout upgrades: each ``message.sent`` row moves into its
    message's row, hashes unchanged; downgrading writes the rows back. The chains verify across."""
    org_id = await _activity(installation)
    db = installation.services.db

    async def entries() -> list[object]:
        async with db.transaction() as tx:
            return [e async for e in tx.audit.entries(org_id)]

    async def sent_rows() -> int:
        async with db.engine.connect() as conn:
            return int((await conn.exec_driver_sql(
                "SELECT count(*) FROM audit_entry WHERE action = 'message.sent'")).scalar_one())

    before = await entries()
    assert await sent_rows() == 0
    await migrate(installation, "0008_compact_audit_entry", up=False)  # what 0014 stands on
    assert await sent_rows() == 3  # the two-row layout, as older versions wrote it
    await migrate(installation, "heads", up=True)
    assert await sent_rows() == 0
    assert await entries() == before
    assert all(r.broken is None for r in await verify_audit(installation.services))
    result = _cli(installation, "audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr

"""The audit trail is hash-chained: tampering with or removing any entry is detected, and
`chevet audit verify` names the first broken entry."""

from __future__ import annotations

import subprocess
import sys
import uuid

from sqlalchemy import delete, func, select, update

from chevet.adapters.db.schema import audit_entry
from chevet.app.governance.audit import verify_audit
from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
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
        await tx.conn.execute(update(audit_entry).where(audit_entry.c.chain == org_id, audit_entry.c.seq == 4)
                              .values(action="message.read"))
    [broken] = [r for r in await verify_audit(installation.services) if r.broken]
    assert broken.chain == str(org_id) and broken.broken is not None
    assert (broken.broken.seq, broken.broken.reason) == (4, "altered")
    result = _cli(installation, "audit", "verify")
    assert result.returncode == 1
    assert f"chain {org_id}: BROKEN at entry #4 (altered)" in result.stdout


async def test_a_removed_entry_is_named(installation: Installation) -> None:
    org_id = await _activity(installation)
    async with installation.services.db.transaction() as tx:
        await tx.conn.execute(delete(audit_entry).where(audit_entry.c.chain == org_id, audit_entry.c.seq == 3))
    result = _cli(installation, "audit", "verify")
    assert result.returncode == 1 and "BROKEN at entry #3 (missing)" in result.stdout


async def test_a_removed_tail_is_detected(installation: Installation) -> None:
    org_id = await _activity(installation)
    async with installation.services.db.transaction() as tx:
        last = (await tx.conn.execute(select(func.max(audit_entry.c.seq))
                                      .where(audit_entry.c.chain == org_id))).scalar_one()
        await tx.conn.execute(delete(audit_entry).where(audit_entry.c.chain == org_id,
                                                        audit_entry.c.seq >= last - 1))
    [broken] = [r for r in await verify_audit(installation.services) if r.broken]
    assert broken.broken is not None and broken.broken.reason == "truncated"


async def test_the_conversation_id_is_stored_apart_and_still_covered_by_the_hash(installation: Installation) -> None:
    org_id = await _activity(installation)
    async with installation.services.db.transaction() as tx:
        sent = [e async for e in tx.audit.entries(org_id) if e.action == "message.sent"]
        row = (await tx.conn.execute(select(audit_entry.c.detail, audit_entry.c.conversation_id).where(
            audit_entry.c.chain == org_id, audit_entry.c.seq == sent[0].seq))).one()
    assert sent[0].detail["conversation"] == str(row.conversation_id)  # read back as the action gave it
    assert "conversation" not in row.detail  # 16 bytes in its column, not 52 characters of JSON
    async with installation.services.db.transaction() as tx:
        await tx.conn.execute(update(audit_entry).where(audit_entry.c.chain == org_id,
                                                        audit_entry.c.seq == sent[1].seq)
                              .values(conversation_id=uuid.uuid4()))
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

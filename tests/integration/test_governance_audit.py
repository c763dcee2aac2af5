"""Signed checkpoints prove what the hash chain alone cannot: a cut tail with a moved head, or a
chain rebuilt after a rewrite. Pruning keeps the chain verifiable; exports verify offline; the
DPO finds who read a care case, and nobody else can look."""

from __future__ import annotations

import csv
import html
import io
from datetime import timedelta

import httpx
import orjson
from sqlalchemy import select, update

from chevet.adapters.db.schema import audit_entry, audit_head, entry
from chevet.adapters.db.schema_governance import audit_checkpoint
from chevet.app.governance import audit_trail
from chevet.app.messaging import messages
from chevet.bootstrap import Installation
from chevet.core.audit import INSTALLATION_CHAIN, entry_hash
from tests.governance_support import cli, remove_trail, say, scene, use_clock
from tests.support import Server, login


async def _broken(installation: Installation) -> list[tuple[str, int, str]]:
    return [(v.chain.hex, v.broken.seq, v.broken.reason) for v in await audit_trail.verify_all(installation.services)
            if v.broken]


async def test_checkpoints_verify_and_catch_a_cut_tail_with_a_moved_head(installation: Installation) -> None:
    svc = installation.services
    s = await scene(svc)
    for i in range(3):
        await say(svc, s.nurse, s.care, f"note {i}")
    made = await audit_trail.checkpoint_all(svc)
    assert {cp.chain for cp in made} >= {s.org.id}
    assert await audit_trail.checkpoint_all(svc) == []  # nothing moved: nothing signed
    assert await _broken(installation) == []
    async with svc.db.transaction() as tx:
        head = await tx.audit.head(s.org.id)
        assert head is not None
        last = head[0]
        prev = (await tx.audit_trail.entry_at(s.org.id, last - 2))
        assert prev is not None
        # A careful attacker removes the last two entries AND moves the recorded head back.
        await remove_trail(tx, s.org.id, from_seq=last - 1)
        await tx.conn.execute(update(audit_head).where(audit_head.c.chain == s.org.id)
                              .values(seq=last - 2, hash=prev.hash))
    assert await _broken(installation) == [(s.org.id.hex, last - 1, "truncated")]
    r = cli(installation, "audit", "verify")
    assert r.returncode == 1 and f"chain {s.org.id}: BROKEN at entry #{last - 1} (truncated)" in r.stdout


async def test_a_rebuilt_chain_and_a_forged_checkpoint_are_caught(installation: Installation) -> None:
    svc = installation.services
    s = await scene(svc)
    await say(svc, s.nurse, s.care, "note")
    await audit_trail.checkpoint_all(svc)
    async with svc.db.transaction() as tx:
        entries = [e async for e in tx.audit.entries(s.org.id)]
        # Rewrite entry 2 and recompute every later hash and the head: the chain alone looks fine.
        prev = entries[0].hash
        for e in entries[1:]:
            detail = {**e.detail, "kind": "group"} if e.seq == 2 else e.detail
            h = entry_hash(prev, e.chain, e.seq, e.at, e.action, e.actor_id, e.object_type, e.object_id, e.ip, detail)
            if e.action == "message.sent":  # the message's own row holds its hash
                await tx.conn.execute(update(entry).where(entry.c.audit_seq == e.seq, entry.c.id == e.object_id)
                                      .values(audit_hash=h))
            else:
                await tx.conn.execute(update(audit_entry).where(audit_entry.c.chain == s.org.id,
                                                                audit_entry.c.seq == e.seq)
                                      .values(detail=orjson.dumps(detail, option=orjson.OPT_SORT_KEYS).decode(),
                                              hash=h))
            prev = h
        await tx.conn.execute(update(audit_head).where(audit_head.c.chain == s.org.id).values(hash=prev))
    [(chain, _seq, reason)] = await _broken(installation)
    assert chain == s.org.id.hex and reason == "rewritten_since_checkpoint"
    async with svc.db.transaction() as tx:  # ... and re-signing without the private key fails
        await tx.conn.execute(update(audit_checkpoint).where(audit_checkpoint.c.chain == s.org.id)
                              .values(head_hash=prev))
    assert [(c, r) for c, _, r in await _broken(installation)] == [(s.org.id.hex, "checkpoint_signature_invalid")]


async def test_pruning_keeps_the_chain_verifiable(installation: Installation) -> None:
    svc = installation.services
    clock = use_clock(svc)
    s = await scene(svc)
    await say(svc, s.nurse, s.care, "ancien")
    # The organisation's chain has no checkpoint yet: it is not cut.
    early = await audit_trail.prune(svc, clock.now() + timedelta(days=400))
    assert [r for r in early if r.chain == str(s.org.id)] == []
    await audit_trail.checkpoint_all(svc)
    clock.advance(days=200)
    await say(svc, s.nurse, s.care, "récent")
    clock.advance(days=200)  # the first messages are 400 days old, the second 200
    reports = await audit_trail.prune(svc)
    org_report = next(r for r in reports if r.chain == str(s.org.id))
    assert org_report.removed > 0
    async with svc.db.transaction() as tx:
        remaining = [e async for e in tx.audit.entries(s.org.id)]
        assert remaining[0].seq == org_report.up_to_seq + 1
        assert all(e.at >= clock.now() - timedelta(days=365) for e in remaining)
        assert await tx.audit_trail.anchor(s.org.id) == org_report.up_to_seq
    assert await _broken(installation) == []
    async with svc.db.transaction() as tx:
        installation_actions = [e.action async for e in tx.audit.entries(INSTALLATION_CHAIN)]
    assert "audit.pruned" in installation_actions


async def test_export_verifies_offline_and_tampering_is_named(installation: Installation) -> None:
    svc = installation.services
    s = await scene(svc)
    await say(svc, s.nurse, s.care, "note")
    await audit_trail.checkpoint_all(svc)
    out = installation.settings.data_dir / "audit.jsonl"
    r = cli(installation, "audit", "export", "--from", "2020-01-01", "--to", "2100-01-01", "--org", s.org.slug,
            "--out", str(out))
    assert r.returncode == 0, r.stderr
    lines = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert lines[0]["type"] == "header" and lines[0]["public_key_ed25519"]
    assert {x["type"] for x in lines[1:]} == {"entry", "checkpoint"}
    assert {x["chain"] for x in lines[1:]} == {str(s.org.id)}
    assert any(x["type"] == "entry" and x["action"] == "message.sent" for x in lines)
    r = cli(installation, "audit", "verify-export", str(out), data_dir=False)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr
    tampered = [x for x in lines]
    victim = next(i for i, x in enumerate(tampered) if x["type"] == "entry" and x["seq"] == 2)
    tampered[victim] = {**tampered[victim], "action": "autre.chose"}
    out.write_bytes(b"\n".join(orjson.dumps(x) for x in tampered) + b"\n")
    r = cli(installation, "audit", "verify-export", str(out), data_dir=False)
    assert r.returncode == 1 and "BROKEN at entry #2 (altered)" in r.stdout
    async with svc.db.transaction() as tx:
        assert [e async for e in tx.audit.entries(s.org.id) if e.action == "audit.exported"]


async def test_dpo_sees_who_read_a_care_case_and_nobody_else_can(installation: Installation, server: Server) -> None:
    svc = installation.services
    s = await scene(svc)
    await say(svc, s.nurse, s.care, "Chute nocturne")
    await messages.history(svc, s.physician.actor, s.care)
    dpo = {"Authorization": f"Bearer {login(server.url, s.dpo)}"}
    r = httpx.get(f"{server.url}/api/v1/audit/traces", headers=dpo,
                  params={"conversation_id": str(s.care), "action": "care_case.read"})
    assert r.status_code == 200, r.text
    readers = {row["actor_name"] for row in r.json()}
    assert readers == {"Paul Lefèvre"}
    r = httpx.get(f"{server.url}/api/v1/audit/traces", headers=dpo, params={"conversation_id": str(s.care)})
    assert {"message.sent", "conversation.created", "care_case.read"} <= {row["action"] for row in r.json()}
    r = httpx.get(f"{server.url}/api/v1/audit/traces", headers=dpo,
                  params={"person_id": str(s.nurse.id), "format": "csv", "from": "2020-01-01"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows and all(row["actor_id"] == str(s.nurse.id) or str(s.nurse.id) in row["object_id"] + row["detail"]
                        for row in rows)
    assert "message.sent" in {row["action"] for row in rows}
    r = httpx.get(f"{server.url}/api/v1/audit/traces", headers=dpo, params={"from": "2030-01-02", "to": "2030-01-01"})
    assert r.status_code == 422 and r.json()["code"] == "period_invalid"
    nurse = {"Authorization": f"Bearer {login(server.url, s.nurse)}"}
    assert httpx.get(f"{server.url}/api/v1/audit/traces", headers=nurse).status_code == 403
    other = await scene(svc)  # another organisation's DPO cannot even learn the case exists
    other_dpo = {"Authorization": f"Bearer {login(server.url, other.dpo)}"}
    r = httpx.get(f"{server.url}/api/v1/audit/traces", headers=other_dpo, params={"conversation_id": str(s.care)})
    assert r.status_code == 404
    page = httpx.get(f"{server.url}/gouvernance/traces", params={"conversation_id": str(s.care)},
                     cookies={"chevet_session": dpo["Authorization"][7:]})
    assert page.status_code == 200 and "Paul Lefèvre" in page.text and "<script" not in page.text
    assert 'lang="fr"' in page.text and "Traces d'accès" in html.unescape(page.text)
    assert httpx.get(f"{server.url}/gouvernance/traces").status_code == 401
    async with svc.db.transaction() as tx:
        viewed = await tx.audit_trail.search(s.org.id, actions=["audit.viewed"], limit=10)
    assert viewed and all(e.actor_id == s.dpo.id for e in viewed)
    async with svc.db.transaction() as tx:
        assert (await tx.conn.execute(select(audit_entry.c.detail).where(audit_entry.c.chain == s.org.id))).all()


async def test_an_export_of_one_period_verifies_on_its_own(installation: Installation) -> None:
    svc = installation.services
    clock = use_clock(svc)
    s = await scene(svc)
    await audit_trail.checkpoint_all(svc)
    clock.advance(days=10)
    await say(svc, s.nurse, s.care, "plus tard")
    await audit_trail.checkpoint_all(svc)
    out = installation.settings.data_dir / "period.jsonl"
    since = (clock.now() - timedelta(days=5)).date().isoformat()
    r = cli(installation, "audit", "export", "--from", since, "--org", s.org.slug, "--out", str(out))
    assert r.returncode == 0, r.stderr
    entries = [orjson.loads(x) for x in out.read_bytes().splitlines() if b'"entry"' in x]
    assert entries and entries[0]["seq"] > 1 and all(e["at"] >= since for e in entries)
    r = cli(installation, "audit", "verify-export", str(out), data_dir=False)
    assert r.returncode == 0 and "1 checkpoints matched" in r.stdout, r.stdout + r.stderr

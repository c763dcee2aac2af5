"""Retention as of a given date deletes exactly what the policy says, on SQLite and PostgreSQL:
expired messages of living conversations go, closed care cases and inactive conversations are
crypto-shredded (key first), legal hold wins, a dry run changes nothing, members see expiry
before it happens, and every removal leaves a tombstone in the audit trail."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest

from chevet.app.governance import retention
from chevet.bootstrap import Installation
from chevet.core.errors import Forbidden, InvalidInput, NotFound
from tests.governance_support import T0, cli, say, scene, use_clock


async def _seqs(installation: Installation, conversation_id: object) -> list[int]:
    async with installation.services.db.transaction() as tx:
        return [e.seq for e in await tx.archive.entries(conversation_id)]  # type: ignore[arg-type]


async def test_as_of_deletes_exactly_what_the_policy_says(installation: Installation) -> None:
    svc = installation.services
    clock = use_clock(svc)
    s = await scene(svc)                         # t0: the three conversations are created
    clock.advance(days=10)
    await say(svc, s.manager, s.team, "relève J10")     # team seq 2
    clock.advance(days=50)
    await say(svc, s.manager, s.team, "relève J60")     # team seq 3
    await say(svc, s.nurse, s.direct, "question J60")   # direct seq 2
    await say(svc, s.nurse, s.care, "soin J60")         # care seq 2
    clock.advance(days=40)                              # t0 + 100 days
    await say(svc, s.manager, s.team, "relève J100")    # team seq 4

    # The team channel's messages go 90 days after they were written; nothing else is due yet.
    as_of = T0 + timedelta(days=100, seconds=1)
    dry = await retention.purge(svc, as_of, dry_run=True)
    assert [(e["conversation_id"], e["entries"]) for e in dry.expired_messages] == [(str(s.team), 2)]
    assert dry.shredded == [] and await _seqs(installation, s.team) == [1, 2, 3, 4]
    done = await retention.purge(svc, as_of)
    assert done.as_dict()["expired_messages"] == dry.as_dict()["expired_messages"]
    assert await _seqs(installation, s.team) == [3, 4]
    assert await _seqs(installation, s.direct) == [1, 2] and await _seqs(installation, s.care) == [1, 2]

    # One second before 90 days after J60, nothing more; at that instant, J60 goes.
    edge = T0 + timedelta(days=150)
    assert (await retention.purge(svc, edge - timedelta(seconds=1))).expired_messages == []
    assert [e["entries"] for e in (await retention.purge(svc, edge + timedelta(microseconds=1))).expired_messages] \
        == [1]
    assert await _seqs(installation, s.team) == [4]

    # The team channel, inactive for 90 days after J100, is shredded whole; the direct
    # conversation (inactive since J60) follows one year after its last message.
    report = await retention.purge(svc, T0 + timedelta(days=190, seconds=1))
    assert [x["conversation_id"] for x in report.shredded] == [str(s.team)]
    report = await retention.purge(svc, T0 + timedelta(days=60 + 365, seconds=1))
    assert [x["conversation_id"] for x in report.shredded] == [str(s.direct)]
    async with svc.db.transaction() as tx:
        assert await tx.conversations.get(s.org.id, s.direct) is None
        assert await tx.conversations.wrapped_key(s.direct) is None
        tombstones = await tx.audit_trail.search(s.org.id, actions=["retention.*"], limit=10)
    assert {e.action for e in tombstones} == {"retention.messages_expired", "retention.conversation_shredded"}
    assert all("body" not in e.detail for e in tombstones)
    assert await _seqs(installation, s.care) == [1, 2]  # an open care case keeps everything


async def test_closed_care_case_is_shredded_after_its_period_unless_held(installation: Installation) -> None:
    svc = installation.services
    clock = use_clock(svc)
    s = await scene(svc)
    await say(svc, s.nurse, s.care, "Chute nocturne, hématome frontal")
    with pytest.raises(InvalidInput):
        await retention.close_care_case(svc, s.manager.actor, s.team)  # only a care case closes
    view = await retention.close_care_case(svc, s.nurse.actor, s.care)
    closed_at = clock.now()
    assert view["expires_at"] == (closed_at + timedelta(days=365)).isoformat()
    # The owner shortens it within the DPO's limits; outside them, a clear error.
    view = await retention.set_override(svc, s.nurse.actor, s.care, 30)
    assert view["expires_at"] == (closed_at + timedelta(days=30)).isoformat()
    with pytest.raises(InvalidInput) as exc:
        await retention.set_override(svc, s.nurse.actor, s.care, 5)
    assert exc.value.code == "retention_out_of_limits"
    with pytest.raises(Forbidden):
        await retention.set_override(svc, s.physician.actor, s.care, 60)
    # What the physician sees before it happens.
    seen = await retention.conversation_retention(svc, s.physician.actor, s.care)
    assert seen["expires_at"] == (closed_at + timedelta(days=30)).isoformat() and seen["legal_hold"] is False
    assert [v["conversation_id"] for v in await retention.expiring(svc, s.physician.actor, 31)] == [str(s.care)]

    # Legal hold (DPO): nothing goes, and the report says why.
    await retention.set_legal_hold(svc, s.dpo.actor, s.org.id, s.care, True)
    assert (await retention.conversation_retention(svc, s.nurse.actor, s.care))["expires_at"] is None
    report = await retention.purge(svc, closed_at + timedelta(days=31))
    assert report.held == [str(s.care)] and report.shredded == []
    with pytest.raises(Forbidden):
        await retention.set_legal_hold(svc, s.nurse.actor, s.org.id, s.care, False)
    await retention.set_legal_hold(svc, s.dpo.actor, s.org.id, s.care, False)
    report = await retention.purge(svc, closed_at + timedelta(days=31))
    assert [x["conversation_id"] for x in report.shredded] == [str(s.care)]
    with pytest.raises(NotFound):
        await retention.conversation_retention(svc, s.nurse.actor, s.care)


async def test_dpo_sets_policies_and_cli_applies_as_of(installation: Installation) -> None:
    svc = installation.services
    use_clock(svc)
    s = await scene(svc)
    with pytest.raises(Forbidden):
        await retention.set_policy(svc, s.nurse.actor, s.org.id, "team", days=30, min_days=7, max_days=60)
    rule = await retention.set_policy(svc, s.dpo.actor, s.org.id, "team", days=30, min_days=7, max_days=60)
    assert rule["days"] == 30 and rule["default_days"] == 90 and rule["rationale"]
    with pytest.raises(InvalidInput):
        await retention.set_policy(svc, s.dpo.actor, s.org.id, "team", days=300, min_days=7, max_days=60)
    as_of = (T0 + timedelta(days=31)).isoformat()
    r = cli(installation, "retention", "apply", "--as-of", as_of, "--dry-run")
    assert r.returncode == 0, r.stderr
    report = orjson.loads(r.stdout)
    assert report["dry_run"] is True
    assert [x["conversation_id"] for x in report["shredded"]] == [str(s.team)]
    r = cli(installation, "retention", "apply", "--as-of", "pas une date")
    assert r.returncode == 2 and "--as-of" in r.stderr
    async with svc.db.transaction() as tx:
        assert await tx.conversations.get(s.org.id, s.team) is not None  # the dry run changed nothing


async def test_one_purge_at_a_time_across_processes(installation: Installation) -> None:
    if installation.settings.database.url is None:
        pytest.skip("SQLite transactions are serialised: a second purge simply waits")
    svc = installation.services
    async with svc.db.transaction() as tx:
        assert await tx.retention.lock_purge()
        report = await retention.purge(svc)  # another connection, as another server process would
        assert report.skipped is True
    assert (await retention.purge(svc)).skipped is False


async def test_expired_messages_and_shredded_conversations_take_their_files(installation: Installation) -> None:
    import uuid

    from chevet.app.attachments import upload
    from chevet.app.messaging import messages
    from tests.media_samples import pdf

    svc = installation.services
    clock = use_clock(svc)
    s = await scene(svc)
    blobs = installation.settings.blobs_path
    for conv, who in ((s.team, s.manager), (s.care, s.nurse)):
        att, _ = await upload.upload(svc, who.actor, conv, data=pdf(f"fichier {conv}"), name="cr.pdf")
        await messages.send_message(svc, who.actor, conv, body="pièce jointe", client_id=uuid.uuid4().hex,
                                    attachment_ids=[uuid.UUID(str(att["id"]))])
    assert len([p for p in blobs.rglob("*") if p.is_file()]) == 2
    await retention.close_care_case(svc, s.nurse.actor, s.care)
    clock.advance(days=70)
    await say(svc, s.manager, s.team, "toujours actif")
    preview = await retention.next_month_preview(svc, s.dpo.actor)
    assert preview["available"] is True and preview["attachments"] == 1  # the team channel's file
    report = await retention.purge(svc, clock.now() + timedelta(days=60))
    assert [x["conversation_id"] for x in report.expired_messages] == [str(s.team)]
    assert len([p for p in blobs.rglob("*") if p.is_file()]) == 1
    await retention.purge(svc, clock.now() + timedelta(days=366))
    assert [p for p in blobs.rglob("*") if p.is_file()] == []

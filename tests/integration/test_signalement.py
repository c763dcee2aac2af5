"""Signalement on SQLite and PostgreSQL: the three reporter modes (and that an anonymous one
leaves no trace of its reporter anywhere in the database), access per role and organisation,
the regulatory cycle from qualification to the recorded submission, and closure."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
import pytest

from chevet.app.governance import audit
from chevet.app.signalement import designations, filing, forms, handling, reports
from chevet.app.signalement import retention as report_retention
from chevet.bootstrap import Installation
from chevet.core.errors import Forbidden, InvalidInput, NotFound
from tests.signalement_support import ESSMS_COMPLETION, contains, ehpad, fall, identity_needles, snapshot
from tests.support import new_member


async def test_anonymous_report_leaves_no_trace_of_its_reporter(installation: Installation) -> None:
    svc = installation.services
    e = await ehpad(svc)
    before = await snapshot(svc)
    filed = await filing.file_report(svc, e.carer.actor, mode="anonymous", **fall(svc.clock.now()))
    after = await snapshot(svc)

    new_rows = {t: after[t] - before.get(t, set()) for t in after}
    assert new_rows["report"], "the report is stored"
    needles = [*identity_needles(e.carer), "127.0.0.1", b"127.0.0.1"]
    for table, rows in new_rows.items():
        for row in rows:
            for value in row:
                for needle in needles:
                    assert not contains(value, needle), f"{table} holds {needle!r}"
    # The audit entry is not appended beside the reporter's latest entries: the periodic job
    # appends it later, and it says only that a report was filed.
    assert [e_ for e_ in await _audit(svc, e.org.id) if e_.action == "report.filed"] == []
    assert await filing.record_anonymous_filings(svc) == 1
    assert await filing.record_anonymous_filings(svc) == 0
    [entry] = [e_ for e_ in await _audit(svc, e.org.id) if e_.action == "report.filed"]
    assert entry.actor_id is None and entry.ip is None and entry.detail == {"mode": "anonymous"}
    assert all(r.is_ok for r in await _verify(svc))
    # The id does not date the report (not a UUIDv7) and the quality lead sees no reporter.
    assert filed.report_id.version == 4
    view = await reports.get_report(svc, e.quality.actor, filed.report_id)
    assert view["reporter"] is None and view["mode"] == "anonymous"
    # The reporter cannot find it again by identity: only the follow-up code leads to it.
    assert await reports.list_reports(svc, e.carer.actor) == []
    assert [x.action for x in await _audit(svc, e.org.id) if x.actor_id == e.carer.id] == []
    await handling.give_feedback(svc, e.quality.actor, filed.report_id, "Merci : barrières de lit revues.")
    seen = await filing.followup(svc, filed.followup_code.lower())
    assert seen["feedback"] == "Merci : barrières de lit revues." and seen["status"] == "new"
    with pytest.raises(NotFound):
        await filing.followup(svc, "AAAAA-BBBBB-CCCCC-DDDDD")


async def test_confidential_reporter_is_seen_by_the_quality_lead_only(installation: Installation) -> None:
    svc = installation.services
    e = await ehpad(svc)
    filed = await filing.file_report(svc, e.carer.actor, mode="confidential", **fall(svc.clock.now()))
    by_ql = await reports.get_report(svc, e.quality.actor, filed.report_id)
    assert by_ql["reporter"] == {"id": str(e.carer.id), "name": "Aïcha Soignante"}
    by_director = await reports.get_report(svc, e.admin.actor, filed.report_id)
    assert by_director["reporter"] is None
    [entry] = [x for x in await _audit(svc, e.org.id) if x.action == "report.filed"]
    assert entry.actor_id is None and entry.ip is None
    after = await snapshot(svc)
    for value in next(r for r in after["report"] if r[0] in (filed.report_id, filed.report_id.bytes)):
        assert not contains(value, e.carer.id) and not contains(value, e.carer.id.bytes)


async def test_named_report_is_visible_to_its_reporter_but_not_to_colleagues(installation: Installation) -> None:
    svc = installation.services
    e = await ehpad(svc)
    filed = await filing.file_report(svc, e.carer.actor, mode="named", **fall(svc.clock.now()))
    mine = await reports.get_report(svc, e.carer.actor, filed.report_id)
    assert mine["reporter"]["name"] == "Aïcha Soignante" and "deadlines" not in mine
    with pytest.raises(NotFound):
        await reports.get_report(svc, e.nurse.actor, filed.report_id)
    with pytest.raises(Forbidden):
        await handling.qualify(svc, e.carer.actor, filed.report_id, severity="major")
    # Added explicitly, the colleague sees it; another organisation's quality lead never does.
    await handling.add_reader(svc, e.quality.actor, filed.report_id, e.nurse.id)
    assert (await reports.get_report(svc, e.nurse.actor, filed.report_id))["what"].startswith("Chute")
    other = await ehpad(svc)
    with pytest.raises(NotFound):
        await reports.get_report(svc, other.quality.actor, filed.report_id)
    with pytest.raises(NotFound):
        await reports.get_report(svc, other.admin.actor, filed.report_id)
    assert await reports.list_reports(svc, other.quality.actor) == []
    # Every read is traced with its reader.
    reads = [x for x in await _audit(svc, e.org.id) if x.action == "report.read"]
    assert {x.actor_id for x in reads} == {e.carer.id, e.nurse.id}


async def test_report_refuses_bad_input_and_changes_nothing(installation: Installation) -> None:
    svc = installation.services
    e = await ehpad(svc)
    now = svc.clock.now()
    before = await snapshot(svc)
    for bad, code in [(fall(now, affected_refs=["1 84 12 75 123 456 78"]), "national_id_refused"),
                      (fall(now, what="Chute de 2 85 03 69 123 456 12"), "national_id_refused"),
                      (fall(now, occurred_at=now + timedelta(days=1)), "report_time_in_future"),
                      (fall(now, what="  "), "report_field_required"),
                      (fall(now, discovered_at=now - timedelta(days=3)), "report_discovery_before_occurrence")]:
        with pytest.raises(InvalidInput) as err:
            await filing.file_report(svc, e.carer.actor, mode="named", **bad)
        assert err.value.code == code
    with pytest.raises(InvalidInput):
        await filing.file_report(svc, e.carer.actor, mode="whatever", **fall(now))
    after = await snapshot(svc)
    assert after["report"] == before["report"] and after["audit_entry"] == before["audit_entry"]


async def test_full_cycle_from_qualification_to_closure(installation: Installation) -> None:
    svc = installation.services
    e = await ehpad(svc)
    now = svc.clock.now()
    filed = await filing.file_report(svc, e.carer.actor, mode="named", **fall(now))
    view = await handling.qualify(svc, e.quality.actor, filed.report_id, severity="major", categories=["defaut_soins"],
                                 eigs=["permanent_sequela"], note="Deuxième chute en un mois")
    kinds = {d["kind"]: d for d in view["deadlines"]}
    assert set(kinds) == {"essms_inform", "essms_written", "eigs_part1", "eigs_part2"}
    assert kinds["essms_written"]["state"] == "due"

    # The quality lead cannot validate; the form is pre-filled and the director completes it.
    form = await forms.get_form(svc, e.quality.actor, filed.report_id, "essms")
    values = {f["key"]: f["value"] for f in form["fields"]}
    assert values["structure_name"] == e.org.name and values["nature"].startswith("Chute")
    assert "structure_finess" in form["missing"]
    with pytest.raises(Forbidden):
        await forms.validate_form(svc, e.quality.actor, filed.report_id, "essms")
    with pytest.raises(InvalidInput) as err:
        await forms.validate_form(svc, e.admin.actor, filed.report_id, "essms")
    assert "structure_finess" in err.value.params["missing"]
    complete = {k: v for k, v in values.items() if v is not None} | ESSMS_COMPLETION
    await forms.save_form(svc, e.admin.actor, filed.report_id, "essms", complete)
    with pytest.raises(InvalidInput):  # written submission before validation
        await forms.record_submission(svc, e.admin.actor, filed.report_id, "essms", at=None,
                                             channel="email", reference="")
    await forms.record_submission(svc, e.admin.actor, filed.report_id, "essms", at=None, channel="phone",
                                         reference="appel ARS")
    validated = await forms.validate_form(svc, e.admin.actor, filed.report_id, "essms")
    assert validated["status"] == "validated" and validated["missing"] == []

    doc = orjson.loads((await forms.export_form(svc, e.admin.actor, filed.report_id, "essms", "json")).body)
    fields = {f["key"]: f["value"] for f in doc["fields"]}
    assert doc["form"] == "essms" and doc["validated_by"] == "Danielle Directrice"
    assert fields["structure_finess"] == "750000001" and fields["cvs_informed"] is True
    assert fields["categories"].startswith("4° Les accidents ou incidents liés à une erreur")
    out = await forms.export_form(svc, e.admin.actor, filed.report_id, "essms", "pdf")
    assert out.body.startswith(b"%PDF") and out.media_type == "application/pdf"
    await forms.record_submission(svc, e.admin.actor, filed.report_id, "essms", at=None, channel="email",
                                         reference="ARS-2026-0042")
    view = await reports.get_report(svc, e.quality.actor, filed.report_id)
    states = {d["kind"]: d["state"] for d in view["deadlines"]}
    assert states["essms_inform"] == "done" and states["essms_written"] == "done"
    assert states["eigs_part1"] == "due"
    assert [s["reference"] for s in view["submissions"]] == ["appel ARS", "ARS-2026-0042"]

    # Follow-up: analysis, actions with owners, the discussion, closure once the plan is done.
    await handling.record_analysis(svc, e.quality.actor, filed.report_id, method="CREX", date="2026-12-03",
                                  root_causes="Sonnette hors de portée", lessons="Vérifier au coucher")
    action = await handling.add_action(svc, e.quality.actor, filed.report_id, title="Installer un détecteur",
                                      owner_id=e.nurse.id, due_at=now + timedelta(days=30))
    eigs2 = await forms.get_form(svc, e.quality.actor, filed.report_id, "eigs_2")
    prefilled = {f["key"]: f["value"] for f in eigs2["fields"]}
    assert prefilled["analysis_method"] == "CREX" and "Installer un détecteur" in prefilled["action_plan"]
    conversation_id = await handling.open_discussion(svc, e.quality.actor, filed.report_id, [e.nurse.id, e.carer.id])
    assert (await reports.get_report(svc, e.quality.actor, filed.report_id))["conversation_id"] == str(conversation_id)
    with pytest.raises(InvalidInput):
        await handling.open_discussion(svc, e.quality.actor, filed.report_id, [])
    from chevet.app.messaging import conversations
    discussion = await conversations.get_conversation(svc, e.nurse.actor, conversation_id)
    assert discussion["kind"] == "group" and "Chute" not in discussion["title"]
    with pytest.raises(InvalidInput) as err:
        await handling.close(svc, e.quality.actor, filed.report_id)
    assert err.value.code == "report_actions_open"
    await handling.complete_action(svc, e.nurse.actor, filed.report_id, action)  # the owner marks it done
    with pytest.raises(InvalidInput) as err:
        await handling.close(svc, e.quality.actor, filed.report_id)
    assert err.value.code == "report_deadlines_open"
    for kind in ("eigs_1", "eigs_2"):
        await _complete_and_send(svc, e.admin.actor, filed.report_id, kind)
    await handling.close(svc, e.quality.actor, filed.report_id)
    assert (await filing.followup(svc, filed.followup_code))["closed"] is True

    dash = await forms.dashboard(svc, e.quality.actor)
    assert dash["counts"] == {"done": 4, "due": 0, "overdue": 0}  # closed reports stay listed
    with pytest.raises(Forbidden):
        await forms.dashboard(svc, e.carer.actor)
    stats = await forms.report_statistics(svc, e.admin.actor, now - timedelta(days=40), now + timedelta(days=1))
    assert stats.total == 1 and stats.actions_done == 1 and stats.deadlines_met == 4 and stats.eigs == 1
    actions_audited = {x.action for x in await _audit(svc, e.org.id)}
    assert {"report.qualified", "report.form_validated", "report.form_exported", "report.submission_recorded",
            "report.analysis_recorded", "report.action_done", "report.closed"} <= actions_audited
    assert all(r.is_ok for r in await _verify(svc))


async def test_reminders_are_sent_once_per_stage(installation: Installation) -> None:
    from chevet.core.entities import RealtimeEvent

    svc = installation.services
    e = await ehpad(svc)
    filed = await filing.file_report(svc, e.carer.actor, mode="anonymous", **fall(svc.clock.now()))
    await handling.qualify(svc, e.quality.actor, filed.report_id, severity="critical", gdpr_breach=True,
                          awareness_at=svc.clock.now() - timedelta(hours=80))
    seen: list[RealtimeEvent] = []
    await svc.bus.start(seen.append)
    # Two rounds at once (two server processes' jobs, concurrent transactions on PostgreSQL):
    # the stage is notified by one of them only.
    assert sorted(await asyncio.gather(forms.send_reminders(svc), forms.send_reminders(svc))) == [0, 1]
    assert await forms.send_reminders(svc) == 0
    assert sum(1 for ev in seen if ev.payload["type"] == "signalement.reminder") == 1
    reminder = next(ev for ev in seen if ev.payload["type"] == "signalement.reminder")
    assert reminder.payload["stage"] == "overdue" and reminder.payload["deadline"] == "gdpr"
    assert set(reminder.user_ids) == {e.admin.id, e.quality.id} and reminder.private


async def test_retention_purge_crypto_shreds_closed_reports_after_their_period(installation: Installation) -> None:
    from dataclasses import replace

    from chevet.app.governance import retention
    from chevet.core.signalement.report import ReportStatus

    svc = installation.services
    e = await ehpad(svc)
    dpo = await new_member(svc, e.org, "dpo")
    now = svc.clock.now()
    internal = await filing.file_report(svc, e.carer.actor, mode="named", **fall(now))
    await handling.qualify(svc, e.quality.actor, internal.report_id, severity="minor")
    await handling.close(svc, e.quality.actor, internal.report_id)
    eigs = await filing.file_report(svc, e.carer.actor, mode="named", **fall(now))
    await handling.qualify(svc, e.quality.actor, eigs.report_id, severity="major", categories=["defaut_soins"],
                          eigs=["permanent_sequela"])
    async with svc.db.transaction() as tx:  # declared and analysed long ago: closed as well
        r = await tx.reports.get(e.org.id, eigs.report_id)
        assert r is not None
        await tx.reports.save(replace(r, status=ReportStatus.CLOSED, closed_at=now))
    still_open = await filing.file_report(svc, e.carer.actor, mode="named", **fall(now))
    await handling.qualify(svc, e.quality.actor, still_open.report_id, severity="minor")

    # The DPO shortens internal reports to 400 days; out-of-bounds or unknown types are refused.
    with pytest.raises(Forbidden):
        await report_retention.set_retention(svc, e.nurse.actor, e.org.id, "signalement.internal", 400)
    with pytest.raises(InvalidInput) as bad:
        await report_retention.set_retention(svc, dpo.actor, e.org.id, "signalement.chute", 400)
    assert bad.value.code == "report_record_type_unknown"
    with pytest.raises(InvalidInput) as bad:
        await report_retention.set_retention(svc, dpo.actor, e.org.id, "signalement.internal", 30)
    assert bad.value.code == "report_retention_out_of_limits"
    assert (await report_retention.set_retention(svc, dpo.actor, e.org.id, "signalement.internal", 400))["days"] == 400
    policies = await report_retention.retention_policies(svc, e.carer.actor, e.org.id)
    periods = {p["record_type"]: p["days"] for p in policies}
    assert periods["signalement.internal"] == 400 and periods["signalement.eigs"] == 3650

    # A dry run names what would go and changes nothing; the real run shreds it, and only it.
    before = await snapshot(svc)
    soon = await retention.purge(svc, now + timedelta(days=401), dry_run=True)
    assert [x["report_id"] for x in soon.reports] == [str(internal.report_id)]
    assert soon.reports[0]["types"] == ["signalement.internal"] and soon.reports[0]["days"] == 400
    assert await snapshot(svc) == before
    done = await retention.purge(svc, now + timedelta(days=401))
    assert done.as_dict()["totals"]["reports_shredded"] == 1
    with pytest.raises(NotFound):
        await reports.get_report(svc, e.quality.actor, internal.report_id)
    await reports.get_report(svc, e.quality.actor, eigs.report_id)
    async with svc.db.transaction() as tx:
        trail = [x for x in await tx.audit.query(e.org.id, limit=500) if x.action == "report.purged"]
    assert [x.object_id for x in trail] == [internal.report_id]

    # The EIGS (kept ten years, the longest of its types) goes later; an open report never does.
    late = await retention.purge(svc, now + timedelta(days=3651))
    assert [x["report_id"] for x in late.reports] == [str(eigs.report_id)]
    assert set(late.reports[0]["types"]) == {"signalement.essms", "signalement.eigs"}
    rows = await snapshot(svc)
    assert len(rows["report"]) == len(rows["report_key"]) == 1
    await reports.get_report(svc, e.quality.actor, still_open.report_id)


async def test_only_administrators_designate(installation: Installation) -> None:
    svc = installation.services
    e = await ehpad(svc)
    with pytest.raises(Forbidden):
        await designations.designate(svc, e.quality.actor, e.nurse.id, "director", True)
    manager = await new_member(svc, e.org, "manager")
    assert await designations.my_functions(svc, manager.actor) == frozenset()
    await designations.designate(svc, e.admin.actor, manager.id, "director", True)
    assert {f.value for f in await designations.my_functions(svc, manager.actor)} == {"director"}


async def _complete_and_send(svc, actor, report_id, kind):  # type: ignore[no-untyped-def]
    form = await forms.get_form(svc, actor, report_id, kind)
    filler = {"count": 1, "yesno": False}
    values = {f["key"]: f["value"] if f["value"] not in (None, "") else filler.get(f["type"], "Renseigné")
              for f in form["fields"] if f["required"] or f["value"] not in (None, "")}
    await forms.save_form(svc, actor, report_id, kind, values)
    await forms.validate_form(svc, actor, report_id, kind)
    await forms.record_submission(svc, actor, report_id, kind, at=None, channel="portal", reference="EIGS-1")


async def _audit(svc, org_id):  # type: ignore[no-untyped-def]
    async with svc.db.transaction() as tx:
        return [x async for x in tx.audit.entries(org_id)]


async def _verify(svc):  # type: ignore[no-untyped-def]
    class R:
        def __init__(self, rep) -> None:  # type: ignore[no-untyped-def]
            self.is_ok = rep.broken is None
    return [R(r) for r in await audit.verify_audit(svc)]


async def test_care_content_is_never_stored_in_clear(installation: Installation) -> None:
    svc = installation.services
    e = await ehpad(svc)
    filed = await filing.file_report(svc, e.carer.actor, mode="named", **fall(svc.clock.now()))
    await handling.qualify(svc, e.quality.actor, filed.report_id, severity="major", categories=["defaut_soins"],
                          note="Troisième chute de Mme R.")
    await handling.record_analysis(svc, e.quality.actor, filed.report_id, method="RMM", date=None,
                                  root_causes="Barrières abaissées la nuit", lessons=None)
    await handling.add_action(svc, e.quality.actor, filed.report_id, title="Revoir la ronde de 3 h", owner_id=None,
                             due_at=None)
    await handling.give_feedback(svc, e.quality.actor, filed.report_id, "Merci pour la vigilance nocturne")
    await forms.save_form(svc, e.admin.actor, filed.report_id, "essms", {"media_details": "Presse locale"})
    rows = await snapshot(svc)
    needles = ["hématome", "Chambre 12", "CH12-R", "surveillance neurologique", "Troisième chute",
               "Barrières abaissées", "ronde de 3 h", "vigilance nocturne", "Presse locale"]
    for table, values in rows.items():
        for row in values:
            for value in row:
                for needle in needles:
                    assert not contains(value, needle) and not contains(value, needle.encode()), (table, needle)
    assert (await reports.get_report(svc, e.quality.actor, filed.report_id))["place"].startswith("Chambre 12")

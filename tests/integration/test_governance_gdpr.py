"""GDPR: a person's data (and only theirs), anonymisation of a departed colleague that keeps
the team's care content, the Art. 30 register from configuration, and breaches with their
72-hour deadline."""

from __future__ import annotations

import html
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from chevet.app.governance import gdpr
from chevet.app.identity import people
from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
from chevet.core.errors import AuthenticationFailed, Forbidden, InvalidInput
from tests.governance_support import PASSPHRASE, cli, say, scene, use_clock
from tests.support import Server, login, new_member


async def test_subject_access_holds_everything_of_the_person_and_nothing_of_others(
        installation: Installation, tmp_path: Path) -> None:
    svc = installation.services
    s = await scene(svc)
    await say(svc, s.nurse, s.care, "Pansement refait à 10 h")
    await say(svc, s.physician, s.care, "Secret du médecin : traitement modifié")
    await say(svc, s.nurse, s.team, "Relève faite")
    await messages.history(svc, s.physician.actor, s.care)
    group, _ = await conversations.create_conversation(svc, s.physician.actor, kind="group", title="Projet plaies",
                                                       member_ids=[s.manager.id])
    await conversations.add_member(svc, s.physician.actor, uuid.UUID(group["id"]), s.nurse.id)
    out = tmp_path / "access.chevet"
    env = {"CHEVET_EXPORT_PASSPHRASE": PASSPHRASE}
    r = cli(installation, "gdpr", "access", "--org", s.org.slug, "--email", s.nurse.email, "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr
    opened = tmp_path / "opened"
    assert cli(installation, "archive", "extract", str(out), "--to", str(opened), env=env,
               data_dir=False).returncode == 0
    profile = orjson.loads((opened / "profile.json").read_bytes())
    assert profile["email"] == s.nurse.email and profile["name"] == "Sophie Bernard"
    bodies = [orjson.loads(x)["body"] for x in (opened / "messages.jsonl").read_bytes().splitlines()]
    assert sorted(bodies) == ["Pansement refait à 10 h", "Relève faite"]
    assert len((opened / "memberships.jsonl").read_bytes().splitlines()) == 4
    traces = [orjson.loads(x) for x in (opened / "traces.jsonl").read_bytes().splitlines()]
    assert {"person.added", "message.sent", "conversation.created"} <= {t["action"] for t in traces}
    assert all(t["ip"] is None for t in traces if t["actor_id"] != str(s.nurse.id))
    assert any(t["actor_id"] == str(s.physician.id) and t["action"] == "conversation.member_added" for t in traces)
    everything = b"".join(p.read_bytes() for p in opened.rglob("*") if p.is_file())
    readable = html.unescape(everything.decode())
    for other in ("Secret du médecin", "Paul Lefèvre", s.physician.email, "Claire Martin", s.dpo.email):
        assert other not in readable, other
    assert "Pansement refait à 10 h" in readable  # and the HTML index is readable too


async def test_self_service_and_dpo_api(installation: Installation, server: Server) -> None:
    svc = installation.services
    s = await scene(svc)
    await say(svc, s.nurse, s.care, "Ma note")
    nurse = {"Authorization": f"Bearer {login(server.url, s.nurse)}"}
    mine = httpx.get(f"{server.url}/api/v1/me/data", headers=nurse).json()
    assert mine["profile"]["id"] == str(s.nurse.id) and [m["body"] for m in mine["messages"]] == ["Ma note"]
    assert httpx.get(f"{server.url}/api/v1/gdpr/people/{s.physician.id}/data", headers=nurse).status_code == 403
    dpo = {"Authorization": f"Bearer {login(server.url, s.dpo)}"}
    theirs = httpx.get(f"{server.url}/api/v1/gdpr/people/{s.nurse.id}/data", headers=dpo)
    assert theirs.status_code == 200 and theirs.json()["profile"]["email"] == s.nurse.email
    reg = httpx.get(f"{server.url}/api/v1/gdpr/register", headers=dpo).json()
    assert {r["kind"]: r["days"] for r in reg["retention"]}["team"] == 90
    assert reg["hosting"]["location"] == "France" and reg["security_measures"]
    # Retention over HTTP: what expires and when, and a clear French refusal outside the limits.
    r = httpx.get(f"{server.url}/api/v1/conversations/{s.team}/retention", headers=nurse)
    assert r.status_code == 200 and r.json()["days"] == 90 and r.json()["expires_at"]
    manager = {"Authorization": f"Bearer {login(server.url, s.manager)}"}
    r = httpx.put(f"{server.url}/api/v1/conversations/{s.team}/retention", headers=manager, json={"days": 1000})
    assert r.status_code == 422 and r.json()["code"] == "retention_out_of_limits"
    assert "entre 7 et 365 jours" in r.json()["detail"]
    r = httpx.put(f"{server.url}/api/v1/conversations/{s.team}/retention", headers=manager, json={"days": "x"})
    assert r.status_code == 422
    r = httpx.put(f"{server.url}/api/v1/conversations/{s.team}/legal-hold", headers=dpo, json={"hold": True})
    assert r.status_code == 204
    assert httpx.get(f"{server.url}/api/v1/conversations/{s.team}/retention",
                     headers=nurse).json()["expires_at"] is None
    r = httpx.post(f"{server.url}/api/v1/conversations/{s.team}/close", headers=manager)
    assert r.status_code == 422 and r.json()["code"] == "only_care_case_closes"
    page = httpx.get(f"{server.url}/api/v1/gdpr/register", params={"format": "html"}, headers=dpo)
    assert page.status_code == 200 and "Registre des activités de traitement" in page.text
    assert "<script" not in page.text


async def test_anonymising_a_departed_colleague_keeps_the_care_content(installation: Installation) -> None:
    svc = installation.services
    s = await scene(svc)
    await say(svc, s.nurse, s.care, "Escarre talon gauche, pansement hydrocolloïde")
    admin = await new_member(svc, s.org, "admin", "Alice Admin")
    with pytest.raises(InvalidInput):
        await gdpr.anonymise(svc, admin.actor, s.org, s.nurse.id)
    with pytest.raises(Forbidden):
        await gdpr.anonymise(svc, s.physician.actor, s.org, s.nurse.id)
    await people.deactivate(svc, admin.actor, s.nurse.id)
    pseudonym = await gdpr.anonymise(svc, admin.actor, s.org, s.nurse.id)
    async with svc.db.transaction() as tx:
        person = await tx.people.get(s.org.id, s.nurse.id)
        assert person is not None and person.name == pseudonym and "Sophie" not in person.name
        assert person.email.endswith("@anonyme.invalid") and person.rpps is None
        assert await tx.people.by_email(s.nurse.email) is None
        creds = await tx.people.credentials(s.nurse.id)
        assert creds.password_hash is None and creds.totp_sealed is None
    page = await messages.history(svc, s.physician.actor, s.care)
    [note] = [m for m in page if m.get("body")]
    assert note["body"] == "Escarre talon gauche, pansement hydrocolloïde"
    assert note["author_id"] == str(s.nurse.id) and note["author_name"] == pseudonym


async def test_breach_log_shows_the_72_hour_deadline(installation: Installation, server: Server) -> None:
    svc = installation.services
    s = await scene(svc)
    clock = use_clock(svc)
    discovered = clock.now() - timedelta(hours=10)
    b = await gdpr.record_breach(svc, s.dpo.actor, discovered_at=discovered, nature="Courriel mal adressé",
                                 data_categories="identité, santé", people_affected=1, consequences="",
                                 measures="rappel du message")
    assert b["deadline"] == (discovered + timedelta(hours=72)).isoformat() and b["hours_left"] == 62.0
    assert b["overdue"] is False
    clock.advance(hours=63)
    [late] = await gdpr.breaches(svc, s.dpo.actor)
    assert late["overdue"] is True
    with pytest.raises(InvalidInput) as late:  # after 72 hours, the notification gives the reasons
        await gdpr.update_breach(svc, s.dpo.actor, uuid.UUID(b["id"]), authority_notified=True)
    assert late.value.code == "breach_late_reason_required"
    done = await gdpr.update_breach(svc, s.dpo.actor, uuid.UUID(b["id"]), authority_notified=True,
                                    late_reason="DPO absent le week-end")
    assert done["overdue"] is False and done["authority_notified_at"] == clock.now().isoformat()
    with pytest.raises(InvalidInput):
        await gdpr.record_breach(svc, s.dpo.actor, discovered_at=clock.now() + timedelta(days=1), nature="x",
                                 data_categories="y", people_affected=None, consequences="", measures="")
    with pytest.raises(Forbidden):
        await gdpr.breaches(svc, s.nurse.actor)
    dpo = {"Authorization": f"Bearer {login(server.url, s.dpo)}"}
    r = httpx.post(f"{server.url}/api/v1/gdpr/breaches", headers=dpo,
                   json={"discovered_at": "2026-11-28T08:00:00+00:00", "nature": "", "data_categories": "x"})
    assert r.status_code == 422 and r.json()["code"] == "breach_field_required"
    page = httpx.get(f"{server.url}/gouvernance/violations", cookies={"chevet_session": dpo["Authorization"][7:]})
    assert page.status_code == 200 and "Courriel mal adressé" in html.unescape(page.text)


async def test_after_anonymisation_no_audit_entry_reveals_her_addresses(installation: Installation) -> None:
    """Her sign-in addresses are kept, sealed under a key of hers, so that the audit trail says
    where she signed in from; anonymisation destroys that key. Afterwards no row of the
    database holds her addresses in any form an administrator can read, and the chain verifies."""
    from sqlalchemy import MetaData, select

    from chevet.app.governance import audit_trail
    from chevet.app.identity import auth
    from chevet.core import totp

    svc = installation.services
    s = await scene(svc)
    admin = await new_member(svc, s.org, "admin", "Alice Admin")
    home, ward = "203.0.113.77", "2001:db8:77::1"
    with pytest.raises(AuthenticationFailed):  # a failed attempt, from elsewhere
        await auth.login(svc, s.nurse.email, "mauvais mot de passe", "000000", ip=ward)
    signed = await auth.login(svc, s.nurse.email, s.nurse.password, s.nurse.otp(), ip=home,
                              user_agent="Firefox de Sophie")
    nurse = await auth.authenticate(svc, signed.token, home)
    await messages.send_message(svc, nurse, s.care, body="Pansement refait", client_id="n-1")
    await conversations.mark_read(svc, nurse, s.care, 1)
    step = totp.step_of(svc.clock.now().timestamp()) + 1  # the next code: the current one was used
    await auth.reauthenticate(svc, nurse, s.nurse.password, totp.code_at(s.nurse.totp_secret, step))

    async def readable() -> list[str]:
        """The tables where one of her addresses can be read, in any row (the schema is reflected)."""
        needles = [home, ward, home.encode(), ward.encode()]
        found = []
        async with svc.db.engine.connect() as conn:  # type: ignore[attr-defined]
            meta = MetaData()
            await conn.run_sync(meta.reflect)
            for name, table in meta.tables.items():
                for row in await conn.execute(select(table)):
                    for value in row:
                        value = bytes(value) if isinstance(value, memoryview) else value
                        if any(isinstance(value, type(n)) and n in value for n in needles):  # type: ignore[operator]
                            found.append(name)
        return found

    # Kept for the audit (the DPO sees where she signed in from), but never in clear in the trail.
    shown = await audit_trail.traces(svc, admin.actor, audit_trail.TraceQuery(person_id=s.nurse.id, limit=100))
    by_action = {t["action"]: t["ip"] for t in shown if t["actor_id"] == str(s.nurse.id)}
    assert by_action["auth.login"] == home and by_action["auth.login_failed"] == ward
    assert by_action["auth.reauthenticated"] == home and by_action["message.sent"] is None
    assert await readable() == ["session"]  # her open session shows where it is used from

    await people.deactivate(svc, admin.actor, s.nurse.id)
    await gdpr.anonymise(svc, None, s.org, s.nurse.id)
    assert await readable() == []  # sessions, audit entries, anything
    shown = await audit_trail.traces(svc, admin.actor, audit_trail.TraceQuery(person_id=s.nurse.id, limit=100))
    assert [t["ip"] for t in shown if t["actor_id"] == str(s.nurse.id)] == \
        [None] * len([t for t in shown if t["actor_id"] == str(s.nurse.id)])
    assert [r.broken for r in await audit_trail.verify_all(svc)] == [None] * 2
    r = cli(installation, "audit", "verify")
    assert r.returncode == 0, r.stdout + r.stderr

"""Sensitive actions (role change, exports of a person's data, retention changes, legal hold,
anonymisation) need a proof of identity younger than the organisation's re-authentication
window: refused with ``reauthentication_required`` and nothing changed, accepted once the person
confirmed with password and code — through the API and through the web client's own page."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import update

from chevet.adapters.db.schema_identity import session_auth
from chevet.app.identity import people
from chevet.app.messaging import conversations
from chevet.bootstrap import Installation
from tests.support import Member, Server, login, new_member, new_org


async def _age_every_proof(installation: Installation, hours: float = 2) -> None:
    """As if the people had signed in ``hours`` ago (sessions stay valid, proofs get old)."""
    svc = installation.services
    async with svc.db.transaction() as tx:
        await tx.conn.execute(update(session_auth).values(  # type: ignore[attr-defined]
            authenticated_at=svc.clock.now() - timedelta(hours=hours)))


async def _role(installation: Installation, member: Member) -> str:
    async with installation.services.db.transaction() as tx:
        person = await tx.people.get(member.actor.org_id, member.id)
    assert person is not None
    return person.role.value


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


async def test_sensitive_api_actions_need_a_recent_proof(installation: Installation, server: Server) -> None:
    svc = installation.services
    org = await new_org(svc)
    dpo = await new_member(svc, org, "dpo", "Delphine Poirier")
    admin = await new_member(svc, org, "admin", "Alain Martin")
    nurse = await new_member(svc, org, "nurse", "Inès Durand")
    leaver = await new_member(svc, org, "nurse", "Léa Départ")
    await people.deactivate(svc, admin.actor, leaver.id)
    conv, _ = await conversations.create_conversation(svc, dpo.actor, kind="group", title="Transmissions",
                                                      member_ids=[nurse.id])
    tokens = {who: login(server.url, m) for who, m in (("dpo", dpo), ("admin", admin))}
    await _age_every_proof(installation)

    def call(who: str, method: str, path: str, **kw: object) -> httpx.Response:
        return httpx.request(method, f"{server.url}/api/v1{path}", headers={"Authorization": f"Bearer {tokens[who]}"},
                             **kw)  # type: ignore[arg-type]

    sensitive = [
        ("dpo", "PUT", "/retention/policies/team", {"json": {"days": 400, "min_days": 30, "max_days": 900}}),
        ("dpo", "PUT", f"/conversations/{conv['id']}/retention", {"json": {"days": 200}}),
        ("dpo", "PUT", f"/conversations/{conv['id']}/legal-hold", {"json": {"hold": True}}),
        ("dpo", "GET", f"/gdpr/people/{nurse.id}/data", {}),
        ("dpo", "GET", "/me/data", {}),
        ("admin", "POST", f"/gdpr/people/{leaver.id}/anonymise", {}),
        ("admin", "PUT", f"/users/{nurse.id}/role", {"json": {"role": "care_assistant"}}),
    ]
    before = {"policies": call("dpo", "GET", "/retention/policies").json(),
              "retention": call("dpo", "GET", f"/conversations/{conv['id']}/retention").json()}
    for who, method, path, kw in sensitive:
        r = call(who, method, path, **kw)
        assert r.status_code == 401, (path, r.status_code, r.text)
        problem = r.json()
        assert problem["code"] == "reauthentication_required" and "confirmez" in problem["detail"].lower(), problem
    # Nothing changed, and the sessions themselves are still good for ordinary work.
    assert call("dpo", "GET", "/retention/policies").json() == before["policies"]
    assert call("dpo", "GET", f"/conversations/{conv['id']}/retention").json() == before["retention"]
    assert await _role(installation, nurse) == "nurse"
    async with svc.db.transaction() as tx:
        actions = {e.action for e in await tx.audit.query(org.id, limit=500)}
    assert not actions & {"retention.policy_changed", "retention.override_set", "retention.legal_hold_set",
                          "gdpr.person_anonymised", "person.role_changed"}

    # A wrong code does not count as a proof; the right one does.
    wrong = call("dpo", "POST", "/auth/reauthenticate", json={"password": dpo.password, "otp": "000000"})
    assert wrong.status_code == 401
    for who, member in (("dpo", dpo), ("admin", admin)):
        ok = call(who, "POST", "/auth/reauthenticate", json={"password": member.password, "otp": member.otp(1)})
        assert ok.status_code == 204, ok.text
    for who, method, path, kw in sensitive:
        r = call(who, method, path, **kw)
        assert r.status_code < 300, (path, r.status_code, r.text)
    assert await _role(installation, nurse) == "care_assistant"


async def test_web_client_asks_to_confirm_then_comes_back(installation: Installation, server: Server) -> None:
    svc = installation.services
    org = await new_org(svc)
    admin: Member = await new_member(svc, org, "admin", "Alain Martin")
    nurse = await new_member(svc, org, "nurse", "Inès Durand")
    with httpx.Client(base_url=server.url) as browser:
        form = {"email": admin.email, "password": admin.password, "otp": admin.otp(), "next": "/",
                "csrf": _csrf(browser.get("/login").text)}
        assert browser.post("/login", data=form).status_code == 303
        await _age_every_proof(installation)
        people_page = browser.get("/admin/people")
        change = {"csrf": _csrf(people_page.text), "role": "physician", "back": "/admin/people"}
        asked = browser.post(f"/admin/people/{nurse.id}/role", data=change)
        assert asked.status_code == 303 and asked.headers["location"] == "/compte/confirmer?next=%2Fadmin%2Fpeople"
        confirm_page = browser.get(asked.headers["location"])
        assert confirm_page.status_code == 200 and 'name="next" value="/admin/people"' in confirm_page.text

        # A wrong code: the page again, with the reason, and still not confirmed.
        refused = browser.post("/compte/confirmer", data={"csrf": _csrf(confirm_page.text), "next": "/admin/people",
                                                          "password": admin.password, "otp": "000000"})
        assert refused.status_code == 401 and 'role="alert"' in refused.text
        assert browser.post(f"/admin/people/{nurse.id}/role", data=change).status_code == 303
        assert await _role(installation, nurse) == "nurse"

        done = browser.post("/compte/confirmer", data={"csrf": _csrf(confirm_page.text), "next": "/admin/people",
                                                       "password": admin.password, "otp": admin.otp(1)})
        assert done.status_code == 303 and done.headers["location"] == "/admin/people?notice=identity_confirmed"
        assert "Identité confirmée" in browser.get(done.headers["location"]).text
        changed = browser.post(f"/admin/people/{nurse.id}/role", data=change)
        assert changed.headers["location"] == "/admin/people?notice=role_changed"
    assert await _role(installation, nurse) == "physician"


async def test_regulatory_form_export_needs_a_recent_proof(installation: Installation, server: Server) -> None:
    from chevet.app.signalement import filing
    from tests.signalement_support import ehpad, fall, validated_essms_form

    svc = installation.services
    e = await ehpad(svc)
    filed = await filing.file_report(svc, e.carer.actor, mode="named", **fall(svc.clock.now()))
    await validated_essms_form(svc, e, filed.report_id)
    # Rendering the first PDF loads the PDF library: on a busy machine, well beyond httpx's 5 s.
    with httpx.Client(base_url=server.url, timeout=60) as browser:
        form = {"email": e.admin.email, "password": e.admin.password, "otp": e.admin.otp(), "next": "/",
                "csrf": _csrf(browser.get("/login").text)}
        assert browser.post("/login", data=form).status_code == 303
        await _age_every_proof(installation)
        pdf_url = f"/signalement/{filed.report_id}/formulaires/essms/export.pdf"
        api_url = f"/api/v1/reports/{filed.report_id}/forms/essms/export"
        problem = browser.get(api_url, params={"format": "json"})
        assert problem.status_code == 401 and problem.json()["code"] == "reauthentication_required"
        asked = browser.get(pdf_url)
        assert asked.status_code == 303 and asked.headers["location"].startswith("/compte/confirmer?next=")
        confirm_page = browser.get(asked.headers["location"])
        done = browser.post("/compte/confirmer", data={"csrf": _csrf(confirm_page.text), "next": pdf_url,
                                                       "password": e.admin.password, "otp": e.admin.otp(1)})
        assert done.headers["location"] == f"{pdf_url}?notice=identity_confirmed"
        pdf = browser.get(done.headers["location"])
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    async with svc.db.transaction() as tx:
        exported = [x for x in await tx.audit.query(e.org.id, limit=200) if x.action == "report.form_exported"]
    assert len(exported) == 1

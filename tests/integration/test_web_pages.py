"""The web client's pages over HTTP, as a browser without JavaScript uses them, with SQLite and
PostgreSQL (the ASGI application in process; the browser tests use a real server): invitation
with TOTP enrolment, CSRF, cookies, isolation
between organisations, administration rights and audit, language, caching and compression."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chevet.app.identity import people
from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
from chevet.core import totp
from chevet.web.app import create_app
from tests.support import new_member, new_org
from tests.web_client import Browserless


@pytest.fixture
def app(installation: Installation) -> Any:
    return create_app(installation)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[Browserless]:
    c = Browserless(app=app)
    yield c
    await c.close()


async def test_invitation_enrols_totp_then_signs_in(installation: Installation, app: Any,
                                                    client: Browserless) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-invite")
    invited = await people.invite_person(svc, org, None, email="julie@ehpad.example", name="Julie Petit",
                                         role="care_assistant")
    page = await client.get(f"/invitation/{invited.token}")
    assert page.status_code == 200 and "Julie Petit" in page.text and 'lang="fr"' in page.text
    mismatch = await client.post(f"/invitation/{invited.token}", {"password": "un mot de passe long",
                                                            "password2": "un autre mot de passe"})
    assert mismatch.status_code == 422 and "pas identiques" in mismatch.text
    enrol = await client.post(f"/invitation/{invited.token}", {"password": "un mot de passe long",
                                                         "password2": "un mot de passe long"})
    assert enrol.status_code == 200 and "<svg" in enrol.text and "<script" not in enrol.text.split("</head>")[1]
    secret = re.search(r"data-secret>([A-Z2-7]+)<", enrol.text).group(1)  # type: ignore[union-attr]
    start = f"/invitation/{invited.token}"
    assert 'href="otpauth://totp/' in enrol.text and f"secret={secret}" in enrol.text
    wrong_code = "000000" if totp.code_at(secret, totp.step_of(time.time())) != "000000" else "111111"
    wrong = await client.post(f"{start}/confirm", {"otp": wrong_code}, from_page=start)
    assert wrong.status_code == 422 and "code" in wrong.text.lower()
    assert f"data-secret>{secret}<" in wrong.text  # the same secret, to retry without starting again
    code = totp.code_at(secret, totp.step_of(time.time()))
    ok = await client.post(f"{start}/confirm", {"otp": code}, from_page=start)
    assert ok.status_code == 303 and ok.headers["location"] == "/?notice=welcome"
    home = await client.get("/?notice=welcome")  # signed in at once, on the list
    assert home.status_code == 200 and "Bienvenue" in home.text
    assert (await client.get(f"/invitation/{invited.token}")).status_code == 404  # used once


async def test_forms_need_the_csrf_token_and_cookies_are_same_site(installation: Installation, app: Any,
                                                                  client: Browserless) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-csrf")
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician")
    view, _ = await conversations.create_conversation(svc, nurse.actor, kind="group", title="Nuit",
                                                      member_ids=[doctor.id])
    signed = await client.sign_in(nurse)
    cookie = signed.headers["set-cookie"]
    assert "chevet_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    forged = await client.http.post(f"/c/{view['id']}/send",
                                    data={"body": "forgé", "client_id": "x1", "csrf": "0" * 40})
    missing = await client.http.post(f"/c/{view['id']}/send", data={"body": "forgé", "client_id": "x2"})
    assert forged.status_code == 403 and missing.status_code == 403
    assert "Le formulaire a expiré" in forged.text
    sent = await client.post(f"/c/{view['id']}/send", {"body": "Relève faite", "client_id": "ok-1"},
                       from_page=f"/c/{view['id']}")
    again = await client.post(f"/c/{view['id']}/send", {"body": "Relève faite", "client_id": "ok-1"},
                        from_page=f"/c/{view['id']}")
    assert sent.status_code == 303 and again.status_code == 303
    history = await messages.history(svc, doctor.actor, uuid.UUID(view["id"]))
    assert [m["body"] for m in history if "body" in m] == ["Relève faite"]  # forged ones refused, retry not doubled


async def test_another_organisation_sees_nothing(installation: Installation, app: Any,
                                                 client: Browserless) -> None:
    svc = installation.services
    a, b = await new_org(svc, "ehpad-a"), await new_org(svc, "ehpad-b")
    nurse_a, doctor_a = await new_member(svc, a, "nurse"), await new_member(svc, a, "physician")
    intruder = await new_member(svc, b, "admin")
    view, _ = await conversations.create_conversation(svc, nurse_a.actor, kind="care_case", title="Chambre 3 secret",
                                                      member_ids=[doctor_a.id], care_case_ref="CH3-ZZ")
    await client.sign_in(intruder)
    for path in (f"/c/{view['id']}", f"/c/{view['id']}/members", f"/c/{view['id']}?fragment=1"):
        r = await client.get(path)
        assert r.status_code == 404 and "Chambre 3 secret" not in r.text and "CH3-ZZ" not in r.text
    people_page = await client.get("/admin/people")
    assert people_page.status_code == 200 and nurse_a.email not in people_page.text
    r = await client.post(f"/admin/people/{nurse_a.id}/deactivate", {}, from_page="/account")
    assert r.status_code == 404
    assert (await people.search_people(svc, doctor_a.actor, nurse_a.email))[0].status.value == "active"
    assert (await client.get("/c/not-an-id")).status_code == 404


async def test_administration_rights_and_audit(installation: Installation, app: Any) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-admin")
    admin = await new_member(svc, org, "admin")
    nurse = await new_member(svc, org, "nurse", "Karim Haddad")
    manager = await new_member(svc, org, "manager")
    as_nurse, as_admin, as_manager = Browserless(app=app), Browserless(app=app), Browserless(app=app)
    try:
        await as_nurse.sign_in(nurse)
        assert (await as_nurse.get("/admin/people")).status_code == 403
        assert (await as_nurse.post("/admin/teams", {"name": "Nuit"}, from_page="/account")).status_code == 403
        await as_admin.sign_in(admin)
        invite = await as_admin.post("/admin/people/invite", {"email": "new@ehpad.example", "name": "Léa Roux",
                                                         "role": "nurse", "rpps": ""}, from_page="/admin/people")
        assert invite.status_code == 200 and "http://testserver/invitation/" in invite.text
        bad = await as_admin.post("/admin/people/invite", {"email": "pas-un-email", "name": "X", "role": "nurse"},
                            from_page="/admin/people")
        assert bad.status_code == 422 and "e-mail" in bad.text.lower()
        assert (await as_admin.post(f"/admin/people/{nurse.id}/role", {"role": "manager"},
                             from_page="/admin/people")).status_code == 303
        assert (await as_admin.post(f"/admin/people/{nurse.id}/deactivate", {},
                             from_page="/admin/people")).status_code == 303
        assert (await as_nurse.get("/")).status_code == 303  # their session was closed
        await as_manager.sign_in(manager)
        created = await as_manager.post("/admin/teams", {"name": "Unité Alzheimer"}, from_page="/admin/teams")
        assert created.status_code == 303
        teams_page = await as_manager.get("/admin/teams")
        assert "Unité Alzheimer" in teams_page.text
        team_id = re.search(r'action="/admin/teams/([0-9a-f-]{36})/members"', teams_page.text).group(1)  # type: ignore[union-attr]
        assert (await as_manager.post(f"/admin/teams/{team_id}/members", {"person_id": str(admin.id)},
                               from_page="/admin/teams")).status_code == 303
        assert "Unité Alzheimer" in (await as_manager.get("/new")).text
        assert (await as_manager.post("/new", {"kind": "team", "title": "Canal Alzheimer", "team_id": team_id},
                               from_page="/new")).status_code == 303
        assert (await as_admin.post("/admin/organisation", {"push_content": "nothing"},
                             from_page="/admin/organisation")).status_code == 303
        assert 'value="nothing" checked' in (await as_admin.get("/admin/organisation")).text
        # The list preview: on by default, off with an unticked box, never by a manager.
        assert 'name="list_preview" value="on" aria-describedby="list-preview-hint" checked' in (
            await as_admin.get("/admin/organisation")).text
        assert (await as_manager.post("/admin/organisation/list-preview", {},
                                      from_page="/admin/teams")).status_code == 403
        assert (await as_admin.post("/admin/organisation/list-preview", {},
                                    from_page="/admin/organisation")).status_code == 303
        assert 'aria-describedby="list-preview-hint">' in (await as_admin.get("/admin/organisation")).text
        assert 'value="nothing" checked' in (await as_admin.get("/admin/organisation")).text  # untouched
    finally:
        for c in (as_nurse, as_admin, as_manager):
            await c.close()
    async with svc.db.transaction() as tx:
        actions = [e.action for e in await tx.audit.query(org.id, limit=1000)]
    for expected in ("person.invited", "person.role_changed", "person.deactivated", "team.created",
                     "team.member_added", "organisation.settings_changed"):
        assert expected in actions


async def test_bad_input_is_explained_and_changes_nothing(installation: Installation, app: Any,
                                                         client: Browserless) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-bad")
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician", "Paul Lefèvre")
    await client.sign_in(nurse)
    r = await client.post("/new", {"kind": "care_case", "title": "Chute", "care_case_ref": "2 84 12 75 123 456 78",
                             "members": str(doctor.id)})
    assert r.status_code == 422 and "identifiant national (NIR, INS)" in r.text
    assert 'value="Chute"' in r.text  # what was typed is kept
    assert await conversations.list_conversations(svc, nurse.actor) == []
    r = await client.post("/new", {"kind": "direct"})
    assert r.status_code == 422
    r = await client.post("/account/notifications", {"level": "grouped", "quiet_start": "25:00", "quiet_end": "07:00"},
                    from_page="/account")
    assert r.status_code == 422 and "HH:MM" in r.text
    r = await client.http.post("/login", content=b"\xff" * 100,
                               headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code in (403, 422)


async def test_language_static_cache_and_compression(installation: Installation, app: Any) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-lang")
    nurse = await new_member(svc, org, "nurse")
    english = Browserless(language="en-GB,en;q=0.9", app=app)
    try:
        page = await english.get("/login")
        assert 'lang="en"' in page.text and "Sign in" in page.text
        await english.sign_in(nurse)
        assert 'lang="en"' in (await english.get("/account")).text
        assert (await english.post("/account/language", {"language": "fr"}, from_page="/account")).status_code == 303
        assert 'lang="fr"' in (await english.get("/account")).text  # the person's choice wins over the browser
        css = re.search(r'href="(/static/[0-9a-f]+/chevet\.css)"', page.text).group(1)  # type: ignore[union-attr]
        r = await english.get(css, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
        assert r.headers["content-encoding"] == "gzip"
        assert (await english.get("/static/0000000000/chevet.css")).headers["cache-control"] == "no-cache"
        sw = await english.get("/sw.js")
        assert sw.headers["cache-control"] == "no-cache" and css in sw.text
        assert "message" not in re.search(r"const SHELL = (\[.*?\]);", sw.text).group(1)  # type: ignore[union-attr]
        assert (await english.get("/static/x/../../pyproject.toml")).status_code == 404
        manifest = (await english.get("/manifest.webmanifest")).json()
        assert manifest["lang"] == "fr" and manifest["start_url"] == "/"
    finally:
        await english.close()

"""Who receives reports, from the console: the administrator designates the quality lead by
name on /admin/signalement (audited; an external or deactivated person refused in French,
nothing changed), and the report form, its confirmation and the quality lead's pages say only
the roles somebody really holds. « Survenu le » is empty until the reporter fills it."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import pytest

from chevet.app.identity import people
from chevet.bootstrap import Installation
from chevet.core.signalement.deadlines import PARIS
from chevet.web.app import create_app
from tests.support import Member, new_member, new_org
from tests.web_client import Browserless

REPORT_LINK = re.compile(r'href="/signalement/([0-9a-f-]{36})"')


def _text(page: str) -> str:
    body = page.split("<main", 1)[-1]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


@pytest.fixture
async def app(installation: Installation) -> object:
    return create_app(installation)


async def _designations(installation: Installation, org_id: object) -> set[tuple[object, str]]:
    async with installation.services.db.transaction() as tx:
        return {(pid, fn.value) for pid, fn in await tx.reports.designations(org_id)}  # type: ignore[arg-type]


async def _signed_in(app: object, member: Member) -> Browserless:
    c = Browserless(app=app)
    await c.sign_in(member)
    return c


async def test_the_administrator_designates_the_quality_lead_by_name_and_the_form_says_so(
        installation: Installation, app: object) -> None:
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin", "Claire Martin")
    director = await new_member(svc, org, "director", "Isabelle Fontaine")
    nadia = await new_member(svc, org, "manager", "Nadia Moreau")
    carer = await new_member(svc, org, "care_assistant", "Julie Petit")
    outsider = await new_member(svc, org, "external", "Dr Externe")
    gone = await new_member(svc, org, "nurse", "Partie Ailleurs")
    await people.deactivate(svc, admin.actor, gone.id)
    c = await _signed_in(app, admin)
    reporter = await _signed_in(app, carer)
    try:
        page = await c.get("/admin/signalement")
        assert page.status_code == 200
        said = _text(page.text)
        assert "Qui reçoit les signalements" in said and "Aucune personne n'est responsable qualité" in said
        assert "Claire Martin · Administrateur" in said and "administrateur·rice, automatiquement" in said
        assert "Isabelle Fontaine · Directeur·rice · par son rôle, automatiquement" in said
        assert "« Votre signalement sera reçu par la direction. »" in said
        options = re.findall(r"<option value=\"[^\"]+\"[^>]*>([^<]+)</option>", page.text)
        assert "Nadia Moreau — Cadre" in options
        assert not [o for o in options if "Externe" in o or "Partie" in o]  # not proposed
        form = _text((await reporter.get("/signalement/nouveau")).text)
        assert "Votre signalement sera reçu par la direction." in form and "qualité sait" not in form

        done = await c.post("/admin/signalement", {"person_id": str(nadia.id), "function": "quality_lead", "on": "1"})
        assert done.status_code == 303 and done.headers["location"] == "/admin/signalement?fait=added"
        said = _text((await c.get(done.headers["location"])).text)
        assert "la désignation est enregistrée" in said
        assert "Retirer" in said and "Nadia Moreau · Cadre" in said
        assert "« Votre signalement sera reçu par la responsable qualité et la direction. »" in said
        async with svc.db.transaction() as tx:
            audited = [e for e in [x async for x in tx.audit.entries(org.id)] if x_is(e, "report.designation_set")]
        assert [(e.actor_id, e.object_id, e.detail.get("function")) for e in audited] == [
            (admin.id, nadia.id, "quality_lead")]

        before = await _designations(installation, org.id)
        for person, function, words in ((outsider, "quality_lead", "Une personne extérieure ne peut pas"),
                                        (gone, "quality_lead", "Ce compte est désactivé"),
                                        (director, "director", "fait déjà partie de la direction par son rôle")):
            refused = await c.post("/admin/signalement", {"person_id": str(person.id), "function": function,
                                                          "on": "1"})
            assert refused.status_code == 422 and words in _text(refused.text), person.actor.person.name
        for data in ({"person_id": "", "function": "quality_lead"}, {"person_id": "zzz", "function": "quality_lead"},
                     {"person_id": str(nadia.id), "function": "chef"}):
            refused = await c.post("/admin/signalement", {**data, "on": "1"})
            assert refused.status_code == 422 and "Choisissez" in _text(refused.text)
        assert await _designations(installation, org.id) == before

        form = (await reporter.get("/signalement/nouveau")).text
        assert "Votre signalement sera reçu par la responsable qualité et la direction." in _text(form)
        assert "Seule la responsable qualité sait que c'est vous." in _text(form)
        nurse_page = await reporter.get("/admin/signalement")
        assert nurse_page.status_code == 403 and "réservée aux administrateurs" in _text(nurse_page.text)

        removed = await c.post("/admin/signalement", {"person_id": str(nadia.id), "function": "quality_lead",
                                                      "on": "0"})
        assert removed.status_code == 303
        form = _text((await reporter.get("/signalement/nouveau")).text)
        assert "Votre signalement sera reçu par la direction." in form and "responsable qualité sait" not in form
    finally:
        await c.close()
        await reporter.close()


def x_is(entry: object, action: str) -> bool:
    return getattr(entry, "action", None) == action


async def test_with_only_administrators_the_form_says_so(installation: Installation, app: object) -> None:
    svc = installation.services
    org = await new_org(svc)
    await new_member(svc, org, "admin", "Claire Martin")
    carer = await new_member(svc, org, "care_assistant", "Julie Petit")
    c = await _signed_in(app, carer)
    try:
        form = (await c.get("/signalement/nouveau")).text
        said = _text(form)
        earlier = f"{datetime.now(PARIS) - timedelta(hours=1):%Y-%m-%dT%H:%M}"
        filed = await c.post("/signalement/nouveau", {
            "what": "Chute en se levant seule", "occurred_at": earlier, "place": "Chambre 12", "mode": "named"},
            from_page="/signalement/nouveau")
    finally:
        await c.close()
    assert "reçu par les administrateurs de l'établissement" in said
    sentence = re.search(r'<p class="recipients"[^>]*>([^<]+)</p>', form)
    assert sentence is not None and "qualité" not in sentence.group(1) and "direction" not in sentence.group(1)
    assert filed.status_code == 201
    thanks = _text(filed.text)
    assert "transmis aux administrateurs de l'établissement" in thanks and "qualité" not in thanks


async def test_occurred_on_is_empty_until_filled_and_refused_in_french(installation: Installation,
                                                                       app: object) -> None:
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin", "Claire Martin")
    quality = await new_member(svc, org, "nurse", "Nadia Moreau")
    carer = await new_member(svc, org, "care_assistant", "Julie Petit")
    nurse = await new_member(svc, org, "nurse", "Karim Haddad")
    a = await _signed_in(app, admin)
    await a.post("/admin/signalement", {"person_id": str(quality.id), "function": "quality_lead", "on": "1"})
    await a.close()
    c = await _signed_in(app, carer)
    try:
        form = await c.get("/signalement/nouveau")
        field = re.search(r'<input id="occurred_at"[^>]*>', form.text)
        assert field is not None and 'value=""' in field.group(0) and "required" in field.group(0)
        base = {"what": "Chute en se levant seule", "place": "Chambre 12", "mode": "named"}
        missing = await c.post("/signalement/nouveau", {**base, "occurred_at": ""}, from_page="/signalement/nouveau")
        assert missing.status_code == 422
        said = _text(missing.text)
        assert "Indiquez quand l'événement est survenu" in said and "occurred_at" not in said
        assert "Chute en se levant seule" in missing.text  # what was typed is still there
        later = f"{datetime.now(PARIS) + timedelta(days=2):%Y-%m-%dT%H:%M}"
        future = await c.post("/signalement/nouveau", {**base, "occurred_at": later}, from_page="/signalement/nouveau")
        assert future.status_code == 422 and "« Survenu le » est dans le futur" in _text(future.text)
        assert f'value="{later}"' in future.text
        # A few minutes ahead (a phone's clock) is accepted.
        soon = f"{datetime.now(PARIS) + timedelta(minutes=3):%Y-%m-%dT%H:%M}"
        filed = await c.post("/signalement/nouveau", {**base, "occurred_at": soon}, from_page="/signalement/nouveau")
        assert filed.status_code == 201
        assert "transmis à la responsable qualité et à la direction" in _text(filed.text)
        assert "à vérifier" not in form.text and "à vérifier" not in filed.text
    finally:
        await c.close()
    q = await _signed_in(app, quality)
    other = await _signed_in(app, nurse)
    try:
        listing = await q.get("/signalement")
        [report_id] = REPORT_LINK.findall(listing.text)
        report = await q.get(f"/signalement/{report_id}")
        assert report.status_code == 200 and "Chute en se levant seule" in report.text
        assert "à vérifier" not in report.text and "Les actes de malveillance au sein de la structure" in report.text
        assert (await other.get(f"/signalement/{report_id}")).status_code == 404
        assert REPORT_LINK.findall((await other.get("/signalement")).text) == []
    finally:
        await q.close()
        await other.close()

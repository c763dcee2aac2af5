"""The roster console page and its import, on SQLite and PostgreSQL, through HTTP without a
browser: a manager defines shifts and assigns people for a week, every change audited; a nurse
is refused; a CSV and an iCalendar file from another writer are previewed then applied; hostile
files are refused in French and change nothing."""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import icalendar

from chevet.app.care import duty
from chevet.app.messaging import teams
from chevet.bootstrap import Installation
from chevet.core.care.roster import PARIS, local_instant
from chevet.web.app import create_app
from tests.support import new_member, new_org
from tests.web_client import Browserless


class Clock:
    """The system's time until a test sets ``at`` (signing in checks a code of the real time)."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def now(self) -> datetime:
        return self.at or datetime.now(UTC)


NOW = datetime(2026, 10, 20, 9, tzinfo=UTC)  # a Tuesday


def _text(r: object) -> str:
    return html.unescape(getattr(r, "text", ""))


async def _assignments(installation: Installation, org_id: uuid.UUID, team_id: uuid.UUID) -> int:
    async with installation.services.db.transaction() as tx:
        return len(await tx.rosters.between(org_id, team_id, datetime(2026, 1, 1, tzinfo=UTC),
                                            datetime(2028, 1, 1, tzinfo=UTC)))


async def test_a_manager_edits_the_week_and_a_nurse_is_refused(installation: Installation) -> None:
    clock = Clock()
    installation.services = replace(installation.services, clock=clock)
    s = installation.services
    org = await new_org(s)
    manager = await new_member(s, org, "manager")
    nurse = await new_member(s, org, "nurse", name="Camille Martin")
    team = await teams.create_team(s, manager.actor, "Unité Alzheimer", [nurse.id])
    team_id = uuid.UUID(team["id"])
    client = Browserless(app=create_app(installation))
    try:
        await client.sign_in(manager)
        clock.at = NOW
        assert "/admin/plannings" in (await client.get("/console")).text
        page = await client.get(f"/admin/plannings?equipe={team_id}&semaine=2026-10-21")
        words = _text(page)
        assert page.status_code == 200 and "Semaine du 19 octobre au 25 octobre 2026" in words
        assert "Infirmière de garde (@garde)" in words and "Astreinte médicale (@astreinte-medicale)" in words
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        keep = {"semaine": "2026-10-19", "csrf": csrf}
        for name, a, b in (("Jour", "07:00", "19:00"), ("Nuit", "19:00", "07:00")):
            r = await client.http.post(f"/admin/plannings/{team_id}/postes",
                                       data={**keep, "name": name, "starts": a, "ends": b, "_notice": "shift_added"})
            assert r.status_code == 303
        bad = await client.http.post(f"/admin/plannings/{team_id}/postes",
                                     data={**keep, "name": "Soir", "starts": "25:00", "ends": "07:00"})
        assert bad.status_code == 422 and "L'heure n'est pas valide" in _text(bad)
        async with s.db.transaction() as tx:
            shifts = {x.name: x for x in await tx.rosters.shifts(org.id, team_id)}
            garde = await tx.rosters.role_by_slug(org.id, "garde")
        assert garde is not None
        r = await client.http.post(f"/admin/plannings/{team_id}/affectations", data={
            **keep, "person_id": str(nurse.id), "kind": "duty", "day": "2026-10-24",
            "shift_id": str(shifts["Nuit"].id), "role_id": str(garde.id), "rank": "1", "_notice": "assignment_added"})
        assert r.status_code == 303
        week = _text(await client.get(r.headers["location"]))
        assert "Affectation ajoutée au planning." in week
        assert "Camille Martin" in week and "Samedi 24 octobre" in week
        assert "19 h 00 → le 25 octobre à 7 h 00" in week  # on Saturday's list
        assert "depuis le 24 octobre à 19 h 00 → 7 h 00" in week  # and on Sunday's
        assert "Couverture du 25 octobre" in week and 'role="img"' in week
        clash = await client.http.post(f"/admin/plannings/{team_id}/affectations", data={
            **keep, "person_id": str(nurse.id), "kind": "on_call", "day": "2026-10-24", "shift_id": "",
            "starts": "20:00", "ends": "23:00", "role_id": "", "rank": "1"})
        assert clash.status_code == 422 and "déjà au planning de l'équipe sur ce créneau" in _text(clash)
        changed = await client.http.post(f"/admin/plannings/{team_id}/postes/{shifts['Nuit'].id}", data={
            **keep, "name": "Nuit", "starts": "20:00", "ends": "08:00", "_notice": "shift_changed"})
        assert changed.status_code == 303
        shown = _text(await client.get(changed.headers["location"]))
        assert "Poste modifié" in shown and "· 20:00–08:00 (jusqu'au lendemain)" in shown
        async with s.db.transaction() as tx:
            at = local_instant(date(2026, 10, 25), 6 * 60 + 59)
            assert await duty.holders(tx, org.id, "@garde", at) == [nurse.id]
            (made,) = await tx.rosters.between(org.id, team_id, NOW, datetime(2027, 1, 1, tzinfo=UTC))
            trail = await tx.audit_trail.search(org.id, actions=["roster.shift_added", "roster.assignment_added",
                                                                  "roster.shift_changed",
                                                                  "roster.assignment_removed", "roster.role_added"],
                                                limit=100)
        assert (made.ends_at - made.starts_at).total_seconds() == 13 * 3600  # kept its hours
        removed = await client.http.post(f"/admin/plannings/{team_id}/affectations/{made.id}/retirer",
                                         data={**keep, "_notice": "assignment_removed"})
        assert removed.status_code == 303
        assert await _assignments(installation, org.id, team_id) == 0
        actions = sorted(e.action for e in trail)
        assert actions == ["roster.assignment_added", "roster.role_added", "roster.role_added",
                           "roster.shift_added", "roster.shift_added", "roster.shift_changed"]
    finally:
        await client.close()
    other = Browserless(app=create_app(installation))
    try:
        clock.at = None
        await other.sign_in(nurse)
        clock.at = NOW
        assert (await other.get("/admin/plannings")).status_code == 403
        csrf = await other.csrf("/account")
        r = await other.http.post(f"/admin/plannings/{team_id}/postes",
                                  data={"csrf": csrf, "name": "X", "starts": "07:00", "ends": "08:00"})
        assert r.status_code == 403
    finally:
        await other.close()


def _calendar(nurse_email: str, physician_email: str) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Planning//FR")
    cal.add("version", "2.0")
    night = icalendar.Event()
    night.add("uid", "n1@planning")
    night.add("summary", "Nuit @garde")
    night.add("dtstart", datetime(2026, 10, 24, 19, tzinfo=PARIS))
    night.add("dtend", datetime(2026, 10, 25, 7, tzinfo=PARIS))
    night.add("attendee", f"mailto:{nurse_email}")
    cal.add_component(night)
    call = icalendar.Event()
    call.add("uid", "c1@planning")
    call.add("summary", "Astreinte @astreinte-medicale")
    call.add("dtstart", datetime(2026, 10, 24, 18, tzinfo=UTC))
    call.add("dtend", datetime(2026, 10, 25, 8, tzinfo=UTC))
    call.add("attendee", f"mailto:{physician_email}")
    cal.add_component(call)
    stranger = icalendar.Event()
    stranger.add("uid", "s1@planning")
    stranger.add("dtstart", datetime(2026, 10, 26, 7, tzinfo=PARIS))
    stranger.add("dtend", datetime(2026, 10, 26, 19, tzinfo=PARIS))
    stranger.add("attendee", "mailto:inconnue@ailleurs.example")
    cal.add_component(stranger)
    return cal.to_ical()


EVENT = b"BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20261102T060000Z\r\nEND:VEVENT\r\n"
HOSTILE = [
    (b"BEGIN:VCALENDAR\r\n" + b"BEGIN:VEVENT\r\n" * 40 + b"END:VEVENT\r\n" * 40 + b"END:VCALENDAR\r\n",
     "Le calendrier imbrique trop d'éléments ; rien n'est importé."),
    (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + EVENT * 2500 + b"END:VCALENDAR\r\n",
     "Le calendrier contient plus de 2000 événements"),
    (b"BEGIN:VCALENDAR\r\nX-A:" + b"a" * 9000 + b"\r\nEND:VCALENDAR\r\n",
     "Une ligne du fichier dépasse 4000 caractères"),
    (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n",
     "n'est pas un calendrier iCalendar valide"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "ni un CSV ni un fichier iCalendar"),
    (b"BEGIN:VCALENDAR\r\n" + b"X" * (1024 * 1024 + 10), "Le fichier dépasse 1024 Ko"),
]


async def test_import_previews_then_applies_and_hostile_files_change_nothing(installation: Installation) -> None:
    clock = Clock()
    installation.services = replace(installation.services, clock=clock)
    s = installation.services
    org = await new_org(s)
    manager = await new_member(s, org, "manager")
    nurse, physician = await new_member(s, org, "nurse"), await new_member(s, org, "physician")
    team = await teams.create_team(s, manager.actor, "EHPAD", [nurse.id])
    team_id = uuid.UUID(team["id"])
    client = Browserless(app=create_app(installation))
    try:
        await client.sign_in(manager)
        clock.at = NOW
        csrf = await client.csrf(f"/admin/plannings/{team_id}/import")
        for data, words in HOSTILE:
            r = await client.http.post(f"/admin/plannings/{team_id}/import", data={"csrf": csrf},
                                       files={"file": ("planning.ics", data, "text/calendar")})
            assert r.status_code in (413, 422), r.status_code
            assert words in _text(r), words
        assert await _assignments(installation, org.id, team_id) == 0

        seen = await client.http.post(f"/admin/plannings/{team_id}/import", data={"csrf": csrf}, files={
            "file": ("planning.ics", _calendar(nurse.email, physician.email), "text/calendar")})
        words = _text(seen)
        assert seen.status_code == 200 and "Aperçu : rien n'est encore modifié" in words
        assert "Fichier iCalendar : 2 affectation(s) à ajouter ; 1 ligne(s) écartée(s)" in words
        assert "personne de l'organisation n'a l'adresse « inconnue@ailleurs.example »" in words
        assert await _assignments(installation, org.id, team_id) == 0
        token = re.search(r'name="token" value="([^"]+)"', seen.text).group(1)  # type: ignore[union-attr]
        done = await client.http.post(f"/admin/plannings/{team_id}/import/appliquer",
                                      data={"csrf": csrf, "token": token})
        assert done.status_code == 200 and "2 affectation(s) ajoutée(s)" in _text(done)
        assert await _assignments(installation, org.id, team_id) == 2
        async with s.db.transaction() as tx:
            before_seven = local_instant(date(2026, 10, 25), 7 * 60) - timedelta(seconds=1)
            assert await duty.holders(tx, org.id, "garde", before_seven) == [nurse.id]
            assert await duty.on_call(tx, org.id, team_id, before_seven) == [physician.id]
            imported = await tx.audit_trail.search(org.id, actions=["roster.imported", "roster.assignment_added"],
                                                   limit=10)
        assert sorted(e.action for e in imported) == ["roster.assignment_added"] * 2 + ["roster.imported"]
        again = await client.http.post(f"/admin/plannings/{team_id}/import/appliquer",
                                       data={"csrf": csrf, "token": token})
        assert again.status_code == 410

        csv = (f"E-mail;Date;Poste;Début;Fin;Type;Rôle\r\n"
               f"{nurse.email};24/10/2026;;19:00;07:00;service;garde\r\n"
               f"{physician.email};27/10/2026;;08:00;20:00;astreinte;\r\n"
               f"{physician.email};32/10/2026;;08:00;20:00;astreinte;\r\n").encode("cp1252")
        seen = await client.http.post(f"/admin/plannings/{team_id}/import", data={"csrf": csrf},
                                      files={"file": ("planning.csv", csv, "text/csv")})
        words = _text(seen)
        assert "Ligne 2 : déjà au planning ; rien n'est changé" in words
        assert "Ligne 4 : la date « 32/10/2026 » n'est pas valide (JJ/MM/AAAA)" in words
        assert "Importer 1 affectation(s)" in words
    finally:
        await client.close()


async def test_a_nurse_writes_to_the_physician_on_call_through_the_role_address(installation: Installation) -> None:
    clock = Clock()
    installation.services = replace(installation.services, clock=clock)
    s = installation.services
    org = await new_org(s)
    manager, nurse = await new_member(s, org, "manager"), await new_member(s, org, "nurse")
    physician = await new_member(s, org, "physician", name="Dr Paul Lefèvre")
    team = await teams.create_team(s, manager.actor, "EHPAD")
    client = Browserless(app=create_app(installation))
    try:
        await client.sign_in(nurse)
        clock.at = NOW
        from chevet.app.care import rosters

        week = await rosters.week(s, manager.actor, uuid.UUID(team["id"]), NOW.date())
        assert week is not None
        role = next(r for r in week.roles if r.slug == "astreinte-medicale")
        form = await client.get("/new")
        assert "Astreinte médicale" in _text(form) and 'name="roles" value="astreinte-medicale"' in form.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        nobody = await client.http.post("/new", data={"csrf": csrf, "kind": "direct", "roles": "astreinte-medicale"})
        assert nobody.status_code == 422 and "Personne ne tient le rôle « Astreinte médicale » en ce moment." in _text(
            nobody)
        await rosters.add_assignment(s, manager.actor, uuid.UUID(team["id"]), rosters.NewAssignment(
            physician.id, rosters.DutyKind.ON_CALL, starts_at=NOW - timedelta(hours=1),
            ends_at=NOW + timedelta(hours=11), role_id=role.id))
        made = await client.http.post("/new", data={"csrf": csrf, "kind": "direct", "roles": "astreinte-medicale"})
        assert made.status_code == 303
        page = await client.get(made.headers["location"])
        assert "Dr Paul Lefèvre" in _text(page)
    finally:
        await client.close()

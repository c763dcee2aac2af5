"""The console and the access traces as the DPO, the director and a manager use them: sections
shown by role, traces searched by person name, care-case reference and Paris-time period, each
one a sentence in French, and a CSV that a French spreadsheet opens."""

from __future__ import annotations

import csv
import html
import io
import re
import uuid

import httpx

from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
from tests.governance_support import scene, use_clock
from tests.support import Member, Server, login, new_member

WEEK = {"from": "2026-01-01", "to": "2026-01-08"}  # the days around the scene's clock
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _text(page: httpx.Response) -> str:
    body = page.text.split("<main", 1)[-1]
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


async def test_the_dpo_finds_who_read_a_care_case_by_its_reference(installation: Installation,
                                                                    server: Server) -> None:
    svc = installation.services
    clock = use_clock(svc)  # 5 January 2026, 9:00 UTC = 10 h 00 in Paris
    s = await scene(svc)
    case, _ = await conversations.create_conversation(svc, s.nurse.actor, kind="care_case", title="Suivi Mme Durand",
                                                      member_ids=[s.physician.id], care_case_ref="R-0012")
    await messages.history(svc, s.physician.actor, uuid.UUID(case["id"]))
    await messages.send_message(svc, s.physician.actor, uuid.UUID(case["id"]), body="Vu, RAS", client_id="vu")
    await messages.history(svc, s.nurse.actor, s.care)  # another case: not in the answer
    clock.advance(days=3)
    dpo = {"chevet_session": login(server.url, s.dpo)}
    page = httpx.get(f"{server.url}/gouvernance/traces", params={"case": "r 0012", **WEEK}, cookies=dpo)
    assert page.status_code == 200, page.text
    text = _text(page)
    assert re.search(r"Paul Lefèvre a lu la conversation « Suivi Mme Durand \(R-0012\) » le 5 janvier à 10 h 00",
                     text), text
    assert "Sophie Bernard a lu" not in text  # the other case's read
    # A written message names the conversation it was written in, not « un élément ».
    assert "Paul Lefèvre a écrit dans la conversation « Suivi Mme Durand (R-0012) » le 5 janvier" in text, text
    assert not UUID.search(text) and "care_case.read" not in text and '{"' not in text
    # Every link the DPO is offered leads somewhere (the signed receipt only once it is served).
    for href in set(re.findall(r'href="(/[^"#]*)"', page.text)):
        if not href.startswith("/static/"):
            target = httpx.get(f"{server.url}{href.replace('&amp;', '&')}", cookies=dpo)
            assert target.status_code != 404, href

    by_name = _text(httpx.get(f"{server.url}/gouvernance/traces", cookies=dpo,
                              params={"person": "paul lef", "action": "care_case.read", **WEEK}))
    assert "Paul Lefèvre a lu" in by_name and "Sophie Bernard a lu" not in by_name
    later = _text(httpx.get(f"{server.url}/gouvernance/traces", cookies=dpo,
                            params={"case": "R-0012", "from": "2026-01-06", "to": "2026-01-12"}))
    assert "Paul Lefèvre a lu" not in later

    unknown = httpx.get(f"{server.url}/gouvernance/traces", params={"case": "R-9999", **WEEK}, cookies=dpo)
    assert unknown.status_code == 422 and "Aucun dossier ne porte cette référence." in _text(unknown)
    nobody = httpx.get(f"{server.url}/gouvernance/traces", params={"person": "Personne Inconnue"}, cookies=dpo)
    assert nobody.status_code == 422 and "Aucune personne ne porte ce nom." in _text(nobody)
    bad_day = httpx.get(f"{server.url}/gouvernance/traces", params={"from": "hier"}, cookies=dpo)
    assert bad_day.status_code == 422 and "Date invalide" in _text(bad_day)

    sheet = httpx.get(f"{server.url}/gouvernance/traces", cookies=dpo,
                      params={"case": "R-0012", "format": "csv", **WEEK})
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    assert sheet.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Date et heure (Paris)" and "Personne" in rows[0]
    read = [r for r in rows[1:] if r[1] == "Paul Lefèvre" and r[2] == "Lecture d'un dossier"]
    assert read and read[0][0].startswith("05/01/2026 10:00")
    assert not UUID.search(sheet.content.decode("utf-8-sig"))


async def test_the_console_shows_each_role_what_it_may_use(installation: Installation, server: Server) -> None:
    svc = installation.services
    s = await scene(svc)
    director = await new_member(svc, s.org, "director", "Hélène Roux")

    cookies = {m.email: {"chevet_session": login(server.url, m)} for m in (s.dpo, s.manager, s.nurse, director)}

    def console(member: Member) -> httpx.Response:
        return httpx.get(f"{server.url}/console", cookies=cookies[member.email])

    dpo = _text(console(s.dpo))
    assert "Traces d'accès" in dpo and "Conservation" in dpo and "Travaux et exports" in dpo
    assert "Personnes et équipes" not in dpo and "Équipes" not in dpo
    manager = _text(console(s.manager))
    assert "Traces d'accès" in manager and "Équipes" in manager and "Conservation" not in manager
    boss = _text(console(director))
    assert "Registre des traitements" in boss and "Sobriété" in boss and "Travaux et exports" not in boss
    nurse = console(s.nurse)
    assert nurse.status_code == 403 and "aucune section" in _text(nurse)
    assert 'href="/console"' in httpx.get(f"{server.url}/", cookies=cookies[s.dpo.email]).text
    assert 'href="/console"' in httpx.get(f"{server.url}/account", cookies=cookies[s.dpo.email]).text
    assert 'href="/console"' not in httpx.get(f"{server.url}/", cookies=cookies[s.nurse.email]).text
    refused = httpx.get(f"{server.url}/gouvernance/traces", cookies=cookies[s.nurse.email])
    assert refused.status_code == 403 and "réservée" in _text(refused)
    for member, url in ((s.manager, "/admin/teams"), (s.dpo, "/admin/sobriety"), (s.dpo, "/gouvernance/violations")):
        shown = httpx.get(f"{server.url}{url}", cookies=cookies[member.email])
        assert shown.status_code == 200 and shown.text.count('aria-label="Console"') == 1, url
        assert '<a href="/console"' in shown.text and 'aria-current="page"' in shown.text

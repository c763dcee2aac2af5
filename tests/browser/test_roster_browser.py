"""The duty roster in real Chromium, on a phone (360×780) and a desk (1280×800): a manager
defines the team's shifts, puts a nurse on the night of the October clock change with the
@garde role, sees the week as a list by day with its coverage picture, removes it, and imports
an iCalendar file whose hostile twin is refused in French; no sideways scrolling on the phone,
keyboard-reachable forms, axe-core finds nothing serious."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import icalendar
import pytest

from chevet.app.messaging import teams
from chevet.bootstrap import Installation
from chevet.core.care.roster import PARIS
from tests.browser.conftest import AXE, french_context, sign_in
from tests.browser.test_console import RAW, SIZES, UUID, _axe
from tests.support import Server, new_member, new_org


def _calendar(email: str) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Planning//FR")
    cal.add("version", "2.0")
    ev = icalendar.Event()
    ev.add("uid", "n@planning")
    ev.add("summary", "Nuit")
    ev.add("dtstart", datetime(2026, 10, 31, 19, tzinfo=PARIS))
    ev.add("dtend", datetime(2026, 11, 1, 7, tzinfo=PARIS))
    ev.add("attendee", f"mailto:{email}")
    cal.add_component(ev)
    return cal.to_ical()


async def test_a_manager_edits_the_roster_on_a_phone_and_a_desk(browser: Any, web_installation: Installation,
                                                               web_server: Server) -> None:
    if not AXE.exists():
        pytest.skip("axe-core not installed (run .ci/setup-browsers)")
    s = web_installation.services
    org = await new_org(s)
    manager = await new_member(s, org, "manager", "Claire Martin")
    for step, size in enumerate(SIZES):
        nurse = await new_member(s, org, "nurse", f"Sophie Bernard {step}")
        await teams.create_team(s, manager.actor, f"Unité {step}", [nurse.id])
        ctx: Any = await french_context(browser, viewport=size, bypass_csp=True)  # bypass only to inject axe
        page = await ctx.new_page()
        await sign_in(page, web_server.url, manager, offset_steps=step)
        await page.goto(f"{web_server.url}/console")
        await page.get_by_role("link", name="Plannings").locator("visible=true").first.click()
        await page.get_by_label("Équipe", exact=True).select_option(label=f"Unité {step}")
        await page.get_by_label("Semaine du", exact=True).fill("2026-10-21")
        await page.get_by_role("button", name="Afficher").click()
        for name, a, b in (("Jour", "07:00", "19:00"), ("Nuit", "19:00", "07:00")):
            await page.get_by_label("Nom du nouveau poste").fill(name)
            form = page.locator("form", has=page.get_by_label("Nom du nouveau poste"))
            await form.get_by_label("Début").fill(a)
            await form.get_by_label("Fin").fill(b)
            await form.get_by_role("button", name="Ajouter le poste").click()
            assert "Poste ajouté." in await page.locator("main").inner_text()
        add = page.locator("form", has=page.get_by_label("Personne"))
        await add.get_by_label("Personne").select_option(label=f"Sophie Bernard {step}")
        await add.get_by_label("Jour", exact=True).fill("2026-10-24")
        await add.get_by_label("Poste", exact=True).select_option(label="Nuit (19:00–07:00)")
        await add.get_by_label("Adresse de rôle").select_option(label="Infirmière de garde (@garde)")
        await add.get_by_role("button", name="Ajouter au planning").click()
        main = await page.locator("main").inner_text()
        assert "Affectation ajoutée au planning." in main
        saturday = page.locator("li.roster-day", has=page.get_by_role("heading", name="Samedi 24 octobre"))
        line = await saturday.inner_text()
        assert f"Sophie Bernard {step}" in line and "19 h 00 → le 25 octobre à 7 h 00" in line
        assert "Infirmière de garde" in line
        sunday = page.locator("li.roster-day", has=page.get_by_role("heading", name="Dimanche 25 octobre"))
        assert await sunday.get_by_role("img", name="Couverture du 25 octobre").count() == 1
        assert not UUID.search(main) and not RAW.search(main)
        assert await _axe(page) == [], size
        if size["width"] < 600:
            assert await page.evaluate("document.documentElement.scrollWidth") <= size["width"] + 1
        # the keyboard reaches the remove button of the line
        remove = saturday.get_by_role("button", name=f"Retirer Sophie Bernard {step}, Samedi 24 octobre")
        await remove.focus()
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert "Affectation retirée du planning." in await page.locator("main").inner_text()

        await page.get_by_role("link", name=f"Importer un planning pour Unité {step} (CSV ou iCalendar)").click()
        file = page.get_by_label("Fichier CSV ou iCalendar (1 Mo au plus)")
        await file.set_input_files({"name": "p.ics", "mimeType": "text/calendar",
                                    "buffer": b"BEGIN:VCALENDAR\r\n" + b"BEGIN:VEVENT\r\n" * 30 + b"END:VCALENDAR\r\n"})
        await page.get_by_role("button", name="Vérifier le fichier").click()
        assert "Le calendrier imbrique trop d'éléments ; rien n'est importé." in await page.locator("main").inner_text()
        assert await _axe(page) == [], size
        await page.get_by_label("Fichier CSV ou iCalendar (1 Mo au plus)").set_input_files(
            {"name": "p.ics", "mimeType": "text/calendar", "buffer": _calendar(nurse.email)})
        await page.get_by_role("button", name="Vérifier le fichier").click()
        preview = await page.locator("main").inner_text()
        assert "Fichier iCalendar : 1 affectation(s) à ajouter" in preview and "31 octobre 2026 à 19 h 00" in preview
        assert await _axe(page) == [], size
        if size["width"] < 600:
            assert await page.evaluate("document.documentElement.scrollWidth") <= size["width"] + 1
        await page.get_by_role("button", name="Importer 1 affectation(s)").click()
        assert "1 affectation(s) ajoutée(s)" in await page.locator("main").inner_text()
        await ctx.close()


async def test_the_composer_suggests_role_addresses(browser: Any, web_installation: Installation,
                                                    web_server: Server) -> None:
    from chevet.app.care import rosters
    from chevet.app.messaging import conversations

    s = web_installation.services
    org = await new_org(s)
    manager = await new_member(s, org, "manager", "Claire Martin")
    nurse = await new_member(s, org, "nurse", "Sophie Bernard")
    team = await teams.create_team(s, manager.actor, "Unité", [nurse.id])
    await rosters.week(s, manager.actor, None, s.clock.now().date())  # the organisation's role addresses
    conv, _ = await conversations.create_conversation(s, manager.actor, kind="team", title="Unité", member_ids=[],
                                                      team_id=uuid.UUID(team["id"]))
    ctx: Any = await french_context(browser, viewport=SIZES[0])
    page = await ctx.new_page()
    await sign_in(page, web_server.url, manager)
    await page.goto(f"{web_server.url}/c/{conv['id']}")
    body = page.locator("#body")
    await body.click()
    await body.press_sequentially("Peux-tu passer @astr")
    option = page.get_by_role("option", name="Astreinte médicale (@astreinte-medicale)")
    await option.wait_for()
    await body.press("Enter")
    assert await body.input_value() == "Peux-tu passer @astreinte-medicale "
    await ctx.close()

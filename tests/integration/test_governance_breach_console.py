"""The console's breach log, on SQLite and PostgreSQL: a breach recorded from the form (Paris
time), the hours left before the 72-hour deadline, an overdue breach in red whose notification
requires the reasons for the delay, and bad input answered in French without recording anything."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from chevet.app.governance import breach_log, gdpr
from chevet.bootstrap import Installation
from chevet.core.notification import LOCAL_TIME
from chevet.web.app import create_app
from tests.governance_support import FakeClock, scene
from tests.support import migrate
from tests.web_client import Browserless


@pytest.fixture
async def client(installation: Installation) -> AsyncIterator[Browserless]:
    c = Browserless(app=create_app(installation))
    yield c
    await c.close()


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


async def test_breach_form_clock_and_late_notification(installation: Installation, client: Browserless) -> None:
    svc = installation.services
    s = await scene(svc)
    await client.sign_in(s.dpo)
    clock = FakeClock(datetime.now(UTC).replace(second=0, microsecond=0))
    svc.clock = clock
    found = clock.now() - timedelta(hours=10)
    local = found.astimezone(LOCAL_TIME)
    form = {"discovered_day": local.date().isoformat(), "discovered_time": local.strftime("%H:%M"),
            "nature": "Courriel contenant un compte rendu envoyé au mauvais destinataire",
            "data_categories": "identité, santé", "people_affected": "1", "records_affected": "3",
            "consequences": "divulgation à un tiers", "measures": "demande de suppression au destinataire"}

    # Bad input: French errors naming the field in French, nothing recorded.
    for bad, said in ((dict(form, nature=" "), "Le champ « Nature de la violation » est obligatoire"),
                      (dict(form, people_affected="beaucoup"),
                       "« Nombre approximatif de personnes concernées » est invalide"),
                      (dict(form, discovered_day="2099-01-01"), "La date de découverte doit être passée"),
                      (dict(form, discovered_day="hier"), "Indiquez la date et l'heure de la découverte")):
        r = await client.post("/gouvernance/violations", bad)
        assert r.status_code == 422 and said in _text(r.text), bad
    assert await breach_log.breach_log(svc, s.dpo.actor) == []

    r = await client.post("/gouvernance/violations", form)
    assert r.status_code == 303
    [b] = await breach_log.breach_log(svc, s.dpo.actor)
    assert b.discovered_at == found and b.records_affected == 3 and b.people_affected == 1
    page = _text((await client.get("/gouvernance/violations")).text)
    assert "Reste 62 h pour notifier la CNIL" in page and "Nombre approximatif d'enregistrements concernés 3" in page

    # Discovered 80 hours ago: overdue, and notifying needs the reasons for the delay.
    late = await gdpr.record_breach(svc, s.dpo.actor, discovered_at=clock.now() - timedelta(hours=80),
                                    nature="Ordinateur portable volé", data_categories="santé", people_affected=None,
                                    consequences="", measures="")
    page = _text((await client.get("/gouvernance/violations")).text)
    assert "Délai de 72 h dépassé" in page
    r = await client.post(f"/gouvernance/violations/{late['id']}", {"action": "authority", "late_reason": ""},
                          from_page="/gouvernance/violations")
    assert r.status_code == 422 and "indiquez les raisons du retard" in _text(r.text)
    [entry] = [e for e in await breach_log.breach_log(svc, s.dpo.actor) if str(e.id) == late["id"]]
    assert entry.authority_notified_at is None
    r = await client.post(f"/gouvernance/violations/{late['id']}",
                          {"action": "authority", "late_reason": "Vol constaté un vendredi soir, DPO joint lundi"},
                          from_page="/gouvernance/violations")
    assert r.status_code == 303
    [entry] = [e for e in await breach_log.breach_log(svc, s.dpo.actor) if str(e.id) == late["id"]]
    assert entry.authority_notified_at == clock.now() and entry.notified_late and entry.late_reason
    assert "(après le délai de 72 h)" in _text((await client.get("/gouvernance/violations")).text)


async def test_breach_log_is_refused_in_words_to_care_staff(installation: Installation,
                                                            client: Browserless) -> None:
    s = await scene(installation.services)
    await client.sign_in(s.nurse)
    r = await client.get("/gouvernance/violations")
    assert r.status_code == 403 and "réservée au DPO" in _text(r.text)
    # Posting anyway, with a form right or wrong, is refused in words too (never a 500).
    token = await client.csrf("/account")
    for path, data in (("/gouvernance/violations", {"nature": "x"}), ("/gouvernance/violations", {}),
                       (f"/gouvernance/violations/{uuid.uuid4()}", {"action": "authority"}),
                       (f"/gouvernance/violations/{uuid.uuid4()}", {"action": "rien"}),
                       ("/gouvernance/violations/pas-un-id", {"action": "close"})):
        r = await client.post(path, data, csrf=token)
        assert r.status_code == 403, (path, data, r.status_code)


async def test_breach_details_migration_goes_down_and_up_keeping_the_log(installation: Installation) -> None:
    svc = installation.services
    s = await scene(svc)
    await gdpr.record_breach(svc, s.dpo.actor, discovered_at=svc.clock.now() - timedelta(hours=1), nature="Perte",
                             data_categories="identité", people_affected=2, consequences="", measures="",
                             records_affected=5)
    await migrate(installation, "0013_breach_details-1", up=False)
    await migrate(installation, "heads")
    [b] = await breach_log.breach_log(svc, s.dpo.actor)
    assert b.nature == "Perte" and b.people_affected == 2 and b.records_affected is None and b.late_reason == ""

"""The signalement API over HTTP on a real server: an anonymous report does not even touch its
reporter's session, errors are problem details in the caller's language and change nothing,
another organisation gets 404s, the follow-up code works without signing in, and a cross-site
form post is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update

from chevet.bootstrap import Installation
from tests.signalement_support import ehpad
from tests.support import Server, login


def _report(now: datetime, **extra: object) -> dict[str, object]:
    return {"mode": "anonymous", "what": "Erreur de distribution des médicaments du soir",
            "occurred_at": (now - timedelta(hours=1)).isoformat(), "place": "Unité B",
            "affected_refs": ["B7"], **extra}


async def test_anonymous_filing_over_http_leaves_the_session_untouched(installation: Installation,
                                                                       server: Server) -> None:
    from chevet.adapters.db.schema import session as session_table

    svc = installation.services
    e = await ehpad(svc)
    token = login(server.url, e.carer)
    engine = svc.db.engine  # type: ignore[attr-defined]
    earlier = datetime.now(UTC) - timedelta(minutes=30)
    async with engine.begin() as conn:
        await conn.execute(update(session_table).values(last_used_at=earlier))
    now = datetime.now(UTC)
    r = httpx.post(f"{server.url}/api/v1/reports", json=_report(now), headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    code = r.json()["followup_code"]
    async with engine.connect() as conn:
        used = (await conn.execute(select(session_table.c.last_used_at))).scalars().all()
    assert used and all(abs((u - earlier).total_seconds()) < 1 for u in used)

    # The reporter (or anyone holding the code) reads the outcome without signing in.
    r = httpx.post(f"{server.url}/api/v1/reports/followup", json={"code": code})
    assert r.status_code == 200 and r.json()["status"] == "new"
    r = httpx.post(f"{server.url}/api/v1/reports/followup", json={"code": "nope"},
                   headers={"Accept-Language": "en"})
    assert r.status_code == 404 and r.json()["detail"] == "Unknown follow-up code."


async def test_errors_are_explained_and_other_organisations_see_nothing(installation: Installation,
                                                                         server: Server) -> None:
    svc = installation.services
    e = await ehpad(svc)
    other = await ehpad(svc)
    carer = {"Authorization": f"Bearer {login(server.url, e.carer)}"}
    quality = {"Authorization": f"Bearer {login(server.url, e.quality)}"}
    stranger = {"Authorization": f"Bearer {login(server.url, other.quality)}"}
    now = datetime.now(UTC)

    r = httpx.post(f"{server.url}/api/v1/reports", json=_report(now, affected_refs=["2 85 03 69 123 456 12"]),
                   headers=carer)
    assert r.status_code == 422 and r.json()["code"] == "national_id_refused"
    r = httpx.post(f"{server.url}/api/v1/reports", json=_report(now, occurred_at="2026-11-28T03:10:00"),
                   headers=carer | {"Accept-Language": "en"})
    assert r.status_code == 422 and r.json()["code"] == "request_invalid"
    r = httpx.post(f"{server.url}/api/v1/reports", content=b"{not json",
                   headers=carer | {"Content-Type": "application/json"})
    assert r.status_code == 400

    r = httpx.post(f"{server.url}/api/v1/reports", json=_report(now, mode="named"), headers=carer)
    rid = r.json()["id"]
    r = httpx.post(f"{server.url}/api/v1/reports/{rid}/qualification", headers=carer, json={"severity": "minor"})
    assert r.status_code == 403 and r.json()["detail"] == "Réservé aux responsables qualité et à la direction."
    r = httpx.post(f"{server.url}/api/v1/reports/{rid}/qualification", headers=quality,
                   json={"severity": "significant", "gdpr_breach": True, "security": ["data"]})
    assert r.status_code == 200
    assert {d["kind"] for d in r.json()["deadlines"]} == {"security", "gdpr"}
    r = httpx.get(f"{server.url}/api/v1/reports/{rid}/forms/gdpr/export", headers=quality)
    assert r.status_code == 422 and r.json()["code"] == "report_form_not_validated"

    for path in (f"/api/v1/reports/{rid}", f"/api/v1/reports/{rid}/forms/gdpr", "/api/v1/reports/not-an-id"):
        r = httpx.get(f"{server.url}{path}", headers=stranger)
        assert r.status_code == 404, path
    assert httpx.get(f"{server.url}/api/v1/reports", headers=stranger).json() == []
    r = httpx.get(f"{server.url}/api/v1/reports/statistics.csv", headers=quality)
    assert r.status_code == 200 and "total;signalements;1" in r.text
    r = httpx.get(f"{server.url}/api/v1/reports/deadlines", headers=quality)
    assert r.json()["counts"]["due"] == 2


async def test_a_cross_site_form_post_is_refused(installation: Installation, server: Server) -> None:
    from chevet.app.signalement import reports as app_reports

    e = await ehpad(installation.services)
    token = login(server.url, e.carer)
    for files in (None, {"file": ("note.txt", b"Constat\n", "text/plain")}):
        r = httpx.post(f"{server.url}/signalement/nouveau", cookies={"chevet_session": token},
                       headers={"Sec-Fetch-Site": "cross-site"}, files=files,
                       data={"what": "x", "occurred_at": "2026-01-01T01:00", "place": "y", "mode": "named"})
        assert r.status_code == 403 and "Le formulaire a expiré" in r.text  # no CSRF token: refused
    assert await app_reports.list_reports(installation.services, e.carer.actor) == []
    r = httpx.get(f"{server.url}/signalement", cookies={"chevet_session": token})
    assert r.status_code == 200 and "pas de signalement nominatif en cours" in r.text
    assert "<script>" not in r.text and "http://" not in r.text and "https://" not in r.text


async def test_the_quality_lead_is_notified_live_of_a_new_report(installation: Installation,
                                                                   server: Server) -> None:
    import asyncio
    import json

    import websockets

    e = await ehpad(installation.services)
    ql_token = login(server.url, e.quality)
    carer_token = login(server.url, e.carer)
    async with websockets.connect(f"{server.ws_url}/api/v1/stream",
                                  additional_headers={"Authorization": f"Bearer {ql_token}"}) as ws:
        while json.loads(await asyncio.wait_for(ws.recv(), 10)).get("type") != "ready":
            pass
        r = httpx.post(f"{server.url}/api/v1/reports", json=_report(datetime.now(UTC)),
                       headers={"Authorization": f"Bearer {carer_token}"})
        assert r.status_code == 201
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if event.get("type") == "signalement.filed":
                break
    assert event["report_id"] == r.json()["id"]
    assert set(event) == {"type", "title", "report_id"}  # no content, no reporter


async def test_hostile_input_to_the_pages_never_breaks_them(installation: Installation, server: Server) -> None:
    svc = installation.services
    e = await ehpad(svc)
    from chevet.app.signalement import filing
    from tests.signalement_support import fall

    filed = await filing.file_report(svc, e.carer.actor, mode="named", **fall(svc.clock.now()))
    cookies = {"chevet_session": login(server.url, e.quality)}
    rid = filed.report_id
    attempts = [
        ("GET", "/signalement/not-a-uuid", {}), ("GET", f"/signalement/{rid}/formulaires/nope", {}),
        ("GET", f"/signalement/{rid}/formulaires/essms/export.exe", {}),
        ("GET", "/signalement/statistiques?annee=99999999999999999999", {}),
        ("POST", "/signalement/nouveau", {"what": "x", "occurred_at": "hier", "place": "y"}),
        ("POST", "/signalement/nouveau", {"what": "x", "occurred_at": "2026-01-01T01:00", "place": "y",
                                          "team_id": "zzz", "mode": "named"}),
        ("POST", f"/signalement/{rid}/qualification", {"severity": "apocalyptic"}),
        ("POST", f"/signalement/{rid}/qualification", {"severity": "major", "categories": "nope"}),
        ("POST", f"/signalement/{rid}/actions", {"title": "t", "owner_id": "not-an-id", "due": "31/02"}),
        ("POST", f"/signalement/{rid}/actions/nope/fait", {}),
        ("POST", f"/signalement/{rid}/lecteurs", {"person_id": ""}),
        ("POST", f"/signalement/{rid}/formulaires/essms", {"victims_count": "-3"}),
        ("POST", f"/signalement/{rid}/formulaires/essms/envoi", {"channel": "pigeon"}),
        ("POST", f"/signalement/{rid}/cloture", {}),
        ("POST", "/signalement/suivi", {"code": "x" * 500}),
    ]
    page = httpx.get(f"{server.url}/signalement/{rid}", cookies=cookies).text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    for method, path, data in attempts:
        if method == "POST":
            data = {**data, "csrf": csrf}
        r = httpx.request(method, f"{server.url}{path}", data=data or None, cookies=cookies)
        assert r.status_code < 500, (path, r.status_code, r.text[:200])
        assert r.status_code >= 400 or r.status_code in (200, 303), path
    after = httpx.get(f"{server.url}/api/v1/reports/{rid}", cookies=cookies).json()
    assert after["status"] == "new" and after["actions"] == [] and after["readers"] == []

"""The sobriety dashboard: administrators and the DPO see what their organisation stores,
how it grows, what was saved and an estimate with its sources; nobody else, and never
another organisation's figures."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from chevet.bootstrap import Installation
from chevet.core.entities import Team
from chevet.core.ids import new_id
from tests.attachment_support import Api
from tests.media_samples import pdf, phone_photo
from tests.support import new_member, new_org

SVG = "{http://www.w3.org/2000/svg}"


async def test_dashboard_shows_costs_and_savings_to_admin_and_dpo_only(installation: Installation,
                                                                       api: Api) -> None:
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin")
    dpo = await new_member(svc, org, "dpo")
    nurse = await new_member(svc, org, "nurse")
    other = await new_org(svc)
    other_admin = await new_member(svc, other, "admin")
    other_nurse = await new_member(svc, other, "nurse")
    for m in (admin, dpo, nurse, other_admin, other_nurse):
        await api.login(m)
    team = Team(new_id(), org.id, "=HYPERLINK(\"x\")", datetime.now(UTC))
    async with svc.db.transaction() as tx:
        await tx.teams.add(team)
        await tx.teams.add_member(team.id, nurse.id)
    r = await api.client.post("/api/v1/conversations", headers=api.auth(admin), json={
        "kind": "team", "title": "Transmissions", "team_id": str(team.id)})
    assert r.status_code == 201, r.text
    team_conv = r.json()["id"]
    photo = phone_photo(2000, 1500, quality=92)
    att = (await api.upload(nurse, team_conv, photo, name="plaie.jpg")).json()
    again = (await api.upload(nurse, team_conv, photo, name="plaie-bis.jpg")).json()
    assert again["deduplicated"] is True
    assert (await api.send(nurse, team_conv, [att["id"], again["id"]], body="Pansement refait")).status_code == 201
    direct = await api.conversation(nurse, admin, kind="direct")
    letter = (await api.upload(nurse, direct, pdf("Courrier"), name="courrier.pdf")).json()
    assert (await api.send(nurse, direct, [letter["id"]], body="Courrier de sortie")).status_code == 201
    # Another organisation's activity must not show up.
    oc = await api.conversation(other_admin, other_nurse)
    big = (await api.upload(other_nurse, oc, pdf("y" * 50_000), name="x.pdf")).json()
    assert (await api.send(other_nurse, oc, [big["id"]])).status_code == 201

    for path in ("/api/v1/admin/sobriety", "/api/v1/admin/sobriety.csv", "/api/v1/admin/sobriety/growth.svg"):
        assert (await api.client.get(path, headers=api.auth(nurse))).status_code == 403, path
    r = await api.client.get("/admin/sobriety", headers={"Cookie": f"chevet_session={api.tokens[nurse.id]}"})
    assert r.status_code == 403

    r = await api.client.get("/api/v1/admin/sobriety", headers=api.auth(dpo))
    assert r.status_code == 200, r.text
    figures = r.json()
    stored = figures["storage"]["by_kind"]
    assert stored["image"] > 0 and stored["document"] > 0 and stored["text"] > 0
    assert stored["document"] < 50_000, "the other organisation's PDF is not counted"
    assert figures["storage"]["total"] == sum(stored.values())
    assert figures["growth"]["bytes"]["image"][-1] == stored["image"]
    assert len(figures["growth"]["months"]) == 12
    team_row = next(t for t in figures["by_team"] if t["team_id"] == str(team.id))
    assert team_row["image"] == stored["image"]
    sv = figures["savings"]
    assert sv["deduplicated_attachments"] == 1 and sv["saved_by_dedup_bytes"] == att["size"]
    assert sv["saved_by_processing_bytes"] >= len(photo) - att["size"] - 1
    fp = figures["footprint"]
    assert fp["estimate_gco2e"]["storage_per_year"] is None, "no invented storage factor"
    mobile = next(f for f in fp["factors"] if f["name"] == "mobile_network")
    assert mobile["value"] == 49.4 and "ADEME" in mobile["source"] and mobile["date"]
    transfer = fp["estimate_gco2e"]["transfer"]
    assert transfer["low"] == 0 and transfer["high"] > 0
    assert figures["retention_next_month"]["available"] is True

    r = await api.client.get("/api/v1/admin/sobriety.csv", headers=api.auth(admin))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["section", "item", "value", "unit"]
    assert ["storage", "image", str(stored["image"]), "bytes"] in rows
    team_cells = [row[1] for row in rows if row[0] == "team"]
    assert team_cells and all(not c.startswith("=") for c in team_cells), "no formula injection"
    assert any(row[0] == "factor_source" and "ADEME" in row[2] for row in rows)

    r = await api.client.get("/api/v1/admin/sobriety/growth.svg", headers=api.auth(admin))
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    svg = ET.fromstring(r.content)
    assert svg.get("role") == "img" and svg.get("aria-labelledby")
    assert svg.find(f"{SVG}title").text == "Croissance du stockage par nature de contenu"
    assert "images" in svg.find(f"{SVG}desc").text
    assert not list(svg.iter(f"{SVG}script"))
    assert len(list(svg.iter(f"{SVG}polyline"))) == 3

    r = await api.client.get("/admin/sobriety", headers={"Cookie": f"chevet_session={api.tokens[dpo.id]}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<html lang="fr">' in page and "Sobriété numérique" in page
    assert all(" src=" in tag for tag in re.findall(r"<script[^>]*>", page)), "no inline script"
    assert "style=" not in page
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "ADEME" in page and "<svg" in page and "<table>" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', ""), "no third-party origin"

    # The other organisation's administrator sees only her own figures.
    theirs = (await api.client.get("/api/v1/admin/sobriety", headers=api.auth(other_admin))).json()
    assert theirs["storage"]["by_kind"]["image"] == 0
    assert theirs["storage"]["by_kind"]["document"] >= 50_000


async def test_a_configured_storage_factor_is_shown_with_its_source(tmp_path: Path) -> None:
    from chevet.app.governance import sobriety as sobriety_app
    from chevet.web.pages.sobriety import context
    from tests.support import new_installation

    inst = await new_installation(tmp_path / "data", None, footprint__storage_g_per_gb_year=12.0,
                                  footprint__storage_source="Hébergeur HDS, bilan carbone 2025")
    try:
        org = await new_org(inst.services)
        dpo = await new_member(inst.services, org, "dpo")
        figures = await sobriety_app.dashboard(inst.services, dpo.actor)
        storage = next(f for f in figures["footprint"]["factors"] if f["name"] == "storage")
        assert storage["value"] == 12.0 and storage["source"] == "Hébergeur HDS, bilan carbone 2025"
        assert figures["footprint"]["estimate_gco2e"]["storage_per_year"] is not None
        english = context(figures, "en")
        assert any("Hébergeur HDS, bilan carbone 2025" in row for row in english["factor_rows"])
        assert english["estimate_rows"][2][1].startswith("from "), "a range, not 'not estimated'"
        assert english["team_rows"] == [] and english["caveats"][0].startswith("Estimates, not measurements")
    finally:
        await inst.close()

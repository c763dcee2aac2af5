"""Importing staff from a CSV file: the dry run names each refused line in French and changes
nothing; applying invites every valid line (with its teams), once; a refused file or a nurse
changes nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import html
import os
import re
import subprocess
from pathlib import Path

import pytest

from chevet.app.identity import staff_import
from chevet.app.messaging import teams
from chevet.app.services import Services
from chevet.bootstrap import Installation
from chevet.core.entities import Organisation, Person
from chevet.core.errors import Forbidden
from chevet.core.staff_file import StaffFileRejected
from chevet.web.app import create_app
from chevet.web.staff_problems import problem_text
from tests.governance_support import cli
from tests.support import new_member, new_org
from tests.web_client import Browserless


def staff_csv(count: int = 500, bad: dict[int, str] | None = None) -> bytes:
    """``count`` people, French Excel style; ``bad`` replaces the e-mail of some of them
    (by their 1-based position after the header: line = position + 1)."""
    lines = ["Nom;Prénom;E-mail;Fonction;Équipes"]
    for i in range(1, count + 1):
        email = (bad or {}).get(i, f"agent{i}@tilleuls.example")
        team = "Nuit" if i % 2 else "Jour, Unité Alzheimer"
        lines.append(f"Martin{i};Camille;{email};infirmière;\"{team}\"")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")


async def _imported(s: Services, org: Organisation) -> list[Person]:
    async with s.db.transaction() as tx:
        return await tx.people.search(org.id, "@tilleuls.example", 1000)


BAD = {11: "x@", 200: "pas-une-adresse", 350: "agent1@tilleuls.example"}


async def test_preview_then_apply_then_reapply(installation: Installation) -> None:
    s = installation.services
    org = await new_org(s, "ehpad-tilleuls")
    admin = await new_member(s, org, "admin")
    data = staff_csv(500, BAD)

    seen = await staff_import.preview(s, admin.actor, data)
    assert seen.importable == 497
    words = [problem_text("fr", p) for p in seen.problems]
    assert words == ["Ligne 12 : l'adresse « x@ » n'est pas une adresse e-mail valide",
                     "Ligne 201 : l'adresse « pas-une-adresse » n'est pas une adresse e-mail valide",
                     "Ligne 351 : l'adresse « agent1@tilleuls.example » figure déjà ligne 2 ; "
                     "cette ligne est ignorée"]
    assert set(seen.new_teams) == {"Nuit", "Jour", "Unité Alzheimer"}
    assert len(await _imported(s, org)) == 0  # a dry run

    steps: list[tuple[int, int]] = []
    done = await staff_import.apply(s, admin.actor, data, lambda d, t: steps.append((d, t)))
    assert done.created == 497 and done.teams_created == 3
    assert steps[-1] == (497, 497) and len(steps) == 5  # bounded transactions, progress after each
    invited = await _imported(s, org)
    assert len(invited) == 497 and all(p.status.value == "invited" for p in invited)
    by_name = {t["name"]: t for t in await teams.list_teams(s, admin.actor)}
    assert len(by_name["Nuit"]["member_ids"]) + len(by_name["Jour"]["member_ids"]) == 497
    assert by_name["Jour"]["member_ids"] == by_name["Unité Alzheimer"]["member_ids"]
    async with s.db.transaction() as tx:
        trail = await tx.audit_trail.search(org.id, actions=["person.invited", "people.imported", "team.created"],
                                            limit=1000)
    actions = [e.action for e in trail]
    assert actions.count("person.invited") == 497 and actions.count("team.created") == 3
    assert actions.count("people.imported") == 5

    again = await staff_import.apply(s, admin.actor, data)
    assert again.created == 0 and again.teams_created == 0
    assert sum(p.code == "already_present" for p in again.problems) == 497
    assert len(await _imported(s, org)) == 497


async def test_rejected_file_and_nurse_change_nothing(installation: Installation) -> None:
    s = installation.services
    org = await new_org(s, "ehpad-tilleuls")
    admin, nurse = await new_member(s, org, "admin"), await new_member(s, org, "nurse")
    with pytest.raises(StaffFileRejected) as refused:
        await staff_import.apply(s, admin.actor, b"Nom;Prenom\r\nMartin;Camille\r\n")
    assert refused.value.reason == "missing_columns"
    with pytest.raises(Forbidden):
        await staff_import.preview(s, nurse.actor, staff_csv(3))
    with pytest.raises(Forbidden):
        await staff_import.apply(s, nurse.actor, staff_csv(3))
    assert len(await _imported(s, org)) == 0
    assert await teams.list_teams(s, admin.actor) == []


async def test_console_page_previews_then_imports(installation: Installation) -> None:
    s = installation.services
    org = await new_org(s, "ehpad-tilleuls")
    admin, nurse = await new_member(s, org, "admin"), await new_member(s, org, "nurse")
    client = Browserless(app=create_app(installation))
    try:
        await client.sign_in(admin)
        assert "/admin/people/import" in (await client.get("/admin/people")).text
        csrf = await client.csrf("/admin/people/import")
        upload = {"file": ("personnel.csv", staff_csv(20, {11: "x@"}), "text/csv")}
        seen = await client.http.post("/admin/people/import", data={"csrf": csrf}, files=upload)
        words = html.unescape(seen.text)
        assert seen.status_code == 200 and "Aperçu : rien n'est encore modifié" in words
        assert "Ligne 12 : l'adresse « x@ » n'est pas une adresse e-mail valide" in words
        assert words.index("Ligne 12 :") < words.index("agent1@tilleuls.example")  # errors first
        assert 'data-label="E-mail"' in seen.text and "Importer 19 personne(s)" in words
        assert await _imported(s, org) == []
        token = re.search(r'name="token" value="([^"]+)"', seen.text)
        assert token is not None
        kept = list((installation.settings.data_dir / "staff-import").glob("*.csv"))
        assert len(kept) == 1 and kept[0].stat().st_mode & 0o777 == 0o600
        done = await client.post("/admin/people/import/apply", {"token": token.group(1)}, csrf=csrf)
        assert done.status_code == 200 and "19 personne(s) invitée(s), 3 équipe(s) créée(s)" in html.unescape(done.text)
        assert len(await _imported(s, org)) == 19 and not kept[0].exists()
        again = await client.post("/admin/people/import/apply", {"token": token.group(1)}, csrf=csrf)
        assert again.status_code == 410 and len(await _imported(s, org)) == 19
        refused = await client.http.post("/admin/people/import", data={"csrf": csrf},
                                         files={"file": ("x.csv", b"Nom;Prenom\r\nA;B\r\n", "text/csv")})
        assert refused.status_code == 422
        assert "Colonnes obligatoires manquantes : E-mail, Fonction." in html.unescape(refused.text)
    finally:
        await client.close()
    other = Browserless(app=create_app(installation))
    try:
        await other.sign_in(nurse)
        assert (await other.get("/admin/people/import")).status_code == 403
    finally:
        await other.close()


def _cli(installation: Installation, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as the test's own Python finds the package (PYTHONPATH kept, if any)."""
    return cli(installation, *args, env={"PYTHONPATH": os.environ.get("PYTHONPATH", "")})


async def test_command_line_previews_then_imports_in_french(installation: Installation, tmp_path: Path) -> None:
    s = installation.services
    org = await new_org(s, "ehpad-tilleuls")
    file = tmp_path / "personnel.csv"
    file.write_bytes(staff_csv(30, {11: "x@"}))
    seen = _cli(installation, "people", "import", "--org", org.slug, str(file))
    assert seen.returncode == 0, seen.stderr
    assert "29 personne(s) à inviter, 1 ligne(s) écartée(s)" in seen.stdout
    assert "Ligne 12 : l'adresse « x@ » n'est pas une adresse e-mail valide" in seen.stdout
    assert await _imported(s, org) == []
    done = _cli(installation, "people", "import", "--org", org.slug, str(file), "--apply")
    assert done.returncode == 0, done.stderr
    assert "29 personne(s) invitée(s), 3 équipe(s) créée(s)" in done.stdout
    assert "29 / 29 personnes traitées" in done.stderr
    assert len(await _imported(s, org)) == 29
    refused = tmp_path / "refus.csv"
    refused.write_bytes(b"Nom;Prenom\r\nA;B\r\n")
    bad = _cli(installation, "people", "import", "--org", org.slug, str(refused), "--apply")
    assert bad.returncode == 1 and "Colonnes obligatoires manquantes" in bad.stderr

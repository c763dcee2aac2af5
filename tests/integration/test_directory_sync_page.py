"""The console page /admin/annuaire: an administrator previews the sync, applies it and reads the
summary in French; a nurse may not; a directory down is said in words and changes nothing."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chevet.bootstrap import Installation
from chevet.web.app import create_app
from tests import ldap_support
from tests.ldap_support import ADMIN_DN, ADMIN_PASSWORD, GROUPS, PEOPLE, Slapd
from tests.support import new_installation, new_member, new_org
from tests.web_client import Browserless

slapd, directory = ldap_support.slapd, ldap_support.directory
SLUG = "ehpad-tilleuls"


def _section(url: str) -> dict[str, object]:
    return {"organisation": SLUG, "url": url, "start_tls": False, "bind_dn": ADMIN_DN, "password": ADMIN_PASSWORD,
            "base_dn": PEOPLE, "group_base_dn": GROUPS, "timeout_seconds": 3}


@pytest.fixture
async def synced(tmp_path: Path, database_url: str | None, directory: Slapd) -> AsyncIterator[Installation]:
    inst = await new_installation(tmp_path / "data", database_url, directory_sync=_section(directory.url))
    try:
        yield inst
    finally:
        await inst.close()


async def test_admin_previews_then_applies_and_reads_the_french_summary(synced: Installation) -> None:
    org = await new_org(synced.services, SLUG)
    admin, nurse = await new_member(synced.services, org, "admin"), await new_member(synced.services, org, "nurse")
    client = Browserless(app=create_app(synced))
    try:
        await client.sign_in(admin)
        page = await client.get("/admin/annuaire")
        assert page.status_code == 200 and "Aucune synchronisation pour l'instant." in html.unescape(page.text)
        preview = await client.post("/admin/annuaire", {}, from_page="/admin/annuaire")
        assert preview.status_code == 200
        assert "Aperçu : rien n'est encore modifié" in html.unescape(preview.text)
        assert "5 à inviter, 0 à mettre à jour, 0 à désactiver." in html.unescape(preview.text)
        done = await client.post("/admin/annuaire", {"apply": "1"}, from_page="/admin/annuaire")
        words = html.unescape(done.text)
        assert "Synchronisation appliquée" in words and "Personnes invitées : 5" in words
        assert "tilleuls.fr" not in html.unescape(done.text)  # counts, never the directory's addresses
    finally:
        await client.close()
    other = Browserless(app=create_app(synced))
    try:
        await other.sign_in(nurse)
        assert (await other.get("/admin/annuaire")).status_code == 403
    finally:
        await other.close()


async def test_directory_down_is_said_in_french(tmp_path: Path, database_url: str | None) -> None:
    inst = await new_installation(tmp_path / "data", database_url, directory_sync=_section("ldap://127.0.0.1:9"))
    try:
        org = await new_org(inst.services, SLUG)
        admin = await new_member(inst.services, org, "admin")
        client = Browserless(app=create_app(inst))
        try:
            await client.sign_in(admin)
            r = await client.post("/admin/annuaire", {"apply": "1"}, from_page="/admin/annuaire")
            assert r.status_code == 422 and "l'annuaire ne répond pas ; rien n'a été modifié." in html.unescape(r.text)
        finally:
            await client.close()
    finally:
        await inst.close()

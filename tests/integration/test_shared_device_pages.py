"""The shared-device pages over HTTP, on SQLite and PostgreSQL: registering the browser from the
console (its cookie's attributes), the sign-in page sending a shared device to its lock screen,
choosing a PIN, locking, a wrong PIN said in French, and refusals in words (someone of another
organisation, a nurse at the console), each answer that changes the person clearing the
browser's data."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chevet.bootstrap import Installation
from chevet.web.app import create_app
from tests.support import Member, new_member, new_org
from tests.web_client import Browserless


def words(r: Any) -> str:
    return html.unescape(r.text)


PERIOD = re.compile(r'href="/appareil/personne/([0-9a-f-]{36})"')


@pytest.fixture
def app(installation: Installation) -> Any:
    return create_app(installation)


@pytest.fixture
async def tablet(app: Any) -> AsyncIterator[Browserless]:
    c = Browserless(app=app)
    yield c
    await c.close()


async def sign_in_on_device(c: Browserless, who: Member, offset_steps: int = 0) -> Any:
    """Her code of the next step when she already signed in elsewhere with this one (a code is
    accepted once)."""
    return await c.post("/login", {"email": who.email, "password": who.password, "otp": who.otp(offset_steps)},
                        from_page="/login?appareil=1")


async def test_a_tablet_registered_then_used_by_a_nurse_through_its_pages(installation: Installation,
                                                                          tablet: Browserless, app: Any) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-pages")
    admin = await new_member(svc, org, "admin", "Alice Admin")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    stranger = await new_member(svc, await new_org(svc, "ehpad-autre"), "nurse", "Nadia Autre")

    nurse_browser = Browserless(app=app)
    try:
        await nurse_browser.sign_in(nurse)
        refused = await nurse_browser.get("/admin/appareils-partages")
        assert refused.status_code == 403 and "réservée aux administrateurs" in words(refused)
    finally:
        await nurse_browser.close()

    await tablet.sign_in(admin)
    page = await tablet.get("/admin/appareils-partages")
    assert page.status_code == 200 and "Aucun appareil partagé n'est enregistré." in words(page)
    bad = await tablet.post("/admin/appareils-partages", {"name": "x"})
    assert bad.status_code == 422 and "doit compter de 2 à 80 caractères" in words(bad)
    done = await tablet.post("/admin/appareils-partages", {"name": "Tablette unité Les Tilleuls"})
    assert done.status_code == 303 and done.headers["location"] == "/appareil?fait=registered"
    assert done.headers["clear-site-data"] == '"cache", "storage"'
    shared = next(h for h in done.headers.get_list("set-cookie") if h.startswith("chevet_shared="))
    assert "HttpOnly" in shared and "SameSite=lax" in shared and "Path=/" in shared
    assert "chevet_session" not in tablet.http.cookies  # the administrator is signed out of the tablet

    # The sign-in page of a shared device is its lock screen.
    first = await tablet.get("/login")
    assert first.status_code == 303 and first.headers["location"] == "/appareil"
    screen = await tablet.get("/appareil")
    assert screen.status_code == 200 and "Personne n'a de période ouverte sur cet appareil." in words(screen)

    # Someone of another organisation is refused, in words, and stays signed out.
    other = await sign_in_on_device(tablet, stranger)
    assert other.status_code == 403 and "appartient à un autre établissement" in words(other)
    assert (await tablet.get("/")).status_code == 303

    signed = await sign_in_on_device(tablet, nurse, 1)
    assert signed.status_code == 303 and signed.headers["location"].startswith("/appareil/code?")
    assert signed.headers["clear-site-data"] == '"cache", "storage"'
    simple = await tablet.post("/appareil/code", {"pin": "123456", "pin2": "123456", "next": "/"})
    assert simple.status_code == 422 and "se devine trop facilement" in words(simple)
    chosen = await tablet.post("/appareil/code", {"pin": "482915", "pin2": "482915", "next": "/"})
    assert chosen.status_code == 303 and chosen.headers["location"] == "/"
    home = await tablet.get("/")
    assert home.status_code == 200 and 'data-shared-lock data-idle-seconds="180"' in home.text
    assert (await tablet.get("/appareil/actif")).status_code == 204

    locked = await tablet.http.post("/appareil/verrouiller")
    assert locked.status_code == 303 and locked.headers["location"] == "/appareil"
    assert locked.headers["clear-site-data"] == '"cache", "storage"'
    assert (await tablet.get("/")).status_code == 303  # her session ended
    assert (await tablet.get("/appareil/actif")).status_code == 401
    screen = await tablet.get("/appareil")
    assert "Sophie B." in words(screen) and "Bernard" not in words(screen)
    period = PERIOD.search(screen.text)
    assert period is not None
    form = f"/appareil/personne/{period.group(1)}"
    wrong = await tablet.post(form, {"pin": "000111"})
    assert wrong.status_code == 401 and "Code incorrect. Essais restants : 2." in words(wrong)
    right = await tablet.post(form, {"pin": "482915"})
    assert right.status_code == 303 and right.headers["clear-site-data"] == '"cache", "storage"'
    assert (await tablet.get("/")).status_code == 200

    # Signing out on the tablet ends her period: her name leaves the lock screen.
    out = await tablet.post("/logout", {}, from_page="/account")
    assert out.status_code == 303 and out.headers["location"] == "/appareil"
    assert "Sophie B." not in words(await tablet.get("/appareil"))

"""The whole invitation alone on one phone (360×780, Debian's Chromium, a real server, the real
loopback Postfix and Dovecot): the administrator invites her into a team, the mail arrives, she
opens the link from it, chooses a password, finds the authenticator link with the right secret
and issuer, mistypes the code and still sees the secret, types the right one and is on the
list, signed in, with her team's channel."""

from __future__ import annotations

import re
import time
import uuid
from email import message_from_bytes
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, expect

from chevet.app.messaging import conversations, teams
from chevet.bootstrap import Installation
from chevet.core import totp
from tests.browser.conftest import AXE, french_context, sign_in
from tests.browser.test_quality import _axe
from tests.conftest import _require
from tests.mss_support import OPERATOR_CA, PASSWORD, SMTP_PORT, mail_available, mailbox_contents, unique
from tests.support import Server, login, new_member, new_org

PHONE: dict[str, Any] = {"viewport": {"width": 360, "height": 780}, "is_mobile": True, "has_touch": True,
                         "device_scale_factor": 2, "bypass_csp": True}  # bypass: only to inject axe itself


async def accessible(page: Any, label: str, problems: dict[str, list[str]]) -> None:
    if AXE.exists():
        problems.update(await _axe(page, label))


async def test_the_invitation_alone_on_one_phone(browser: Browser, web_installation: Installation,
                                                 tmp_path: Path) -> None:
    _require(mail_available(), "the loopback mail servers (.ci/setup-mail)")
    svc = web_installation.services
    org = await new_org(svc, "ehpad-telephone")
    admin = await new_member(svc, org, "admin", "Claire Martin")
    team = await teams.create_team(svc, admin.actor, "Unité Alzheimer")
    await conversations.create_conversation(svc, admin.actor, kind="team", title="Unité Alzheimer",
                                            member_ids=[], team_id=uuid.UUID(team["id"]))
    sender, invitee = unique("noreply", "ehpad.test"), unique("julie", "ehpad.test")
    env = {"CHEVET_TEST_RELAY_PASSWORD": PASSWORD, "CHEVET_MAIL_RELAY__HOST": "127.0.0.1",
           "CHEVET_MAIL_RELAY__PORT": str(SMTP_PORT), "CHEVET_MAIL_RELAY__USERNAME": sender,
           "CHEVET_MAIL_RELAY__PASSWORD_ENV": "CHEVET_TEST_RELAY_PASSWORD", "CHEVET_MAIL_RELAY__SENDER": sender,
           "CHEVET_MAIL_RELAY__CA_FILE": str(OPERATOR_CA)}
    server = Server(web_installation.settings, env=env)
    problems: dict[str, list[str]] = {}
    try:
        # The administrator, on her phone too.
        admin_ctx: Any = await french_context(browser, **PHONE)
        await admin_ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        a = await admin_ctx.new_page()
        await sign_in(a, server.url, admin)
        await a.goto(f"{server.url}/admin/people")
        await a.locator("details.card summary").click()
        await a.locator("#i-name").fill("Julie Petit")
        await a.locator("#i-email").fill(invitee)
        await a.locator("#i-role").select_option("nurse")
        await a.get_by_label("Unité Alzheimer").check()
        await a.locator("form[action='/admin/people/invite'] button[type=submit]").click()
        result = a.locator(".invite-result")
        await expect(result).to_contain_text(f"partira par e-mail dans un instant, à {invitee}")
        await expect(result.locator("svg")).to_be_visible()
        shown = await a.locator("[data-invite-link]").input_value()
        await a.get_by_role("button", name="Copier le lien").click()
        await expect(a.locator("[data-copy-status]")).to_have_text("Lien copié.")
        assert await a.evaluate("navigator.clipboard.readText()") == shown
        await accessible(a, "invitation made", problems)
        await admin_ctx.close()

        # Julie, alone with her phone: the link comes from her mailbox.
        [raw] = mailbox_contents(invitee)
        body = message_from_bytes(raw).get_payload(decode=True)
        assert isinstance(body, bytes)
        link = re.search(r"(http://\S+/invitation/[A-Za-z0-9_-]+)", body.decode())
        assert link is not None and link.group(1) == shown
        ctx: Any = await french_context(browser, **PHONE)
        p = await ctx.new_page()
        await p.goto(link.group(1))
        await p.locator("#password").fill("une phrase de passe bien longue")
        await p.locator("#password2").fill("une phrase de passe bien longue")
        await p.get_by_role("button", name="Continuer").click()
        open_app = p.get_by_role("link", name="Ouvrir dans l'application d'authentification")
        await expect(open_app).to_be_visible()
        box = await open_app.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360  # on screen, no sideways scroll
        href = await open_app.get_attribute("href")
        assert href is not None and href.startswith("otpauth://totp/")
        parts = urlsplit(href)
        query = parse_qs(parts.query)
        secret = await p.locator("[data-secret]").inner_text()
        assert query["secret"] == [secret] and query["issuer"] == ["Chevet"]
        assert unquote(parts.path).endswith(invitee) and unquote(parts.path).lstrip("/").startswith("Chevet:")
        assert await p.evaluate("document.documentElement.scrollWidth") <= 360

        right = totp.code_at(secret, totp.step_of(time.time()))
        await p.locator("#otp").fill("000000" if right != "000000" else "111111")
        await p.get_by_role("button", name="Activer mon compte").click()
        await expect(p.locator(".banner.error, [role=alert]").first).to_be_visible()
        await expect(p.locator("[data-secret]")).to_have_text(secret)  # still there to retry
        await expect(p.get_by_role("link", name="Ouvrir dans l'application d'authentification")).to_be_visible()
        await accessible(p, "enrolment after a wrong code", problems)

        await p.locator("#otp").fill(totp.code_at(secret, totp.step_of(time.time())))
        await p.get_by_role("button", name="Activer mon compte").click()
        await p.wait_for_url(f"{server.url}/?notice=welcome")
        await expect(p.get_by_text("Bienvenue ! Votre compte est prêt")).to_be_visible()
        await expect(p.locator("#convs li", has_text="Unité Alzheimer")).to_be_visible()
        await p.goto(f"{server.url}/account")
        assert "/login" not in p.url  # signed in, no second sign-in
        await ctx.close()
        assert problems == {}
    finally:
        server.stop()


@pytest.mark.parametrize("revoked", [False, True], ids=["expired-then-send", "revoked-elsewhere"])
async def test_a_session_that_ends_keeps_the_draft_through_signing_in_again(
        browser: Browser, web_installation: Installation, web_server: Server, revoked: bool) -> None:
    svc = web_installation.services
    org = await new_org(svc, "ehpad-brouillon")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    other = await new_member(svc, org, "nurse", "Karim Haddad")
    view, _ = await conversations.create_conversation(svc, nurse.actor, kind="group", title="Transmissions",
                                                      member_ids=[other.id])
    ctx: Any = await french_context(browser, **PHONE)
    p = await ctx.new_page()
    await sign_in(p, web_server.url, nurse, -1)
    await p.goto(f"{web_server.url}/c/{view['id']}")
    draft = "Mme B. a bien mangé, pansement du talon refait à 14h"
    await p.get_by_label("Message", exact=True).fill(draft)
    if revoked:  # signed out everywhere from another device: the page's stream ends and says so
        token = login(web_server.url, nurse, 0)
        r = httpx.post(f"{web_server.url}/api/v1/auth/sessions/revoke-all", json={},
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code in (200, 204), r.text
    else:  # the session ended (expired): the cookie no longer opens it, and she presses Envoyer
        await ctx.add_cookies([{"name": "chevet_session", "value": "fin-de-session", "url": web_server.url}])
        await p.get_by_role("button", name="Envoyer").click()
    await p.wait_for_url(re.compile(r"/login\?"))
    await expect(p.get_by_text("Votre session a expiré")).to_be_visible()
    await expect(p.get_by_text("Votre brouillon est conservé")).to_be_visible()
    await p.get_by_label("Adresse e-mail").fill(nurse.email)
    await p.get_by_label("Mot de passe").fill(nurse.password)
    await p.get_by_label("Code à 6 chiffres").fill(nurse.otp(1))  # each code serves once, in order
    await p.get_by_role("button", name="Se connecter").click()
    await p.wait_for_url(f"{web_server.url}/c/{view['id']}")
    await expect(p.get_by_label("Message", exact=True)).to_have_value(draft)
    assert await p.locator(".msg .body", has_text=draft).count() == 0  # not sent behind her back
    await ctx.close()


async def test_a_colleague_s_typos_lock_her_out_in_minutes_but_not_the_owner_on_her_phone(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    """On the ward's shared computer a colleague mistypes Sophie's password until the page says
    « Réessayez dans 15 minutes. » (never seconds, never a code); Sophie, on the phone she signed
    in from before, still gets in."""
    svc = web_installation.services
    org = await new_org(svc, "ehpad-verrou")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    mine: Any = await french_context(browser, **PHONE)
    phone = await mine.new_page()
    await sign_in(phone, web_server.url, nurse, -1)  # her phone is known from this sign-in on
    await mine.clear_cookies(name="chevet_session")  # signed out, the device remembered
    shared: Any = await french_context(browser, **PHONE)
    ward = await shared.new_page()
    problems: dict[str, list[str]] = {}
    for attempt in range(5):
        await ward.goto(f"{web_server.url}/login")
        await ward.get_by_label("Adresse e-mail").fill(nurse.email)
        await ward.get_by_label("Mot de passe").fill(f"mauvais mot de passe {attempt}")
        await ward.get_by_label("Code à 6 chiffres").fill("000000")
        await ward.get_by_role("button", name="Se connecter").click()
        await ward.wait_for_load_state()
    error = ward.locator(".banner.error, [role=alert]").first
    await expect(error).to_contain_text("Réessayez dans 15 minutes.")
    shown = await ward.locator("main").inner_text()
    assert "seconde" not in shown and "locked" not in shown and "{" not in shown, shown
    await accessible(ward, "locked out @360", problems)
    await sign_in(phone, web_server.url, nurse, 0)  # her own phone, not locked by others' typos: on her list
    await mine.close()
    await shared.close()
    assert problems == {}

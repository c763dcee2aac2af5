"""The first week on one phone, over HTTP with SQLite and PostgreSQL: the invitation e-mail
through the real loopback Postfix and read back from Dovecot, the invitation when the relay
does not answer, the sign-in that always lands on a page whatever ``next`` says, and a
lock-out that a colleague's typos cannot turn against the owner's known device."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from chevet.app.identity import auth, mail_outbox, people
from chevet.app.messaging import conversations, teams
from chevet.bootstrap import Installation
from chevet.core.errors import AuthenticationFailed, LockedOut
from chevet.web.app import api_routers, create_app, page_routers
from chevet.web.i18n import gettext
from chevet.web.ratelimit import RateLimiter
from tests.conftest import _require
from tests.mss_support import (
    OPERATOR_CA,
    PASSWORD,
    SMTP_PORT,
    hung_operator,
    mail_available,
    mailbox_contents,
    unique,
    use_relay,
)
from tests.support import Member, new_member, new_org
from tests.web_client import Browserless


@pytest.fixture
def app(installation: Installation) -> Any:
    return create_app(installation)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[Browserless]:
    c = Browserless(app=app)
    yield c
    await c.close()


def _body(mail: Message) -> str:
    part = mail.get_payload(decode=True)
    assert isinstance(part, bytes)
    return part.decode(mail.get_content_charset() or "utf-8")


async def test_the_invitation_goes_by_e_mail_in_french_with_the_link_only(
        installation: Installation, client: Browserless, tmp_path: Path) -> None:
    _require(mail_available(), "the loopback mail servers (.ci/setup-mail)")
    svc = installation.services
    org = await new_org(svc, "ehpad-mail")
    admin = await new_member(svc, org, "admin")
    team = await teams.create_team(svc, admin.actor, "Unité Alzheimer")
    sender = use_relay(installation, tmp_path, SMTP_PORT)
    invitee = unique("julie", "ehpad.test")
    await client.sign_in(admin)
    page = await client.post("/admin/people/invite", {"name": "Julie Petit", "email": invitee, "role": "nurse",
                                                      "team": team["id"]}, from_page="/admin/people")
    assert page.status_code == 200, page.text[:300]
    link = re.search(r'data-invite-link value="([^"]+)"|value="([^"]+)" readonly data-invite-link', page.text)
    assert link is not None
    shown = link.group(1) or link.group(2)
    assert f"partira par e-mail dans un instant, à {invitee}" in page.text and "<svg" in page.text \
        and "data-copy-invite" in page.text
    assert (await mail_outbox.deliver_all_due(svc)).sent == 1  # the server's job (jobs/mail.py)
    [raw] = mailbox_contents(invitee)
    mail = message_from_bytes(raw)
    body = _body(mail)
    assert mail["From"] == sender and mail["To"] == invitee and mail["Auto-Submitted"] == "auto-generated"
    assert "invitation" in str(mail["Subject"]).lower() and "Bonjour" in body and "Vous êtes invité" in body
    assert shown in body and shown.split("/invitation/")[1] in body
    # Nothing personal but the link: not her name, not her role.
    assert "Julie" not in body and "Petit" not in body and "infirm" not in body.lower()
    async with svc.db.transaction() as tx:
        actions = [e.action for e in await tx.audit.query(org.id, limit=50)]
    assert "invitation.mailed" in actions


async def test_an_unreachable_relay_still_makes_the_invitation_and_says_so_in_french(
        installation: Installation, client: Browserless, tmp_path: Path) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-relay-down")
    admin = await new_member(svc, org, "admin")
    with hung_operator() as port:  # accepts the connection and never answers
        use_relay(installation, tmp_path, port, timeout=1)
        await client.sign_in(admin)
        page = await client.post("/admin/people/invite", {"name": "Marc Roux", "email": "marc@ehpad.example",
                                                          "role": "care_assistant"}, from_page="/admin/people")
    assert page.status_code == 200
    assert "dans un instant" in page.text and "/invitation/" in page.text and "<svg" in page.text
    token = re.search(r"/invitation/([A-Za-z0-9_-]{20,})", page.text)
    assert token is not None
    assert (await people.invitation_person(svc, token.group(1))).email == "marc@ehpad.example"
    # No relay configured: the page says to hand the link over.
    svc.mail_relay = None
    page = await client.post("/admin/people/invite", {"name": "Léa Blanc", "email": "lea@ehpad.example",
                                                      "role": "nurse"}, from_page="/admin/people")
    assert page.status_code == 200 and "Aucun serveur d" in page.text and "/invitation/" in page.text
    # The API says so too, and the invitation stands.
    token = (await client.http.post("/api/v1/auth/login", json={"email": admin.email, "password": admin.password,
                                                               "otp": admin.otp(1)})).json()["token"]
    api = await client.http.post("/api/v1/users/invitations", headers={"Authorization": f"Bearer {token}"},
                                 json={"email": "zoe@ehpad.example", "name": "Zoé Lemoine", "role": "nurse"})
    assert api.status_code == 201 and api.json()["mailed"] is False and api.json()["invitation_token"]


async def test_the_cli_invitation_queues_the_e_mail_or_sends_it_now_and_says_so(installation: Installation) -> None:
    _require(mail_available(), "the loopback mail servers (.ci/setup-mail)")
    org = await new_org(installation.services, "ehpad-cli-mail")
    sender = unique("noreply", "ehpad.test")
    invitee = unique("paul", "ehpad.test")
    env = {**os.environ, "CHEVET_TEST_RELAY_PASSWORD": PASSWORD, "CHEVET_MAIL_RELAY__HOST": "127.0.0.1",
           "CHEVET_MAIL_RELAY__PORT": str(SMTP_PORT), "CHEVET_MAIL_RELAY__USERNAME": sender,
           "CHEVET_MAIL_RELAY__PASSWORD_ENV": "CHEVET_TEST_RELAY_PASSWORD", "CHEVET_MAIL_RELAY__SENDER": sender,
           "CHEVET_MAIL_RELAY__CA_FILE": str(OPERATOR_CA)}
    if installation.settings.database.url:
        env["CHEVET_DATABASE__URL"] = installation.settings.database.url
    done = subprocess.run([sys.executable, "-m", "chevet.cli.main", "user", "invite", "--org", org.slug,
                           "--email", invitee, "--name", "Paul Noir", "--role", "nurse",
                           "--data-dir", str(installation.settings.data_dir)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"e-mail to {invitee} queued: it leaves when the server runs" in done.stdout
    link = re.search(r"(https?://\S+/invitation/\S+)", done.stdout)
    assert link is not None
    assert mailbox_contents(invitee, expect=0, timeout=0) == []
    # --send-now: from the CLI at once, the earlier one too (the outbox is drained).
    second = unique("pia", "ehpad.test")
    done = subprocess.run([sys.executable, "-m", "chevet.cli.main", "user", "invite", "--org", org.slug,
                           "--email", second, "--name", "Pia Noir", "--role", "nurse", "--send-now",
                           "--data-dir", str(installation.settings.data_dir)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"e-mail sent to {second}" in done.stdout
    mailbox_contents(second)
    [raw] = mailbox_contents(invitee)
    assert link.group(1) in _body(message_from_bytes(raw))


async def _conversation_with(installation: Installation, member: Member, other: Member) -> str:
    view, _ = await conversations.create_conversation(installation.services, member.actor, kind="group",
                                                      title="Transmissions", member_ids=[other.id])
    return str(view["id"])


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _concrete(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{([a-z_]+)(?::[a-z]+)?\}", lambda m: ids.get(m.group(1), str(uuid.uuid4())), path)


async def test_every_next_target_lands_on_a_page_after_signing_in(installation: Installation, app: Any,
                                                                  client: Browserless) -> None:
    """Every POST-only and API route of the application as ``next``: after signing in, the browser
    follows redirects and lands on an HTML page with 200, never JSON, never 405."""
    svc = installation.services
    org = await new_org(svc, "ehpad-next")
    nurse = await new_member(svc, org, "admin")
    other = await new_member(svc, org, "nurse")
    cid = await _conversation_with(installation, nurse, other)
    ids = {"conversation_id": cid, "cid": cid, "id": cid}
    targets: set[str] = set()
    routes = [("/api/v1", r) for router in api_routers() for r in router.routes] + \
             [("", r) for router in page_routers() for r in router.routes]
    for prefix, route in routes:
        path, methods = prefix + getattr(route, "path", ""), getattr(route, "methods", None) or set()
        if prefix or "GET" not in methods:
            targets.add(_concrete(path, ids))
    assert f"/c/{cid}/send" in targets and len(targets) > 60
    app.state.login_limiter = RateLimiter(100_000)  # one address signs in once per target here
    odd: list[tuple[str, int, str]] = []
    for target in sorted(targets):
        c = Browserless(app=app)
        c.http.follow_redirects = True
        try:
            form = await c.get(f"/login?next={target}")
            assert form.status_code == 200 and form.headers["content-type"].startswith("text/html"), target
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert csrf is not None
            nxt = re.search(r'name="next" value="([^"]*)"', form.text)
            assert nxt is not None
            landed = await c.http.post("/login", data={"email": nurse.email, "password": nurse.password,
                                                       "otp": nurse.otp(), "csrf": csrf.group(1),
                                                       "next": nxt.group(1)})
            assert landed.status_code != 405 and "json" not in landed.headers["content-type"], target
            # 200 wherever the target names only real things; a made-up id shows the "not found"
            # page, and the MSSanté pages say the gateway is not configured here.
            made_up = set(UUID.findall(target)) - {cid}
            if landed.status_code != 200 and not made_up and not target.startswith("/mssante/"):
                odd.append((target, landed.status_code, str(landed.url)))
            if made_up or target.startswith("/mssante/"):
                assert landed.status_code in (200, 404, 422), (target, landed.status_code)
            assert landed.headers["content-type"].startswith("text/html"), (target, str(landed.url))
            assert "<!doctype html>" in landed.text.lower()[:50], target
            assert landed.url.host == "testserver"
            # A TOTP code serves once: let the next sign-in use the same code again.
            async with svc.db.transaction() as tx:
                creds = await tx.people.credentials(nurse.id)
                await tx.people.save_credentials(replace(creds, totp_last_step=None))
        finally:
            await c.close()
    assert odd == [], "\n".join(map(str, odd))
    # The conversation's own page keeps the path: the draft waits in its composer.
    c = Browserless(app=app)
    form = await c.get(f"/login?next=/c/{cid}/send")
    assert f'name="next" value="/c/{cid}"' in form.text
    await c.close()
    # An open redirect to another site stays refused.
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example", "http:evil.example"):
        form = await client.get("/login", params={"next": evil})
        assert 'name="next" value="/"' in form.text, evil


async def test_a_closed_session_sends_to_sign_in_with_a_french_sentence(installation: Installation,
                                                                       client: Browserless) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-expired")
    nurse = await new_member(svc, org, "nurse")
    other = await new_member(svc, org, "nurse")
    cid = await _conversation_with(installation, nurse, other)
    await client.sign_in(nurse)
    csrf = await client.csrf(f"/c/{cid}")
    await auth.sign_out_everywhere(svc, nurse.actor)
    sent = await client.http.post(f"/c/{cid}/send", data={"body": "Mme B. a bien mangé", "csrf": csrf,
                                                          "client_id": "d1"})
    assert sent.status_code == 303 and sent.headers["location"].startswith("/login?")
    form = await client.get(sent.headers["location"])
    assert form.status_code == 200 and "Votre session a expiré" in form.text and "brouillon" in form.text
    assert f'name="next" value="/c/{cid}"' in form.text


async def test_a_colleague_s_typos_do_not_lock_the_owner_s_known_device(installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-lockout")
    nurse = await new_member(svc, org, "nurse")
    signed = await auth.login(svc, nurse.email, nurse.password, nurse.otp(), ip="192.0.2.10")
    device = auth.remember_device(svc, None, signed.person.id)
    refusals: list[str] = []
    for i in range(20):  # a colleague on the ward's computer, another address, no device of hers
        try:
            await auth.login(svc, nurse.email, f"mauvais-{i}", "000000", ip="198.51.100.7")
        except LockedOut:
            refusals.append("locked")
        except AuthenticationFailed:
            refusals.append("failed")
    assert refusals[:4] == ["failed"] * 4 and set(refusals[4:]) == {"locked"}
    # The owner, on her phone that signed in before: both factors still open her session.
    again = await auth.login(svc, nurse.email, nurse.password, nurse.otp(1), ip="198.51.100.7", device=device)
    assert again.person.id == nurse.id
    # The colleague's address stays refused for this account, even with the right password.
    with pytest.raises(LockedOut) as locked:
        await auth.login(svc, nurse.email, nurse.password, nurse.otp(2), ip="198.51.100.7")
    assert locked.value.params["minutes"] == 15
    # A forged device cookie is no known device.
    forged = device.split(".")[0] + ".AAAAAAAAAAAAAAAA"
    assert auth.known_device(svc, forged, nurse.id) is None
    assert auth.known_device(svc, device, nurse.id) is not None
    assert auth.known_device(svc, device, (await new_member(svc, org)).id) is None


async def test_many_failures_from_many_sources_lock_the_account_but_not_the_known_device(
        installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-lockout-many")
    nurse = await new_member(svc, org, "nurse")
    device = auth.remember_device(svc, None, nurse.id)
    policy = svc.policy.lockout
    for n in range(policy.account_threshold):  # a spray from many addresses
        with pytest.raises((AuthenticationFailed, LockedOut)):
            await auth.login(svc, nurse.email, "mauvais", "000000", ip=f"203.0.113.{n % 50}")
    with pytest.raises(LockedOut):  # a new address, even with the right factors: the account is locked
        await auth.login(svc, nurse.email, nurse.password, nurse.otp(), ip="192.0.2.99")
    signed = await auth.login(svc, nurse.email, nurse.password, nurse.otp(1), ip="192.0.2.99", device=device)
    assert signed.person.id == nurse.id
    with pytest.raises(LockedOut):  # her success does not lift the lock for the unknown devices
        await auth.login(svc, nurse.email, "mauvais", "000000", ip="192.0.2.100")
    async with svc.db.transaction() as tx:
        details = [e.detail for e in await tx.audit.query(org.id, actor_id=nurse.id, limit=200)
                   if e.action == "auth.locked"]
    assert any(d.get("scope") == "account" for d in details)


async def test_lock_out_messages_speak_in_minutes(installation: Installation, client: Browserless) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-minutes")
    nurse = await new_member(svc, org, "nurse")
    for lang, expected in (("fr", "Réessayez dans 15 minutes."), ("en", "Try again in 15 minutes.")):
        assert gettext("account_locked", lang, **LockedOut("account_locked", retry_after=900).params).endswith(expected)
    assert gettext("rate_limited", "fr", **LockedOut("rate_limited", retry_after=42).params).endswith(
        "Réessayez dans 1 minute.")
    assert gettext("account_locked", "en", **LockedOut("account_locked", retry_after=61).params).endswith(
        "Try again in 2 minutes.")
    statuses = []
    for _ in range(5):
        r = await client.post("/login", {"email": nurse.email, "password": "pas le bon", "otp": "000000"},
                              from_page="/login")
        statuses.append(r.status_code)
    assert statuses == [401, 401, 401, 401, 429]
    assert "Réessayez dans 15 minutes." in r.text and "secondes" not in r.text
    english = Browserless(app=client.http._transport.app, language="en")  # type: ignore[attr-defined]
    r = await english.post("/login", {"email": nurse.email, "password": nurse.password, "otp": nurse.otp()},
                           from_page="/login")
    assert r.status_code == 429 and "Try again in 15 minutes." in r.text
    api = await english.http.post("/api/v1/auth/login", json={"email": nurse.email, "password": "x" * 12,
                                                              "otp": "000000"})
    assert api.status_code == 429 and api.json()["detail"].endswith("Try again in 15 minutes.")
    await english.close()


async def test_the_secret_comes_back_only_to_the_browser_that_chose_the_password(installation: Installation,
                                                                                 app: Any) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-reload")
    invited = await people.invite_person(svc, org, None, email="ines@ehpad.example", name="Inès Faure", role="nurse")
    start = f"/invitation/{invited.token}"
    phone, other = Browserless(app=app), Browserless(app=app)
    try:
        enrol = await phone.post(start, {"password": "une phrase de passe", "password2": "une phrase de passe"})
        secret = re.search(r"data-secret>([A-Z2-7]+)<", enrol.text)
        assert enrol.status_code == 200 and secret is not None
        # Back from the authenticator app, the phone reloaded the tab: the same secret, not step 1.
        again = await phone.get(start)
        assert again.status_code == 200 and f"data-secret>{secret.group(1)}<" in again.text
        assert 'action="/invitation/' in again.text and "password2" not in again.text
        # Another holder of the link sees neither the secret after step 1 nor after a wrong code.
        seen = await other.get(start)
        assert secret.group(1) not in seen.text
        wrong = await other.post(f"{start}/confirm", {"otp": "000000"}, from_page=start)
        assert wrong.status_code == 422 and secret.group(1) not in wrong.text and "data-secret" not in wrong.text
    finally:
        await phone.close()
        await other.close()

"""Personal (PER) and organisational (ORG) MSSanté mailboxes opened with the professional's
Pro Santé Connect access token, against real servers: the operator's Dovecot checks the token by
introspecting the test PSC provider (its OAuth 2 passdb), and Postfix submission authenticates
through that Dovecot's SASL (``.ci/setup-mail``: IMAP 11144, submission 11589)."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes

import pytest
from sqlalchemy import select

from chevet.adapters.db.schema_mssante import mss_psc_link
from chevet.adapters.mail.imap import ImapEndpoint, ImapMailbox
from chevet.adapters.mail.smtp import SmtpEndpoint, SmtpSubmitter
from chevet.adapters.psc import PscConfig, PscProvider
from chevet.adapters.psc_tokens import PscTokens
from chevet.app.identity import people
from chevet.app.mssante import psc_mailbox
from chevet.app.services import Actor
from chevet.bootstrap import Installation
from chevet.core.errors import Forbidden
from chevet.core.mssante import sasl
from chevet.core.mssante.delivery import TransientMailError
from chevet.core.mssante.psc_link import PscMailbox, read_grant
from tests.conftest import _require
from tests.mss_support import ManualClock, mail_available, mailbox_contents, operator_tls, unique
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, INTROSPECTION_PORT, Provider
from tests.support import new_member, new_org

PSC_IMAP_PORT, PSC_SMTP_PORT = 11144, 11589


def psc_mail_available() -> bool:
    if not mail_available():
        return False
    for port in (PSC_IMAP_PORT, PSC_SMTP_PORT):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except OSError:
            return False
    return True


@pytest.fixture
def provider() -> Iterator[Provider]:
    """The test PSC provider on the fixed address the operator's Dovecot introspects."""
    _require(psc_mail_available(), "the loopback mail servers for PSC mailboxes (.ci/setup-mail)")
    p = Provider(port=INTROSPECTION_PORT)
    try:
        yield p
    finally:
        p.stop()


class Held:
    """A bearer source holding one token (the app's refreshing source is tested below)."""

    def __init__(self, token: str) -> None:
        self.current = token
        self.refused: list[str] = []

    async def token(self) -> str:
        return self.current

    async def rejected(self, token: str) -> None:
        self.refused.append(token)


def imap(address: str, source: sasl.BearerSource, mechanism: sasl.Mechanism | None = None) -> ImapMailbox:
    return ImapMailbox(ImapEndpoint("127.0.0.1", PSC_IMAP_PORT, operator_tls(), address, bearer=source,
                                    sasl_mechanism=mechanism, timeout=10))


def smtp(address: str, source: sasl.BearerSource, mechanism: sasl.Mechanism | None = None) -> SmtpSubmitter:
    return SmtpSubmitter(SmtpEndpoint("127.0.0.1", PSC_SMTP_PORT, operator_tls(), address, bearer=source,
                                      sasl_mechanism=mechanism, timeout=10))


@pytest.mark.parametrize("mechanism", ["OAUTHBEARER", "XOAUTH2"])
async def test_a_professional_token_opens_her_mailbox_and_submits(provider: Provider, mechanism: sasl.Mechanism
                                                                   ) -> None:
    """RFC 7628 §3 (OAUTHBEARER) and XOAUTH2 over IMAP AUTHENTICATE (RFC 3501 §6.2.2) and SMTP
    AUTH (RFC 4954): the operator's Dovecot accepts the token after introspecting it at the
    provider (RFC 7662), and Postfix relays the submission it authenticated through Dovecot."""
    box, gp = unique("dr-lefevre", "ehpad.test"), unique("medecin", "gp.test")
    provider.mailboxes[provider.subject_name_id] = box
    source = Held(provider.issue()["access_token"])

    await smtp(box, source, mechanism).submit(box, [gp], f"From: {box}\r\nTo: {gp}\r\nSubject: PSC\r\n\r\n"
                                                         "Bonjour\r\n".encode())
    got = mailbox_contents(gp)
    assert message_from_bytes(got[0])["Subject"] == "PSC"

    mailbox = imap(box, source, mechanism)
    assert await mailbox.check() == 0
    # Loop back: the mail the professional sent to herself is fetched with her token.
    await smtp(box, source, mechanism).submit(box, [box], f"From: {box}\r\nTo: {box}\r\nSubject: moi\r\n\r\n"
                                                          "x\r\n".encode())
    mailbox_contents(box)
    _, fetched = await mailbox.fetch(None)
    await mailbox.close()
    assert [message_from_bytes(raw)["Subject"] for _, raw in fetched] == ["moi"]
    assert source.refused == []
    assert provider.introspections.count(provider.subject_name_id) >= 4  # each login asked the provider


async def test_a_token_of_jwt_size_goes_through(provider: Provider) -> None:
    """PSC access tokens are signed JWTs of one or two kilobytes: RFC 4954 §4 lets the AUTH line
    reach 12288 octets (the operator's Postfix must allow it: ``line_length_limit``), and IMAP
    AUTHENTICATE carries it as a continuation line (RFC 3501 §6.2.2)."""
    box = unique("long", "ehpad.test")
    provider.mailboxes[provider.subject_name_id] = box
    token = secrets.token_urlsafe(2400)[:3000]
    provider.grants[token] = {"sub": provider.subject_name_id, "exp": 4102444800}
    for mechanism in sasl.MECHANISMS:
        assert await smtp(box, Held(token), mechanism).check()
        assert await imap(box, Held(token), mechanism).check() == 0


async def test_expired_or_foreign_tokens_are_refused_and_reported(provider: Provider) -> None:
    """RFC 7628 §3.2.2: a token the provider no longer calls active (RFC 7662 ``active: false``),
    or one whose owner is not the mailbox's (Dovecot compares the introspected ``email`` with the
    SASL user), is refused; the client ends the exchange (§3.2.3) and tells its source, which will
    not offer that token again. No clear-text fallback is tried."""
    box, other = unique("ide", "ehpad.test"), unique("autre", "ehpad.test")
    provider.mailboxes[provider.subject_name_id] = box
    granted = provider.issue()["access_token"]
    provider.expire(granted)
    source = Held(granted)
    for mechanism in sasl.MECHANISMS:
        with pytest.raises(TransientMailError) as err:
            await imap(box, source, mechanism).check()
        assert err.value.code == "imap_authentication"
        with pytest.raises(TransientMailError) as err:
            await smtp(box, source, mechanism).submit(box, [box], b"Subject: x\r\n\r\nx\r\n")
        assert err.value.code == "smtp_authentication"
    assert source.refused == [granted] * 4

    fresh = Held(provider.issue()["access_token"])  # valid, but it opens another mailbox
    with pytest.raises(TransientMailError):
        await imap(other, fresh).check()
    with pytest.raises(TransientMailError):
        await smtp(other, fresh).submit(other, [box], b"Subject: x\r\n\r\nx\r\n")
    assert len(fresh.refused) == 2


def psc_config(provider: Provider) -> PscConfig:
    base = provider.url
    return PscConfig(issuer=f"{base}/realms/esante-wallet", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                     authorize_url=f"{base}/auth", token_url=f"{base}/token", userinfo_url=f"{base}/userinfo",
                     jwks_url=f"{base}/certs", redirect_uri="http://127.0.0.1/unused")


async def test_a_linked_mailbox_refreshes_its_token_and_waits_for_a_new_login_when_refused(
        installation: Installation, provider: Provider) -> None:
    """RFC 6749 §6: the mailbox's access token is renewed with the refresh token a minute before
    it ends (PSC access tokens live a few minutes), the rotated refresh token replaces the old
    one sealed at rest, a token the operator refuses is dropped and renewed; when the provider
    refuses the refresh (§5.2 ``invalid_grant``), the link is marked to be renewed and the mailbox
    waits, with its reason, for its holder's next PSC login."""
    svc = installation.services
    clock = ManualClock()
    svc.clock = clock
    org = await new_org(svc, "ehpad-psc")
    added = await people.add_person(svc, org, email=f"ide-{secrets.token_hex(3)}@ehpad-psc.example",
                                    name="Inès Durand", role="nurse", password=secrets.token_urlsafe(12),
                                    rpps="10001234567")
    nurse = Actor(added.person, org, None, "127.0.0.1")
    colleague = (await new_member(svc, org, "nurse")).actor
    box_address = unique("ines.durand", "ehpad.test")
    box = PscMailbox(box_address, org.slug, "PER", owner=nurse.person.email)
    provider.mailboxes[provider.subject_name_id] = box_address

    # Only she links her PER mailbox, with her own card; an ORG mailbox needs an administrator.
    with pytest.raises(Forbidden) as err:
        await psc_mailbox.link(svc, colleague, box, "810001234567", read_grant(provider.issue(), clock.now()))
    assert err.value.code == "mss_psc_card_mismatch"
    with pytest.raises(Forbidden) as err:
        await psc_mailbox.link(svc, nurse, box, "810009999999", read_grant(provider.issue(), clock.now()))
    assert err.value.code == "mss_psc_card_mismatch"
    with pytest.raises(Forbidden) as err:
        await psc_mailbox.link(svc, nurse, PscMailbox(unique("accueil", "ehpad.test"), org.slug, "ORG"),
                               "810001234567", read_grant(provider.issue(), clock.now()))
    assert err.value.code == "mss_psc_admin_only"

    first = provider.issue()
    await psc_mailbox.link(svc, nurse, box, "810001234567", read_grant(first, clock.now()))
    async with svc.db.transaction() as tx:
        stored = (await tx.conn.execute(select(mss_psc_link))).all()  # type: ignore[attr-defined]
    assert len(stored) == 1 and first["refresh_token"].encode() not in bytes(stored[0].refresh_sealed)
    view = await psc_mailbox.view(svc, nurse, box)
    assert view.linked and view.linked_by_me and not view.to_renew

    source = psc_mailbox.MailboxToken(svc, PscTokens(PscProvider(psc_config(provider)), clock), box)
    token = await source.token()
    assert provider.token_requests[-1]["grant_type"] == "refresh_token"
    assert first["refresh_token"] not in provider.refresh_tokens  # rotated: the stored one is the new one
    asked = len(provider.token_requests)
    assert await source.token() == token and len(provider.token_requests) == asked  # still fresh: kept

    mailbox = ImapMailbox(ImapEndpoint("127.0.0.1", PSC_IMAP_PORT, operator_tls(), box_address, bearer=source,
                                       timeout=10))
    submitter = SmtpSubmitter(SmtpEndpoint("127.0.0.1", PSC_SMTP_PORT, operator_tls(), box_address, bearer=source,
                                           timeout=10))
    await submitter.submit(box_address, [box_address], b"Subject: un\r\n\r\nx\r\n")
    mailbox_contents(box_address)
    assert len((await mailbox.fetch(None))[1]) == 1
    await mailbox.close()

    # Four minutes later, a minute before its end, the token is renewed before use.
    clock.advance(timedelta(minutes=4, seconds=1))
    renewed = await source.token()
    assert renewed != token and len(provider.token_requests) == asked + 1

    # The operator refuses a token (revoked early): dropped, and the next attempt renews it.
    provider.expire(renewed)
    with pytest.raises(TransientMailError):
        await mailbox.check()
    assert await mailbox.check() == 1
    assert len(provider.token_requests) == asked + 2

    # The PSC session ended: the refresh is refused, the link is to be renewed, the mailbox waits.
    provider.refresh_tokens.clear()
    clock.advance(timedelta(minutes=10))
    for _ in range(2):
        with pytest.raises(TransientMailError) as failed:
            await submitter.submit(box_address, [box_address], b"Subject: deux\r\n\r\nx\r\n")
        assert failed.value.code == "mss_psc_relink_needed"
    assert len(provider.token_requests) == asked + 3  # asked once, then the link says "renew"
    assert (await psc_mailbox.view(svc, nurse, box)).to_renew
    async with svc.db.transaction() as tx:
        actions = [e.action for e in await tx.audit.query(org.id, limit=50)]
    assert {"mssante.psc_linked", "mssante.psc_link_expired"} <= set(actions)

    # A new PSC login links it again; unlinking stops it.
    await psc_mailbox.link(svc, nurse, box, "810001234567", read_grant(provider.issue(), clock.now()))
    assert await source.token()
    await psc_mailbox.unlink(svc, nurse, box)
    clock.advance(timedelta(minutes=10))
    with pytest.raises(TransientMailError) as failed:
        await source.token()
    assert failed.value.code == "mss_psc_not_linked"

    # She leaves (or her organisation is shredded): her login no longer opens the mailbox.
    await psc_mailbox.link(svc, nurse, box, "810001234567", read_grant(provider.issue(), clock.now()))
    admin = (await new_member(svc, org, "admin")).actor
    await people.deactivate(svc, admin, nurse.id)
    clock.advance(timedelta(minutes=10))
    with pytest.raises(TransientMailError) as failed:
        await source.token()
    assert failed.value.code == "mss_psc_holder_inactive"


async def test_the_gateway_fetches_a_psc_mailbox_configured_in_mssante_toml(installation: Installation,
                                                                            provider: Provider) -> None:
    """The administrator's ``mssante.toml`` names a PER mailbox with ``authentication = "psc"``:
    the running gateway logs in with its holder's token (after she linked it) to fetch its mail
    and to submit, and says why it waits when nobody has linked it."""
    from chevet.bootstrap.mssante import load_gateway
    from chevet.jobs import mssante as jobs
    from tests.mss_support import OPERATOR_CA, inject

    svc = installation.services
    svc.psc = PscProvider(psc_config(provider))
    org = await new_org(svc, "ehpad-psc-toml")
    added = await people.add_person(svc, org, email="dr.lefevre@ehpad-psc-toml.example", name="Paul Lefèvre",
                                    role="physician", password=secrets.token_urlsafe(12), rpps="10001234567")
    doctor = Actor(added.person, org, None, "127.0.0.1")
    box = unique("paul.lefevre", "ehpad.test")
    provider.mailboxes[provider.subject_name_id] = box
    path = installation.settings.data_dir / "mssante-psc.toml"
    path.write_text(f"""
nil = "NIL-TEST-0001"

[operator]
smtp_host = "127.0.0.1"
smtp_port = {PSC_SMTP_PORT}
imap_host = "127.0.0.1"
imap_port = {PSC_IMAP_PORT}
trust_anchor = "{OPERATOR_CA}"
timeout_seconds = 10

[[mailboxes]]
address = "{box}"
organisation = "{org.slug}"
members = ["{doctor.person.email}"]
authentication = "psc"
kind = "PER"
owner = "{doctor.person.email}"
sasl_mechanism = "XOAUTH2"
""")
    runtime = load_gateway(installation.settings, path)
    assert runtime is not None
    [psc_box] = runtime.psc_mailboxes()
    inject(b"From: <x@gp.test>\r\nTo: <" + box.encode() + b">\r\nSubject: hello\r\n\r\nbonjour\r\n",
           "x@gp.test", [box])
    mailbox_contents(box)

    with pytest.raises(TransientMailError) as waiting:
        await jobs.fetch_once(installation, runtime, box)
    assert waiting.value.code == "mss_psc_not_linked"

    await psc_mailbox.link(svc, doctor, psc_box, "810001234567", read_grant(provider.issue(), svc.clock.now()))
    assert await jobs.fetch_once(installation, runtime, box) == 1
    assert await runtime.submitter(box).check()
    assert provider.token_requests[-1]["grant_type"] == "refresh_token"


def _csrf(html: str) -> str:
    import re

    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


async def test_a_professional_links_her_mailbox_from_the_page(installation: Installation, provider: Provider) -> None:
    """The page of a real ``chevet serve``: the PER mailbox's owner links it through the PSC
    authorization request (PKCE, acr eidas1) and comes back to the linking page; a login with
    another card is refused in French and links nothing; a colleague is not offered the mailbox."""
    from urllib.parse import urlsplit

    import httpx
    from sqlalchemy import update

    from chevet.adapters.db.schema import person
    from tests.mss_support import OPERATOR_CA
    from tests.support import Server, eventually, login

    svc = installation.services
    org = await new_org(svc, "ehpad-psc-page")
    nurse, colleague = await new_member(svc, org, "nurse", "Inès Durand"), await new_member(svc, org, "nurse")
    async with svc.db.transaction() as tx:
        await tx.conn.execute(update(person).where(person.c.id == nurse.id).values(rpps="10001234567"))  # type: ignore[attr-defined]
    box = unique("ines.durand", "ehpad.test")
    provider.mailboxes[provider.subject_name_id] = box
    config = installation.settings.data_dir / "mssante-page.toml"
    config.write_text(f"""
nil = "NIL-TEST-0001"
poll_seconds = 1

[operator]
smtp_host = "127.0.0.1"
smtp_port = {PSC_SMTP_PORT}
imap_host = "127.0.0.1"
imap_port = {PSC_IMAP_PORT}
trust_anchor = "{OPERATOR_CA}"
timeout_seconds = 10

[[mailboxes]]
address = "{box}"
organisation = "{org.slug}"
members = ["{nurse.email}"]
authentication = "psc"
kind = "PER"
owner = "{nurse.email}"
""")
    server = Server(installation.settings, env={**provider.settings_env(), "CHEVET_MSSANTE_CONFIG": str(config)})
    try:
        def linking(member_token: str, subject: str) -> httpx.Response:
            provider.subject_name_id = subject
            with httpx.Client(base_url=server.url, cookies={"chevet_session": member_token}) as browser:
                page = browser.get("/mssante/psc")
                assert page.status_code == 200 and box in page.text and "Relier avec Pro Santé Connect" in page.text
                start = browser.post("/mssante/psc/relier", data={"csrf": _csrf(page.text), "mailbox": box})
                assert start.status_code == 303, start.text
                at_provider = httpx.get(start.headers["location"])
                back = urlsplit(at_provider.headers["location"])
                assert back.path == "/mssante/psc/retour"
                return browser.get(f"{back.path}?{back.query}")

        mine = login(server.url, nurse)
        refused = linking(mine, "810009999999")  # someone else's card
        assert refused.status_code == 403 and "avec votre propre carte CPS" in refused.text
        asked = provider.authorize_requests[-1]
        assert asked["scope"] == "openid scope_all" and asked["acr_values"] == "eidas1"
        assert asked["code_challenge_method"] == "S256"
        done = linking(mine, "810001234567")
        assert done.status_code == 303 and done.headers["location"] == "/mssante/psc?notice=mss_psc_linked"
        page = httpx.get(f"{server.url}/mssante/psc", cookies={"chevet_session": mine})
        assert "Reliée le" in page.text and "Délier" in page.text
        async with svc.db.transaction() as tx:
            link = await tx.mssante.psc_link(org.id, box)
        assert link is not None and link.person_id == nurse.id
        # The server's own gateway now fetches the mailbox with the linked login's token.
        assert eventually(lambda: provider.token_requests[-1].get("grant_type") == "refresh_token")
        assert eventually(lambda: provider.introspections.count(provider.subject_name_id) >= 1)

        theirs = login(server.url, colleague)
        page = httpx.get(f"{server.url}/mssante/psc", cookies={"chevet_session": theirs})
        assert page.status_code == 200 and box not in page.text
        r = httpx.post(f"{server.url}/mssante/psc/relier", cookies={"chevet_session": theirs},
                       data={"csrf": _csrf(httpx.get(f"{server.url}/mssante/psc",
                                                     cookies={"chevet_session": mine}).text), "mailbox": box})
        assert r.status_code in (403, 404)
    finally:
        server.stop()
    logged = server.log.name and open(server.log.name, "rb").read()
    assert provider.issued and not [t for t in provider.issued if t.encode() in logged]  # no token in the logs

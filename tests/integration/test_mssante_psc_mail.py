"""Personal (PER) and organisational (ORG) MSSanté mailboxes opened with the professional's
Pro Santé Connect access token, against real servers: the operator's Dovecot checks the token by
introspecting the test PSC provider (its OAuth 2 passdb), and Postfix submission authenticates
through that Dovecot's SASL (``.ci/setup-mail``: IMAP 11144, submission 11589)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes

import pytest

from chevet.adapters.mail.imap import ImapEndpoint, ImapMailbox
from chevet.adapters.mail.smtp import SmtpEndpoint, SmtpSubmitter
from chevet.core.mssante import sasl
from chevet.core.mssante.delivery import TransientMailError
from tests.conftest import _require
from tests.mss_support import mail_available, mailbox_contents, operator_tls, unique
from tests.oidc_provider import INTROSPECTION_PORT, Provider

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

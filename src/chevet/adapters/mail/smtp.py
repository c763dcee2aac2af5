"""SMTP submission to the MSSanté operator, or to the installation's relay for its own mail
(invitations): STARTTLS (or TLS from the first byte) required, then authentication.

The standard library's ``smtplib`` runs in a worker thread. Every failure is classified as
transient (the outbox tries again) or permanent (dead letter), with a code safe to store and
an explanation in plain words for ``chevet mssante check``.

A mailbox opened through Pro Santé Connect (PER or ORG) authenticates with the professional's
access token: SASL OAUTHBEARER (RFC 7628, for SMTP RFC 4954 ``AUTH`` with an initial response)
or XOAUTH2, the token being asked of ``bearer`` just before each connection.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from chevet.core.mssante import sasl
from chevet.core.mssante.delivery import MailError, PermanentMailError, TransientMailError, classify_reply

T = TypeVar("T")


@dataclass(frozen=True)
class SmtpEndpoint:
    host: str
    port: int
    context: ssl.SSLContext
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    local_hostname: str | None = None
    # TLS from the first byte (port 465) instead of STARTTLS; never clear text either way.
    implicit_tls: bool = False
    bearer: sasl.BearerSource | None = None
    sasl_mechanism: sasl.Mechanism | None = None  # preferred; otherwise the first the server offers


def _classify(exc: BaseException) -> MailError:
    if isinstance(exc, MailError):
        return exc
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TransientMailError("tls_certificate_untrusted", exc.verify_message or "")
    if isinstance(exc, ssl.SSLError):
        return TransientMailError("tls_failed", exc.reason or "")
    if isinstance(exc, sasl.SaslError):
        return TransientMailError("smtp_authentication", exc.code)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return TransientMailError("smtp_authentication_unavailable")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return TransientMailError("smtp_authentication", str(exc.smtp_code))
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [int(c) for c, _ in exc.recipients.values()]
        if any(400 <= c < 500 for c in codes):
            return TransientMailError("smtp_temporary", ",".join(map(str, codes)))
        return PermanentMailError("recipients_refused", ",".join(map(str, codes)))
    if isinstance(exc, smtplib.SMTPResponseException):
        return classify_reply(int(exc.smtp_code))
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError,
                        socket.timeout, TimeoutError, socket.gaierror, OSError)):
        return TransientMailError("operator_unreachable", type(exc).__name__)
    return TransientMailError("smtp_error", type(exc).__name__)


class _Refused(Exception):
    def __init__(self, token: str, cause: BaseException) -> None:
        super().__init__("token refused")
        self.token, self.cause = token, cause


def _login_with_token(client: smtplib.SMTP, e: SmtpEndpoint, token: str) -> None:
    offered = set((client.esmtp_features.get("auth") or "").upper().split())
    mechanism = sasl.choose(offered, e.sasl_mechanism)
    if mechanism is None:
        raise TransientMailError("smtp_oauth_unavailable")
    user = e.username or ""
    first = sasl.initial_response(mechanism, user, token).decode("utf-8")

    def respond(challenge: bytes | None = None) -> str:
        # No challenge: the initial response (RFC 4954 §4). A challenge after it is the server's
        # error (RFC 7628 §3.2.2), answered so that the exchange ends with the refusal.
        return first if challenge is None else sasl.abort_response(mechanism).decode()

    try:
        client.auth(mechanism, respond, initial_response_ok=True)
    except smtplib.SMTPAuthenticationError as exc:
        raise _Refused(token, exc) from exc


class SmtpSubmitter:
    def __init__(self, endpoint: SmtpEndpoint) -> None:
        self.endpoint = endpoint

    async def _token(self) -> str | None:
        return await self.endpoint.bearer.token() if self.endpoint.bearer is not None else None

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        """One blocking exchange in a thread; a refused token is reported to its source."""
        try:
            return await asyncio.to_thread(fn, *args)
        except _Refused as refused:
            if self.endpoint.bearer is not None:
                await self.endpoint.bearer.rejected(refused.token)
            raise _classify(refused.cause) from refused.cause

    def _open(self, token: str | None = None) -> smtplib.SMTP:
        e = self.endpoint
        client = (smtplib.SMTP_SSL(e.host, e.port, local_hostname=e.local_hostname, timeout=e.timeout,
                                   context=e.context) if e.implicit_tls
                  else smtplib.SMTP(e.host, e.port, local_hostname=e.local_hostname, timeout=e.timeout))
        try:
            client.ehlo()
            if not e.implicit_tls:
                if not client.has_extn("starttls"):
                    # Never fall back to clear text: care data does not travel unencrypted.
                    raise TransientMailError("starttls_unavailable")
                client.starttls(context=e.context)
                client.ehlo()
            if e.bearer is not None:
                if token is None:
                    raise TransientMailError("smtp_authentication", "no token")
                _login_with_token(client, e, token)
            elif e.username:
                client.login(e.username, e.password or "")
            return client
        except BaseException:
            client.close()
            raise

    def _submit(self, sender: str, recipients: Sequence[str], message: bytes, envelope_id: str | None,
                token: str | None = None) -> None:
        try:
            client = self._open(token)
            try:
                mail_options: list[str] = []
                rcpt_options: list[str] = []
                if envelope_id and client.has_extn("dsn") and envelope_id.isalnum() and len(envelope_id) <= 100:
                    # Bounces then name the message (RFC 3461) and return only its headers.
                    mail_options = [f"ENVID={envelope_id}", "RET=HDRS"]
                    rcpt_options = ["NOTIFY=FAILURE,DELAY"]
                client.sendmail(sender, list(recipients), message, mail_options, rcpt_options)
            finally:
                try:
                    client.quit()
                except (smtplib.SMTPException, OSError):
                    client.close()
        except _Refused:
            raise
        except BaseException as exc:
            raise _classify(exc) from exc

    async def submit(self, sender: str, recipients: Sequence[str], message: bytes,
                     envelope_id: str | None = None) -> None:
        await self._run(self._submit, sender, list(recipients), message, envelope_id, await self._token())

    def _check(self, token: str | None = None) -> str:
        try:
            client = self._open(token)
        except _Refused:
            raise
        except BaseException as exc:
            raise _classify(exc) from exc
        try:
            sock = client.sock
            version = sock.version() if isinstance(sock, ssl.SSLSocket) else None
            return version or "?"
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    async def check(self) -> str:
        """Connect, STARTTLS, authenticate; returns the TLS version in use."""
        return await self._run(self._check, await self._token())

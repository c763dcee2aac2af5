"""IMAP fetching from an MSSanté mailbox (STARTTLS required), by UID, with IDLE when offered.

New mail is found with ``UID SEARCH UID <last+1>:*`` against a cursor the caller stores, so a
restart fetches again what was not yet recorded (the gateway de-duplicates by Message-ID) and
nothing is skipped. A change of UIDVALIDITY restarts from the beginning of the folder.

Three ways to log in: a password (LOGIN), a client certificate (SASL EXTERNAL), or, for the
personal (PER) and organisational (ORG) mailboxes operators open through Pro Santé Connect, the
professional's access token (SASL OAUTHBEARER, RFC 7628, or XOAUTH2), asked of ``bearer`` just
before each connection so that it is always a fresh one.
"""

from __future__ import annotations

import asyncio
import imaplib
import re
import select
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from chevet.core.mssante import sasl
from chevet.core.mssante.delivery import MailError, TransientMailError

T = TypeVar("T")
MAX_FETCH = 50
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")


@dataclass(frozen=True)
class ImapEndpoint:
    host: str
    port: int
    context: ssl.SSLContext
    username: str
    password: str | None = None
    folder: str = "INBOX"
    timeout: float = 30.0
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
        return TransientMailError("imap_authentication", exc.code)
    if isinstance(exc, imaplib.IMAP4.error) and b"AUTHENTICATIONFAILED" in str(exc).encode().upper():
        return TransientMailError("imap_authentication")
    if isinstance(exc, imaplib.IMAP4.error):
        return TransientMailError("imap_error", str(exc)[:80])
    return TransientMailError("operator_unreachable", type(exc).__name__)


class ImapMailbox:
    """One connection to one mailbox folder. Blocking; call through the async wrappers."""

    def __init__(self, endpoint: ImapEndpoint) -> None:
        self.endpoint = endpoint
        self.conn: imaplib.IMAP4 | None = None
        self.uid_validity = 0
        self._token: str | None = None  # the bearer token for the next connection
        self._refused: str | None = None  # the token the server refused, to report after the attempt

    @property
    def supports_idle(self) -> bool:
        return self.conn is not None and "IDLE" in self.conn.capabilities

    def _connect(self) -> None:
        e = self.endpoint
        conn = imaplib.IMAP4(e.host, e.port, timeout=e.timeout)
        try:
            if "STARTTLS" not in conn.capabilities:
                raise TransientMailError("starttls_unavailable")
            conn.starttls(ssl_context=e.context)
            if e.bearer is not None:
                self._login_with_token(conn)
            elif e.password is not None:
                conn.login(e.username, e.password)
            else:
                # Client-certificate authentication: SASL EXTERNAL, identity from the certificate.
                conn.authenticate("EXTERNAL", lambda _: e.username.encode())
            typ, _ = conn.select(f'"{e.folder}"')
            if typ != "OK":
                raise TransientMailError("imap_folder")
            typ, status = conn.status(f'"{e.folder}"', "(UIDVALIDITY)")
            found = _UIDVALIDITY.search(status[0]) if typ == "OK" and isinstance(status[0], bytes) else None
            self.uid_validity = int(found.group(1)) if found else 0
        except BaseException:
            try:
                conn.shutdown()
            except OSError:
                pass
            raise
        self.conn = conn

    def _login_with_token(self, conn: imaplib.IMAP4) -> None:
        e = self.endpoint
        offered = {c[5:] for c in conn.capabilities if c.startswith("AUTH=")}
        mechanism = sasl.choose(offered, e.sasl_mechanism)
        token, self._token = self._token, None
        if mechanism is None:
            raise TransientMailError("imap_oauth_unavailable")
        if token is None:
            raise TransientMailError("imap_authentication", "no token")
        first = sasl.initial_response(mechanism, e.username, token)
        sent = False

        def respond(challenge: bytes) -> bytes:
            # imaplib sends no initial response: the first (empty) challenge gets it; a second one
            # is the server's error (RFC 7628 §3.2.2), answered so the exchange ends.
            nonlocal sent
            if not sent:
                sent = True
                return first
            return sasl.abort_response(mechanism)

        try:
            conn.authenticate(mechanism, respond)
        except imaplib.IMAP4.error as exc:
            self._refused = token
            raise TransientMailError("imap_authentication", mechanism) from exc

    async def _prepare(self) -> None:
        """Before a connection is opened: the token it will log in with."""
        self._refused = None
        if self.conn is None and self.endpoint.bearer is not None:
            self._token = await self.endpoint.bearer.token()

    async def _after(self) -> None:
        refused, self._refused = self._refused, None
        if refused is not None and self.endpoint.bearer is not None:
            await self.endpoint.bearer.rejected(refused)

    def _fetch(self, cursor: tuple[int, int] | None) -> tuple[int, list[tuple[int, bytes]]]:
        if self.conn is None:
            self._connect()
        assert self.conn is not None
        last = cursor[1] if cursor and cursor[0] == self.uid_validity else 0
        typ, data = self.conn.uid("SEARCH", f"UID {last + 1}:*")
        if typ != "OK":
            raise TransientMailError("imap_error", "search")
        uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > last)[:MAX_FETCH]
        out = []
        for uid in uids:
            typ, parts = self.conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
            if typ != "OK":
                raise TransientMailError("imap_error", "fetch")
            raw = next((p[1] for p in parts if isinstance(p, tuple) and len(p) == 2), None)
            if raw is not None:
                out.append((uid, bytes(raw)))
        return self.uid_validity, out

    def _mark_seen(self, uid: int) -> None:
        if self.conn is not None:
            self.conn.uid("STORE", str(uid), "+FLAGS", "(\\Seen)")

    def _idle(self, seconds: float) -> bool:
        """Wait for the server to announce new mail (RFC 2177), at most ``seconds``.
        Returns False at once when the server does not offer IDLE."""
        conn = self.conn
        if conn is None or "IDLE" not in conn.capabilities:
            return False
        tag = conn._new_tag()
        conn.send(tag + b" IDLE\r\n")
        if not conn.readline().startswith(b"+"):
            raise TransientMailError("imap_error", "idle")
        arrived = False
        sock = conn.sock
        try:
            pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
            ready = pending or bool(select.select([sock], [], [], seconds)[0])
            if ready:
                line = conn.readline()
                arrived = b"EXISTS" in line or b"RECENT" in line
        finally:
            conn.send(b"DONE\r\n")
            for _ in range(100):
                line = conn.readline()
                if not line or line.startswith(tag):
                    break
                arrived = arrived or b"EXISTS" in line
        return arrived

    def _close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
            self.conn = None

    async def _blocking(self, fn: Callable[..., T], *args: object) -> T:
        """Run one blocking exchange in a thread. Cancelled (the gateway stops), the connection
        is cut so that the thread ends now, and the cancellation goes on: it is not a mail error."""
        try:
            return await asyncio.to_thread(fn, *args)
        except asyncio.CancelledError:
            self._interrupt()
            await self.close()
            raise
        except BaseException as exc:
            await self.close()
            raise _classify(exc) from exc

    async def fetch(self, cursor: tuple[int, int] | None) -> tuple[int, list[tuple[int, bytes]]]:
        await self._prepare()
        try:
            return await self._blocking(self._fetch, cursor)
        finally:
            await self._after()

    async def mark_seen(self, uid: int) -> None:
        await self._blocking(self._mark_seen, uid)

    def _interrupt(self) -> None:
        """Wake a thread blocked on this connection (IDLE waits up to ``poll_seconds``): a
        stopping server must not wait for the mailbox to speak."""
        sock = self.conn.sock if self.conn is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    async def idle(self, seconds: float) -> bool:
        return await self._blocking(self._idle, seconds)

    async def check(self) -> int:
        """Connect, STARTTLS, log in, open the folder; returns the number of messages in it."""
        try:
            await self._prepare()
            try:
                await asyncio.to_thread(self._connect)
            finally:
                await self._after()
            assert self.conn is not None
            typ, data = await asyncio.to_thread(self.conn.uid, "SEARCH", "ALL")
            return len((data[0] or b"").split()) if typ == "OK" else 0
        except BaseException as exc:
            raise _classify(exc) from exc
        finally:
            await self.close()

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

"""An SMTP listener (aiosmtpd) for organisations that run their own MSSanté domain.

STARTTLS is required before any mail transaction, recipients are accepted only for the
configured mailboxes, size is bounded, and a mail is acknowledged ("250") only after the
gateway has recorded it (integrated or quarantined): the sending server keeps it otherwise.

Running it makes the installation an MSSanté operator, so it enforces the trust space's list
of domains (liste blanche) for the envelope sender (``MAIL FROM``) and for the ``From`` header:
a sender outside the list is refused (``550 5.7.1``) or, if so configured, its mail is
quarantined; without a current list every mail waits (``451 4.7.1``) at the sending operator.
An empty envelope sender (a bounce) is judged by its ``From`` header alone.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, Envelope, Session

from chevet.core.mssante.whitelist import Verdict, header_sender_domain

log = logging.getLogger("chevet.mssante.listener")

Deliver = Callable[[str, bytes], Awaitable[None]]
Screen = Callable[[str | None], Verdict]     # a sending domain (None: none readable) → verdict

WAIT = "451 4.7.1 trust space list unavailable, try again later"
REFUSED = "550 5.7.1 sender domain outside the MSSante trust space"


@dataclass(frozen=True, slots=True)
class Whitelisting:
    """How the listener holds senders to the list: ``screen`` judges a domain, ``unlisted`` says
    what becomes of a mail from outside (refused, or handed to ``quarantine``)."""

    screen: Screen
    unlisted: Literal["refuse", "quarantine"] = "refuse"
    quarantine: Deliver | None = None


def _domain(address: str) -> str | None:
    local, at, domain = address.strip().strip("<>").rpartition("@")
    return domain.lower().rstrip(".") if at and local and domain else None


class _Handler:
    def __init__(self, mailboxes: set[str], deliver: Deliver, whitelisting: Whitelisting) -> None:
        self.mailboxes = mailboxes
        self.deliver = deliver
        self.whitelisting = whitelisting

    def _judge(self, domain: str | None) -> str | None:
        """None when the domain may send; else the reply, or "" for a mail to quarantine."""
        verdict = self.whitelisting.screen(domain)
        if verdict is Verdict.ALLOWED:
            return None
        if verdict is not Verdict.UNLISTED:
            return WAIT
        return "" if self.whitelisting.unlisted == "quarantine" and self.whitelisting.quarantine else REFUSED

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if address.strip("<> "):     # the null sender of a bounce is judged by its From header
            reply = self._judge(_domain(address))
            if reply:
                return reply
            envelope.quarantine = reply == ""   # type: ignore[attr-defined]
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() not in self.mailboxes:
            return "550 5.1.1 mailbox unknown"
        envelope.rcpt_tos.append(address.lower())
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        reply = self._judge(header_sender_domain(raw))
        if reply:
            return reply
        quarantine = reply == "" or bool(getattr(envelope, "quarantine", False))
        hand = self.whitelisting.quarantine if quarantine and self.whitelisting.quarantine else self.deliver
        try:
            for rcpt in envelope.rcpt_tos:
                await hand(rcpt, raw)
        except Exception:
            log.exception("mssante listener could not record a mail")
            return "451 4.3.0 try again later"
        return "250 OK"


async def start_listener(host: str, port: int, tls: ssl.SSLContext, mailboxes: set[str], deliver: Deliver,
                         max_bytes: int, *, whitelisting: Whitelisting) -> asyncio.AbstractServer:
    handler = _Handler({m.lower() for m in mailboxes}, deliver, whitelisting)
    # aiosmtpd logs each SMTP command at INFO, addresses included: not in our logs.
    logging.getLogger("mail.log").setLevel(logging.WARNING)

    def factory() -> Any:
        return SMTP(handler, require_starttls=True, tls_context=tls, data_size_limit=max_bytes,
                    hostname=host, decode_data=False)

    loop = asyncio.get_running_loop()
    return await loop.create_server(factory, host=host, port=port)

"""An SMTP listener (aiosmtpd) for organisations that run their own MSSanté domain.

STARTTLS is required before any mail transaction, recipients are accepted only for the
configured mailboxes, size is bounded, and a mail is acknowledged ("250") only after the
gateway has recorded it (integrated or quarantined): the sending server keeps it otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger("chevet.mssante.listener")

Deliver = Callable[[str, bytes], Awaitable[None]]


class _Handler:
    def __init__(self, mailboxes: set[str], deliver: Deliver) -> None:
        self.mailboxes = mailboxes
        self.deliver = deliver

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
        try:
            for rcpt in envelope.rcpt_tos:
                await self.deliver(rcpt, raw)
        except Exception:
            log.exception("mssante listener could not record a mail")
            return "451 4.3.0 try again later"
        return "250 OK"


async def start_listener(host: str, port: int, tls: ssl.SSLContext, mailboxes: set[str], deliver: Deliver,
                         max_bytes: int) -> asyncio.AbstractServer:
    handler = _Handler({m.lower() for m in mailboxes}, deliver)
    # aiosmtpd logs each SMTP command at INFO, addresses included: not in our logs.
    logging.getLogger("mail.log").setLevel(logging.WARNING)

    def factory() -> Any:
        return SMTP(handler, require_starttls=True, tls_context=tls, data_size_limit=max_bytes,
                    hostname=host, decode_data=False)

    loop = asyncio.get_running_loop()
    return await loop.create_server(factory, host=host, port=port)

"""Delivery Status Notifications (RFC 3464) in a ``multipart/report; report-type=delivery-status``
(RFC 6522): the operator's word that a message could not be delivered (or is delayed).

What is read: the ``Original-Envelope-Id`` (Chevet submits with ``ENVID`` = the message's own
id when the operator offers DSN), the Message-ID of the returned message or headers (the
fallback), and per recipient the ``Action`` and ``Status``. Diagnostic texts are not kept:
written by remote servers, they may repeat addresses (a patient's contains the INS).
How MSSanté operators word their DSNs is unconfirmed; these are the standard fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser

from chevet.core.mssante.address import message_ids

_STATUS = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")
_ENVID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    action: str          # failed, delayed, delivered, relayed, expanded
    status: str          # "5.1.1"; "" when absent or malformed


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    envelope_id: str | None
    original_message_id: str | None
    recipients: tuple[RecipientStatus, ...]

    @property
    def failed(self) -> tuple[RecipientStatus, ...]:
        return tuple(r for r in self.recipients if r.action == "failed")

    @property
    def summary(self) -> str:
        """What is stored and shown on the message: the status codes, never the texts."""
        codes = sorted({r.status for r in self.failed if r.status}) or ["5.0.0"]
        return "bounced: " + ", ".join(codes)[:100]


def _field(block: Message, name: str) -> str:
    value = block.get(name)
    return " ".join(str(value).split())[:300] if value is not None else ""


def _status(value: str) -> str:
    code = value.split()[0] if value.split() else ""
    return code if _STATUS.match(code) else ""


def parse_dsn(report: Message) -> DeliveryReport:
    """The delivery report of a ``multipart/report`` entity (already parsed)."""
    envelope_id = None
    recipients: list[RecipientStatus] = []
    original = None
    parts = report.get_payload() if report.is_multipart() else []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, Message):
            continue
        ctype = part.get_content_type()
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            blocks = _blocks(part)
            if blocks:
                raw_id = _field(blocks[0], "Original-Envelope-Id").lower()
                envelope_id = raw_id if _ENVID.match(raw_id) else None
            for block in blocks[1:]:
                action = _field(block, "Action").lower().split(" ")[0]
                if action:
                    recipients.append(RecipientStatus(action[:20], _status(_field(block, "Status"))))
        elif ctype in ("message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers"):
            original = _original_id(part)
    return DeliveryReport(envelope_id, original, tuple(recipients[:100]))


def _blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [b for b in payload if isinstance(b, Message)]
    data = part.get_payload(decode=True)
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(payload or "")
    return [HeaderParser().parsestr(chunk.strip() + "\n") for chunk in re.split(r"\r?\n\s*\r?\n", text)
            if chunk.strip()]


def _original_id(part: Message) -> str | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        headers = payload[0]
    else:
        data = part.get_payload(decode=True)
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(payload or "")
        headers = HeaderParser().parsestr(text, headersonly=True)
    ids = message_ids(str(headers.get("Message-ID") or ""))
    return ids[0] if ids else None

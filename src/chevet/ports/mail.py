"""Outbound mail to the MSSanté operator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class MailSubmitter(Protocol):
    """Hands one finished message to the MSSanté operator (SMTP submission)."""

    async def submit(self, sender: str, recipients: Sequence[str], message: bytes,
                     envelope_id: str | None = None) -> None:
        """Raises ``TransientMailError`` (try again later) or ``PermanentMailError``. When the
        operator offers DSN, ``envelope_id`` travels as ``ENVID`` and comes back in bounces."""
        ...

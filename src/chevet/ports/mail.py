"""Outbound mail to the MSSanté operator."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from chevet.core.mail_outbox import MailState, OutgoingMail


class MailSubmitter(Protocol):
    """Hands one finished message to the MSSanté operator (SMTP submission)."""

    async def submit(self, sender: str, recipients: Sequence[str], message: bytes,
                     envelope_id: str | None = None) -> None:
        """Raises ``TransientMailError`` (try again later) or ``PermanentMailError``. When the
        operator offers DSN, ``envelope_id`` travels as ``ENVID`` and comes back in bounces."""
        ...


class MailOutbox(Protocol):
    """The installation's transactional mail waiting for its SMTP relay (``core/mail_outbox.py``)."""

    async def add(self, mail: OutgoingMail) -> None: ...
    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[OutgoingMail]:
        """Lease up to ``limit`` mails due now (or whose worker died) to the caller."""
        ...

    async def mark_sent(self, mail_id: uuid.UUID, at: datetime, attempts: int) -> None: ...
    async def mark_retry(self, mail_id: uuid.UUID, next_at: datetime, attempts: int, error: str) -> None: ...
    async def mark_dead(self, mail_id: uuid.UUID, attempts: int, error: str) -> None: ...
    async def states(self, org_id: uuid.UUID, kind: str,
                     subject_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, MailState]:
        """The newest mail's state for each of these subjects that has one."""
        ...

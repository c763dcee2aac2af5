"""The installation's own transactional mail (invitations) waiting for the SMTP relay: its
states and retry schedule. Sans I/O."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta


class MailState(enum.StrEnum):
    PENDING = "pending"    # queued, or waiting for its next attempt
    SENDING = "sending"    # leased by a worker now
    SENT = "sent"          # the relay accepted it
    DEAD = "dead"          # given up: the person who asked for it hands the link over another way


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    id: uuid.UUID
    org_id: uuid.UUID
    kind: str
    subject_id: uuid.UUID
    recipient: str
    message_sealed: bytes
    state: MailState
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class MailRetry:
    """Exponential backoff: ``first`` after the first failure, doubling, at most ``longest``;
    dead after ``max_attempts`` attempts. A lease outlives one attempt (the relay's timeout)."""

    max_attempts: int = 8
    first: timedelta = timedelta(seconds=30)
    longest: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)

    def delay(self, attempts: int) -> timedelta:
        later: timedelta = self.first * (2 ** max(0, attempts - 1))
        return min(self.longest, later)

    def gives_up(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

"""Outbox policy: when to try again, when to give up, and how an SMTP answer is classified.

Back-off doubles from one minute up to one hour, so an operator down for an hour costs at
most one more hour of delay and a handful of attempts; a message is dead-lettered only after
``give_up`` (three days by default) of transient failures, or at once on a permanent refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


class MailError(Exception):
    """A submission failed; ``code`` is safe to store and show (never addresses or content)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail[:200]

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}" if self.detail else self.code


class TransientMailError(MailError):
    """Try again later: operator unreachable, TLS hiccup, 4xx answer."""


class PermanentMailError(MailError):
    """Will never succeed as is: 5xx refusal of the message or of every recipient."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    first_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=1)
    give_up: timedelta = timedelta(days=3)
    lease: timedelta = timedelta(minutes=5)

    def delay(self, attempts: int) -> timedelta:
        """Wait before attempt ``attempts + 1`` (``attempts`` already made, at least 1)."""
        factor = 1 << min(max(attempts - 1, 0), 20)
        return min(self.first_delay * factor, self.max_delay)

    def gives_up(self, created_at: datetime, now: datetime) -> bool:
        return now - created_at >= self.give_up


def classify_reply(code: int, text: str = "") -> MailError:
    """An SMTP reply code as the outbox sees it (RFC 5321 §4.2.1)."""
    detail = f"{code}"
    if 400 <= code < 500:
        return TransientMailError("smtp_temporary", detail)
    if code in (530, 534, 535, 538):
        # Authentication problems are configuration errors an administrator can fix: keep trying.
        return TransientMailError("smtp_authentication", detail)
    return PermanentMailError("smtp_refused", detail)

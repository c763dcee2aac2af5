"""What the server tells its operator's monitoring (docs/metrics.md): a few observations made where
the work happens, and the exposition read at scrape time.

Observations carry no organisation, person, conversation or content: only route templates,
sizes, durations and job names. ``NoMetrics``, the default, does nothing, so code that observes
never asks whether metrics are on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Metrics(Protocol):
    def request_served(self, method: str, route: str, status: int, seconds: float) -> None:
        """One HTTP request answered: ``route`` is its template (``/api/v1/conversations/{conversation_id}``)."""

    def send_batch(self, size: int) -> None:
        """One group commit of sends written (``app/messaging/group_commit.py``), of ``size`` sends."""

    def delivered(self, entry_at: str) -> None:
        """An entry written to a live stream; ``entry_at`` is its ISO 8601 time (the event's ``at``),
        set in the transaction that committed it."""

    def job_succeeded(self, job: str) -> None:
        """A round of the background job ``job`` ended without error."""

    def watch_connections(self, count: Callable[[], int]) -> None:
        """Where the number of live realtime connections of this process is read at scrape time."""

    async def exposition(self) -> bytes:
        """The Prometheus text exposition of everything, refreshed now (bounded in time)."""


class NoMetrics:
    """Metrics off: every observation is a no-op, the exposition empty."""

    enabled = False

    def request_served(self, method: str, route: str, status: int, seconds: float) -> None:
        return None

    def send_batch(self, size: int) -> None:
        return None

    def delivered(self, entry_at: str) -> None:
        return None

    def job_succeeded(self, job: str) -> None:
        return None

    def watch_connections(self, count: Callable[[], int]) -> None:
        return None

    async def exposition(self) -> bytes:
        return b""


def _conforms(m: NoMetrics) -> Metrics:  # pragma: no cover - checked by mypy only
    return m

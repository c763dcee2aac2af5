"""The realtime event bus (in-process or Redis)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from chevet.core.entities import RealtimeEvent


class EventBus(Protocol):
    """Publishes realtime events after commit, to this process and (Redis) to the others."""

    async def publish(self, events: Sequence[RealtimeEvent]) -> None:
        """Raises ``DependencyUnavailable`` when the bus does not take them within its timeout."""
        ...

    async def start(self, deliver: Callable[[RealtimeEvent], None],
                    reconnected: Callable[[], None] | None = None) -> None:
        """Deliver every event published from now on; ``reconnected`` is called each time the
        bus comes back after losing its connection (what was published meanwhile is lost)."""
        ...

    async def ping(self) -> None:
        """Readiness: returns when the bus publishes and listens, else ``DependencyUnavailable``."""
        ...

    async def close(self) -> None: ...

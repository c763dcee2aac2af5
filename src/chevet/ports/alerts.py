"""The durable record of urgent alerts: their state, their timeline and each team's ladder."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from chevet.core.care.alert import Alert, AlertEvent, Ladder


class AlertRepository(Protocol):
    async def add(self, alert: Alert) -> None: ...
    async def get(self, org_id: uuid.UUID, alert_id: uuid.UUID) -> Alert | None: ...

    async def save(self, alert: Alert, expected_version: int) -> bool:
        """Write the alert's new state if nobody changed it since it was read at
        ``expected_version``; False when another process (or an acknowledgement) came first."""
        ...

    async def of_conversation(self, org_id: uuid.UUID, conversation_id: uuid.UUID, limit: int = 20) -> list[Alert]:
        """The conversation's alerts, latest first."""
        ...

    async def of_organisation(self, org_id: uuid.UUID) -> list[Alert]:
        """Every alert of the organisation, oldest first (the archive)."""
        ...

    async def open_in(self, org_id: uuid.UUID, limit: int = 200) -> list[Alert]:
        """The organisation's open alerts (exhausted ones included), oldest first."""
        ...

    async def due(self, now: datetime, limit: int = 50) -> list[Alert]:
        """Open alerts of every organisation whose next step is due, oldest due first."""
        ...

    async def remove_for_conversation(self, conversation_id: uuid.UUID, before: datetime | None = None) -> int:
        """Retention: the conversation's alerts (raised before ``before``, or all) and their
        timelines go with its messages; returns how many alerts."""
        ...

    async def add_events(self, events: Sequence[AlertEvent]) -> None: ...
    async def events_of(self, alert_ids: Sequence[uuid.UUID]) -> list[AlertEvent]:
        """The timelines of these alerts, in order."""
        ...

    async def claim_push(self, event_id: uuid.UUID, at: datetime) -> bool:
        """Whether this process is the one to push this event's notifications (True once only,
        whichever of several processes asks first)."""
        ...

    async def ladder(self, org_id: uuid.UUID, scope_id: uuid.UUID) -> Ladder | None:
        """The ladder of a team (``scope_id`` a team id) or the organisation's default
        (``scope_id`` the organisation's id); None when never set."""
        ...

    async def set_ladder(self, org_id: uuid.UUID, scope_id: uuid.UUID, ladder: Ladder, at: datetime,
                         by: uuid.UUID | None) -> None: ...
    async def ladders(self, org_id: uuid.UUID) -> dict[uuid.UUID, Ladder]: ...

"""Handover notes (transmissions ciblées) and each team's templates."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from chevet.core.care.handover import Handover, HandoverTemplate


class HandoverRepository(Protocol):
    async def add(self, h: Handover, terms: Sequence[int]) -> None: ...
    async def get(self, org_id: uuid.UUID, handover_id: uuid.UUID) -> Handover | None: ...

    async def open_in(self, org_id: uuid.UUID, conversation_ids: Sequence[uuid.UUID],
                      limit: int = 200) -> list[Handover]:
        """Unconfirmed notes of these conversations, oldest shift first."""
        ...

    async def of_conversation(self, org_id: uuid.UUID, conversation_id: uuid.UUID,
                              limit: int = 50) -> list[Handover]:
        """A care case's notes, newest first."""
        ...

    async def confirm(self, org_id: uuid.UUID, handover_id: uuid.UUID, person_id: uuid.UUID, at: datetime) -> bool:
        """Record who confirmed the note, only if nobody has yet (False: someone did first)."""
        ...

    async def due_for_flag(self, shift_started_before: datetime, limit: int = 100) -> list[Handover]:
        """Unconfirmed, not yet flagged notes whose shift started before the instant, every organisation."""
        ...

    async def mark_flagged(self, handover_id: uuid.UUID, at: datetime) -> bool:
        """Flag a note once: True only for the caller whose update found it unflagged and
        unconfirmed (several processes may try at the same moment)."""
        ...

    async def late(self, org_id: uuid.UUID, limit: int = 200) -> list[Handover]:
        """Flagged notes still unconfirmed, oldest first."""
        ...

    async def search(self, org_id: uuid.UUID, wanted: dict[uuid.UUID, list[list[int]]],
                     limit: int) -> list[Handover]:
        """Notes of the given conversations holding, for every query word, one of its terms."""
        ...

    async def of_organisation(self, org_id: uuid.UUID) -> list[Handover]: ...
    async def remove_for_conversation(self, conversation_id: uuid.UUID) -> int: ...

    async def templates(self, org_id: uuid.UUID, team_id: uuid.UUID) -> list[HandoverTemplate] | None:
        """A team's templates in order; None when the team never set any (the defaults apply)."""
        ...

    async def set_templates(self, org_id: uuid.UUID, team_id: uuid.UUID, templates: Sequence[HandoverTemplate],
                            at: datetime) -> None: ...
    async def all_templates(self, org_id: uuid.UUID) -> dict[uuid.UUID, list[HandoverTemplate]]: ...

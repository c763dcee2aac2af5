"""Handover notes in the fakes: none are ever written there (the handover tests run on the real
databases), so shredding a care case removes none; anything else is not faked."""

from __future__ import annotations

import uuid
from typing import Any

from tests.fakes.errors import not_faked
from tests.fakes.tables import Tables


class FakeHandovers:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def remove_for_conversation(self, conversation_id: uuid.UUID) -> int:
        return 0

    def __getattr__(self, name: str) -> Any:
        raise not_faked(f"Transaction.handovers.{name}")

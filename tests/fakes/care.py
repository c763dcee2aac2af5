"""Care records in the fakes (handover notes, urgent alerts): none are ever written there (their
tests run on the real databases), so shredding or expiring a conversation removes none; anything
else is not faked."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from tests.fakes.errors import not_faked


class NoCareRecords:
    def __init__(self, name: str) -> None:
        self._name = name

    async def remove_for_conversation(self, conversation_id: uuid.UUID, before: datetime | None = None) -> int:
        return 0

    def __getattr__(self, name: str) -> Any:
        raise not_faked(f"Transaction.{self._name}.{name}")

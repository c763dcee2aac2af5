"""How the organisation archive writes and reads its values: times in ISO 8601 with their
zone (a time without one is refused), ids as canonical UUID text, null for absent values."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any


def time_text(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def id_text(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def an_id(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))


def an_id_or_none(value: Any) -> uuid.UUID | None:
    return None if value is None else an_id(value)


def a_time(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("naive time")
    return parsed


def a_time_or_none(value: Any) -> datetime | None:
    return None if value is None else a_time(value)

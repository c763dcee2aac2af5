"""Personal-data breaches (GDPR Art. 33): the controller notifies the CNIL within 72 hours of
becoming aware of a breach, unless it is unlikely to result in a risk; every breach is logged.
The deadline is computed here so that every screen shows the same one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from chevet.core.errors import InvalidInput

NOTIFY_WITHIN = timedelta(hours=72)
MAX_TEXT = 4000


@dataclass(frozen=True, slots=True)
class Breach:
    id: uuid.UUID
    org_id: uuid.UUID
    discovered_at: datetime
    recorded_at: datetime
    recorded_by: uuid.UUID | None
    nature: str
    data_categories: str
    people_affected: int | None
    consequences: str
    measures: str
    authority_notified_at: datetime | None
    people_notified_at: datetime | None
    closed_at: datetime | None
    # GDPR Art. 33(3)(a): the approximate number of personal-data records concerned.
    records_affected: int | None = None
    # Art. 33(1): a notification after 72 hours gives the reasons for the delay.
    late_reason: str = ""

    @property
    def deadline(self) -> datetime:
        return self.discovered_at + NOTIFY_WITHIN

    def overdue(self, now: datetime) -> bool:
        return self.authority_notified_at is None and now > self.deadline

    def hours_left(self, now: datetime) -> float | None:
        if self.authority_notified_at is not None:
            return None
        return round((self.deadline - now).total_seconds() / 3600, 1)


def clean_text(value: str, field: str, *, required: bool = True) -> str:
    text = (value or "").strip() if isinstance(value, str) else ""
    if required and not text:
        raise InvalidInput("breach_field_required", field=field)
    if len(text) > MAX_TEXT:
        raise InvalidInput("breach_field_too_long", field=field, max=MAX_TEXT)
    return text

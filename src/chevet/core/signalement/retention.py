"""How long a closed report is kept, per record type, before it is crypto-shredded.

A report belongs to every regulatory type it was qualified as (a fall that is both a serious
dysfunction and an EIGS is both), or to ``internal`` when it is none of them, and it is kept
for the longest period among its types. Open reports never expire: the period runs from the
closure. No text fixes these periods for an establishment's incident files (the CNIL's
social and medico-social retention guidance leaves them to the controller), so they are the
organisation's to set, within bounds, with the defaults below and their reasons."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum

from chevet.core.errors import InvalidInput
from chevet.core.signalement.records import Report

MIN_DAYS = 365  # a year covers the annual quality report the figures feed
MAX_DAYS = 36500


class RecordType(StrEnum):
    INTERNAL = "signalement.internal"
    ESSMS = "signalement.essms"
    EIGS = "signalement.eigs"
    SECURITY = "signalement.security"
    GDPR = "signalement.gdpr"


DEFAULT_DAYS: dict[RecordType, int] = {
    RecordType.INTERNAL: 5 * 365,
    RecordType.ESSMS: 10 * 365,
    RecordType.EIGS: 10 * 365,
    RecordType.SECURITY: 5 * 365,
    RecordType.GDPR: 5 * 365,
}

RATIONALE: dict[RecordType, str] = {
    RecordType.INTERNAL: "five years after closure: the span of a HAS evaluation cycle, so that trends and the "
                         "actions they led to can be shown",
    RecordType.ESSMS: "ten years after closure: a declared dysfunction may be examined again by the ARS or the "
                      "département, or in a dispute about care",
    RecordType.EIGS: "ten years after closure: the analysis and action plan sent to the ARS may be questioned "
                     "as long as liability for care can be",
    RecordType.SECURITY: "five years after closure: long enough for the ANSSI/CERT Santé follow-up and audits "
                         "of the information system",
    RecordType.GDPR: "five years after closure: the breach record must let the CNIL check compliance",
}


def record_types(r: Report) -> list[RecordType]:
    """Every regulatory type the report was qualified as, or ``internal`` when none."""
    types = [t for t, hit in ((RecordType.ESSMS, bool(r.categories)), (RecordType.EIGS, bool(r.eigs)),
                              (RecordType.SECURITY, bool(r.security)), (RecordType.GDPR, r.gdpr)) if hit]
    return types or [RecordType.INTERNAL]


def parse_record_type(value: str) -> RecordType:
    try:
        return RecordType(value)
    except ValueError:
        raise InvalidInput("report_record_type_unknown", allowed=", ".join(t.value for t in RecordType)) from None


def check_days(days: int) -> int:
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise InvalidInput("report_retention_out_of_limits", min=MIN_DAYS, max=MAX_DAYS)
    return days


def kept_days(r: Report, days: Mapping[RecordType, int]) -> int:
    """The longest period among the report's types (the organisation's, else the default)."""
    return max(days.get(t, DEFAULT_DAYS[t]) for t in record_types(r))


def expires_at(r: Report, days: Mapping[RecordType, int]) -> datetime | None:
    """When a closed report goes; None while it is open."""
    if r.closed_at is None:
        return None
    return r.closed_at + timedelta(days=kept_days(r, days))

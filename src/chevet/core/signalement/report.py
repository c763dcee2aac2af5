"""The internal report (fiche d'événement indésirable), its qualification, and who may see it.

A report is meant to be filed from a phone in a couple of minutes: few fields, most optional,
clear refusals. Its narrative is care content and is sealed by the application; the fields here
are what the interface collects and checks. A resident is named by a pseudonymous reference
(room, initials, local file number); a national identifier (NIR / INS matricule) is refused
anywhere in the text so that it never travels or rests in clear.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from chevet.core.conversation import looks_like_national_id
from chevet.core.errors import InvalidInput
from chevet.core.roles import Role
from chevet.core.signalement.taxonomy import (
    EigsCriterion,
    SecurityImpact,
    Severity,
    parse_categories,
    parse_eigs,
    parse_security,
    parse_severity,
)

MAX_TEXT = 4000
MAX_SHORT = 200
MAX_REF = 64
MAX_REFS = 20
MAX_AFFECTED = 100_000
CLOCK_SKEW = timedelta(minutes=10)


class ReportStatus(StrEnum):
    NEW = "new"              # filed, waiting for qualification
    QUALIFIED = "qualified"  # severity and regulatory nature decided
    CLOSED = "closed"        # analysis done, action plan complete, feedback given


class ReportFunction(StrEnum):
    """Functions in the signalement process. The director is an administrator or a person the
    administrators designate; quality leads are designated. Both are per organisation."""

    QUALITY_LEAD = "quality_lead"
    DIRECTOR = "director"


def functions_of(role: Role, designations: Iterable[ReportFunction]) -> frozenset[ReportFunction]:
    found = set(designations)
    if role in (Role.ADMIN, Role.DIRECTOR):
        found.add(ReportFunction.DIRECTOR)
    return frozenset(found)


def parse_function(value: str) -> ReportFunction:
    try:
        return ReportFunction(value)
    except ValueError as exc:
        raise InvalidInput("report_function_invalid",
                           allowed=", ".join(f.value for f in ReportFunction)) from exc


@dataclass(frozen=True, slots=True)
class ReportContent:
    """What the reporter wrote: sealed as one JSON document under the report's data key."""

    what: str
    occurred_at: datetime
    discovered_at: datetime
    place: str
    affected_refs: tuple[str, ...] = ()
    affected_count: int = 0
    immediate_measures: str = ""
    reporter_id: str | None = None  # confidential mode only (sealed, never a column)

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "occurred_at": self.occurred_at.isoformat(),
                "discovered_at": self.discovered_at.isoformat(), "place": self.place,
                "affected_refs": list(self.affected_refs), "affected_count": self.affected_count,
                "immediate_measures": self.immediate_measures, "reporter_id": self.reporter_id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportContent:
        return cls(what=data["what"], occurred_at=datetime.fromisoformat(data["occurred_at"]),
                   discovered_at=datetime.fromisoformat(data["discovered_at"]), place=data["place"],
                   affected_refs=tuple(data.get("affected_refs") or ()),
                   affected_count=int(data.get("affected_count") or 0),
                   immediate_measures=data.get("immediate_measures") or "",
                   reporter_id=data.get("reporter_id"))


def _text(value: str | None, name: str, limit: int, *, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput("report_field_required", field=name)
    if len(text) > limit:
        raise InvalidInput("report_field_too_long", field=name, max=limit)
    if looks_like_national_id(text):
        raise InvalidInput("national_id_refused")
    return text


def moment(value: datetime | None, name: str, now: datetime) -> datetime:
    """A moment a person gives: required, with its time zone, not in the future (clock skew aside)."""
    if value is None:
        raise InvalidInput("report_field_required", field=name)
    if value.tzinfo is None:
        raise InvalidInput("report_time_needs_zone", field=name)
    if value > now + CLOCK_SKEW:
        raise InvalidInput("report_time_in_future", field=name)
    return value


def clean_refs(refs: Sequence[str]) -> tuple[str, ...]:
    if len(refs) > MAX_REFS:
        raise InvalidInput("report_too_many_refs", max=MAX_REFS)
    out = []
    for ref in refs:
        value = " ".join(str(ref).split())
        if not value:
            continue
        if len(value) > MAX_REF:
            raise InvalidInput("report_field_too_long", field="affected_refs", max=MAX_REF)
        if looks_like_national_id(value):
            raise InvalidInput("national_id_refused")
        out.append(value)
    return tuple(dict.fromkeys(out))


def clean_report(*, what: str | None, occurred_at: datetime | None, discovered_at: datetime | None,
                 place: str | None, affected_refs: Sequence[str] = (), affected_count: int | None = None,
                 immediate_measures: str | None = None, now: datetime) -> ReportContent:
    """Check a report as filed. The discovery defaults to the occurrence (the usual case at
    night: the fall is found when it happens); it cannot precede it."""
    occurred = moment(occurred_at, "occurred_at", now)
    discovered = moment(discovered_at or occurred, "discovered_at", now)
    if discovered < occurred:
        raise InvalidInput("report_discovery_before_occurrence")
    refs = clean_refs(affected_refs)
    count = len(refs) if affected_count is None else affected_count
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_AFFECTED:
        raise InvalidInput("report_field_invalid", field="affected_count")
    return ReportContent(what=_text(what, "what", MAX_TEXT, required=True), occurred_at=occurred,
                         discovered_at=discovered, place=_text(place, "place", MAX_SHORT, required=True),
                         affected_refs=refs, affected_count=max(count, len(refs)),
                         immediate_measures=_text(immediate_measures, "immediate_measures", MAX_TEXT))


def clean_long_text(value: str | None, name: str, *, required: bool = False) -> str:
    return _text(value, name, MAX_TEXT, required=required)


def clean_short_text(value: str | None, name: str, *, required: bool = False) -> str:
    return _text(value, name, MAX_SHORT, required=required)


@dataclass(frozen=True, slots=True)
class Qualification:
    severity: Severity
    categories: tuple[str, ...] = ()
    eigs: tuple[EigsCriterion, ...] = ()
    security: tuple[SecurityImpact, ...] = ()
    gdpr_breach: bool = False
    awareness_at: datetime | None = None
    note: str = ""  # sealed
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def essms(self) -> bool:
        return bool(self.categories)

    @property
    def regulatory(self) -> bool:
        return self.essms or bool(self.eigs) or bool(self.security) or self.gdpr_breach


def clean_qualification(*, severity: str, categories: Sequence[str], eigs: Sequence[str],
                        security: Sequence[str], gdpr_breach: bool, awareness_at: datetime | None,
                        note: str | None, received_at: datetime, now: datetime) -> Qualification:
    """Awareness defaults to when the report reached the organisation; it is when the GDPR
    72 hours and the "sans délai" duties start."""
    awareness = awareness_at or received_at
    if awareness.tzinfo is None:
        raise InvalidInput("report_time_needs_zone", field="awareness_at")
    if awareness > now + CLOCK_SKEW:
        raise InvalidInput("report_time_in_future", field="awareness_at")
    return Qualification(severity=parse_severity(severity), categories=parse_categories(list(categories)),
                         eigs=parse_eigs(list(eigs)), security=parse_security(list(security)),
                         gdpr_breach=bool(gdpr_breach), awareness_at=awareness,
                         note=clean_long_text(note, "note"))


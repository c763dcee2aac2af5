"""The deadlines a qualified event triggers, computed from when the organisation became aware
of it and from what has already been sent.

Time is kept in UTC and shown in Europe/Paris. Two kinds of delay exist in the texts:

* **Hours** (48 h written confirmation, GDPR 72 h) are elapsed time: ``awareness + 72 h`` in
  UTC. Across a daylight-saving change the wall clock in Paris therefore shows one hour more or
  less than at the start (72 h from Saturday 10:00 before the spring change end on Tuesday
  11:00): the regulator counts hours, not clock readings.
* **Months** (EIGS part 2 within 3 months) are calendar time in Europe/Paris: the same wall-clock
  time on the same day of the month three months later. A day that does not exist in the target
  month is clamped to its last day (30 November → 28 or 29 February; 31 May → 31 August). A
  wall-clock time that does not exist (spring-forward gap, 02:00–03:00) moves past the gap
  (02:30 → 03:30 CEST); an ambiguous one (autumn fall-back, 02:00–03:00 twice) takes the first
  occurrence, the earlier and therefore the safer deadline.
* **"Sans délai"** has no figure in the texts. Chevet shows it as due at once and, as an
  internal alert threshold only, flags it overdue ``IMMEDIATE_ALERT`` after awareness.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
IMMEDIATE_ALERT = timedelta(hours=24)
WRITTEN_CONFIRMATION = timedelta(hours=48)
GDPR_NOTIFICATION = timedelta(hours=72)
EIGS_ANALYSIS_MONTHS = 3


class FormKind(StrEnum):
    ESSMS = "essms"        # dysfonctionnement grave / événement (CASF L.331-8-1)
    EIGS_1 = "eigs_1"      # EIGS, volet 1 (CSP R.1413-68)
    EIGS_2 = "eigs_2"      # EIGS, volet 2: analyse et plan d'actions
    SECURITY = "security"  # incident de sécurité des SI (CSP L.1111-8-2)
    GDPR = "gdpr"          # violation de données personnelles (RGPD art. 33)


class Channel(StrEnum):
    PORTAL = "portal"
    EMAIL = "email"
    POST = "post"
    PHONE = "phone"
    OTHER = "other"


WRITTEN_CHANNELS = frozenset({Channel.PORTAL, Channel.EMAIL, Channel.POST})


class DeadlineKind(StrEnum):
    ESSMS_INFORM = "essms_inform"
    ESSMS_WRITTEN = "essms_written"
    EIGS_PART1 = "eigs_part1"
    EIGS_PART2 = "eigs_part2"
    SECURITY = "security"
    GDPR = "gdpr"


DEADLINE_LABELS = {
    DeadlineKind.ESSMS_INFORM: "Information des autorités (ARS, département) — sans délai",
    DeadlineKind.ESSMS_WRITTEN: "Confirmation écrite aux autorités — 48 h",
    DeadlineKind.EIGS_PART1: "EIGS volet 1 à l'ARS — sans délai",
    DeadlineKind.EIGS_PART2: "EIGS volet 2 (analyse, plan d'actions) — 3 mois",
    DeadlineKind.SECURITY: "Incident de sécurité SI à l'ARS / CERT Santé — sans délai",
    DeadlineKind.GDPR: "Notification de violation à la CNIL — 72 h",
}

DEADLINE_FORM = {
    DeadlineKind.ESSMS_INFORM: FormKind.ESSMS,
    DeadlineKind.ESSMS_WRITTEN: FormKind.ESSMS,
    DeadlineKind.EIGS_PART1: FormKind.EIGS_1,
    DeadlineKind.EIGS_PART2: FormKind.EIGS_2,
    DeadlineKind.SECURITY: FormKind.SECURITY,
    DeadlineKind.GDPR: FormKind.GDPR,
}


class DeadlineState(StrEnum):
    DUE = "due"
    OVERDUE = "overdue"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Submission:
    form: FormKind
    at: datetime
    channel: Channel


@dataclass(frozen=True, slots=True)
class Deadline:
    kind: DeadlineKind
    due_at: datetime          # UTC
    immediate: bool           # "sans délai": due_at is the moment of awareness
    done_at: datetime | None

    @property
    def alert_at(self) -> datetime:
        """When the deadline counts as missed."""
        return self.due_at + IMMEDIATE_ALERT if self.immediate else self.due_at

    def state(self, now: datetime) -> DeadlineState:
        if self.done_at is not None:
            return DeadlineState.DONE
        return DeadlineState.OVERDUE if now > self.alert_at else DeadlineState.DUE

    @property
    def met(self) -> bool | None:
        """Whether it was done in time (None while open)."""
        return None if self.done_at is None else self.done_at <= self.alert_at


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetime refused: deadlines need timezone-aware datetimes")
    return at.astimezone(UTC)


def add_months(at: datetime, months: int, tz: ZoneInfo = PARIS) -> datetime:
    """``at`` plus whole calendar months in ``tz`` (rules in the module docstring), in UTC."""
    local = _aware(at).astimezone(tz)
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    wall = local.replace(tzinfo=None, year=year, month=month, day=day, fold=0)
    # fold=0: a non-existent time is read with the offset before the gap (so it lands after it);
    # an ambiguous one is the first occurrence.
    return wall.replace(tzinfo=tz).astimezone(UTC)


def local_time(at: datetime, tz: ZoneInfo = PARIS) -> datetime:
    return _aware(at).astimezone(tz)


def compute(*, awareness_at: datetime, essms: bool, eigs: bool, security: bool, gdpr: bool,
            submissions: Sequence[Submission]) -> list[Deadline]:
    """Every deadline the qualification triggers, with what already fulfils it.

    The 48 h written confirmation runs from the first oral report when there was one (the text
    confirms an oral report), else from awareness. EIGS part 2 runs from the sending of part 1
    (or from awareness while part 1 is not sent)."""
    aware = _aware(awareness_at)
    by_form: dict[FormKind, list[Submission]] = {}
    for s in sorted(submissions, key=lambda s: _aware(s.at)):
        by_form.setdefault(s.form, []).append(s)

    def first(form: FormKind, written: bool = False) -> datetime | None:
        for s in by_form.get(form, []):
            if not written or s.channel in WRITTEN_CHANNELS:
                return _aware(s.at)
        return None

    out: list[Deadline] = []
    if essms:
        informed = first(FormKind.ESSMS)
        oral = next((_aware(s.at) for s in by_form.get(FormKind.ESSMS, [])
                     if s.channel not in WRITTEN_CHANNELS), None)
        out.append(Deadline(DeadlineKind.ESSMS_INFORM, aware, True, informed))
        out.append(Deadline(DeadlineKind.ESSMS_WRITTEN, (oral or aware) + WRITTEN_CONFIRMATION, False,
                            first(FormKind.ESSMS, written=True)))
    if eigs:
        part1 = first(FormKind.EIGS_1)
        out.append(Deadline(DeadlineKind.EIGS_PART1, aware, True, part1))
        out.append(Deadline(DeadlineKind.EIGS_PART2, add_months(part1 or aware, EIGS_ANALYSIS_MONTHS), False,
                            first(FormKind.EIGS_2)))
    if security:
        out.append(Deadline(DeadlineKind.SECURITY, aware, True, first(FormKind.SECURITY)))
    if gdpr:
        out.append(Deadline(DeadlineKind.GDPR, aware + GDPR_NOTIFICATION, False, first(FormKind.GDPR)))
    return out


def forms_required(*, essms: bool, eigs: bool, security: bool, gdpr: bool) -> list[FormKind]:
    kinds = []
    if essms:
        kinds.append(FormKind.ESSMS)
    if eigs:
        kinds += [FormKind.EIGS_1, FormKind.EIGS_2]
    if security:
        kinds.append(FormKind.SECURITY)
    if gdpr:
        kinds.append(FormKind.GDPR)
    return kinds


def summary(deadlines: Sequence[Deadline], now: datetime) -> Mapping[DeadlineState, int]:
    counts = dict.fromkeys(DeadlineState, 0)
    for d in deadlines:
        counts[d.state(now)] += 1
    return counts

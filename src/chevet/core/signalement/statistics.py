"""Figures for the annual quality report and the HAS evaluation: how many events, of which
kind and severity, where, month by month; whether the regulatory deadlines were met; how much
of the corrective action plans was completed. Only classification is counted, never content.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chevet.core.signalement.deadlines import local_time
from chevet.core.signalement.taxonomy import CATEGORY_BY_CODE, SEVERITY_LABELS, Severity

NOT_QUALIFIED = "non qualifié"
NO_UNIT = "sans unité"


@dataclass(frozen=True, slots=True)
class ReportFacts:
    received_at: datetime
    severity: Severity | None
    categories: tuple[str, ...]
    unit: str | None
    eigs: bool
    security: bool
    gdpr: bool
    deadlines_met: int = 0
    deadlines_missed: int = 0
    deadlines_open: int = 0
    actions_done: int = 0
    actions_total: int = 0


@dataclass
class Statistics:
    months: list[str]
    total: int = 0
    by_category: Counter[str] = field(default_factory=Counter)
    by_severity: Counter[str] = field(default_factory=Counter)
    by_unit: Counter[str] = field(default_factory=Counter)
    by_month_severity: dict[str, list[int]] = field(default_factory=dict)
    eigs: int = 0
    security: int = 0
    gdpr: int = 0
    deadlines_met: int = 0
    deadlines_missed: int = 0
    deadlines_open: int = 0
    actions_done: int = 0
    actions_total: int = 0


def month_range(start: datetime, end: datetime) -> list[str]:
    """The months (Paris time) from ``start`` included to ``end`` excluded."""
    a, b = local_time(start), local_time(end - timedelta(microseconds=1))
    out, y, m = [], a.year, a.month
    while (y, m) <= (b.year, b.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def severity_name(s: Severity | None) -> str:
    return SEVERITY_LABELS[s] if s is not None else NOT_QUALIFIED


def compute(facts: Sequence[ReportFacts], start: datetime, end: datetime) -> Statistics:
    st = Statistics(months=month_range(start, end))
    names = [*(SEVERITY_LABELS[s] for s in Severity), NOT_QUALIFIED]
    st.by_month_severity = {n: [0] * len(st.months) for n in names}
    index = {m: i for i, m in enumerate(st.months)}
    for f in facts:
        st.total += 1
        for code in f.categories:
            c = CATEGORY_BY_CODE[code]
            st.by_category[f"{c.number}° {c.label.split(' (')[0]}"] += 1
        sev = severity_name(f.severity)
        st.by_severity[sev] += 1
        st.by_unit[f.unit or NO_UNIT] += 1
        month = f"{local_time(f.received_at):%Y-%m}"
        if month in index:
            st.by_month_severity[sev][index[month]] += 1
        st.eigs += f.eigs
        st.security += f.security
        st.gdpr += f.gdpr
        st.deadlines_met += f.deadlines_met
        st.deadlines_missed += f.deadlines_missed
        st.deadlines_open += f.deadlines_open
        st.actions_done += f.actions_done
        st.actions_total += f.actions_total
    return st


def _cell(value: object) -> object:
    """Unit names come from users: never let a spreadsheet read one as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class _Writer:
    def __init__(self, buf: io.StringIO) -> None:
        self._w = csv.writer(buf, delimiter=";", lineterminator="\r\n")

    def writerow(self, row: list[object]) -> None:
        self._w.writerow([_cell(v) for v in row])


def to_csv(st: Statistics) -> str:
    """One row per figure: ``section;key;value`` (semicolons: what French spreadsheets expect)."""
    buf = io.StringIO()
    w = _Writer(buf)
    w.writerow(["rubrique", "clé", "valeur"])
    w.writerow(["total", "signalements", st.total])
    for name, counter in (("catégorie", st.by_category), ("gravité", st.by_severity), ("unité", st.by_unit)):
        for key, value in sorted(counter.items()):
            w.writerow([name, key, value])
    for sev, values in st.by_month_severity.items():
        for month, value in zip(st.months, values, strict=True):
            if value:
                w.writerow(["mois/gravité", f"{month} {sev}", value])
    for key, value in (("EIGS", st.eigs), ("incidents SI", st.security), ("violations RGPD", st.gdpr),
                       ("délais respectés", st.deadlines_met), ("délais dépassés", st.deadlines_missed),
                       ("délais en cours", st.deadlines_open), ("actions réalisées", st.actions_done),
                       ("actions prévues", st.actions_total)):
        w.writerow(["suivi", key, value])
    return buf.getvalue()

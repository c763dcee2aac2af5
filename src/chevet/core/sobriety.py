"""Sobriety arithmetic: storage growth by month and an honest footprint estimate.

Chevet measures volumes exactly (bytes stored, bytes saved); it only *estimates* greenhouse
gas figures, from factors that the operator can replace, each shown with its source, date and
scope. Where no sourced factor exists, no figure is invented: the estimate says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

GB = 1_000_000_000
MICROS_PER_DAY = 86_400_000_000


@dataclass(frozen=True, slots=True)
class Factor:
    """One emission factor as published, with where it comes from and what it covers."""

    name: str
    value: float | None
    unit: str
    source: str
    date: str
    scope: str


def default_factors(network_g_per_gb: float = 49.4, storage_g_per_gb_year: float | None = None,
                    storage_source: str = "") -> list[Factor]:
    """The factors Chevet ships with (see docs/sobriety.md for the references)."""
    return [
        Factor("mobile_network", network_g_per_gb, "gCO2e/GB",
               "ADEME, méthode transitoire opérateurs (décret 2021-1732)", "2022-2024",
               "Mobile networks and boxes only; not devices, not data centres. One source gives 49.2."),
        Factor("fixed_network", 0.0, "gCO2e/GB (marginal)",
               "ADEME, méthode transitoire opérateurs (décret 2021-1732): 4.1 kgCO2e per month per subscriber",
               "2022-2024",
               "Fixed access is counted per subscriber, not per GB: an extra byte costs about nothing. "
               "Used as the low end of the transfer range."),
        Factor("storage", storage_g_per_gb_year, "gCO2e/GB/year",
               storage_source or "No ADEME reference found; set footprint_storage_g_per_gb_year from "
                                 "ADEME Base Empreinte or NumEcoEval",
               "", "Servers and disks of the hosting; depends on the hoster (PUE, electricity mix)."),
    ]


@dataclass(frozen=True, slots=True)
class Range:
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"low": round_significant(self.low), "high": round_significant(self.high)}


def round_significant(value: float, digits: int = 2) -> float:
    """No false precision: estimates keep two significant digits."""
    if value == 0:
        return 0.0
    from math import floor, log10

    return round(value, -floor(log10(abs(value))) + (digits - 1))


@dataclass(frozen=True, slots=True)
class Estimate:
    """What the stored attachments cost and what the server's processing avoided, in grams
    of CO2e, as ranges; ``storage_per_year`` is None when no storage factor is configured."""

    transfer: Range
    avoided_transfer: Range
    storage_per_year: Range | None


def estimate(*, delivered_bytes: int, avoided_bytes: int, stored_bytes: int,
             factors: Sequence[Factor]) -> Estimate:
    """``delivered_bytes`` is an upper bound of what recipients download (each stored file once
    per other member); ``avoided_bytes`` the same for the bytes compression and deduplication
    removed. Transfer ranges go from fixed access (marginal ≈ 0) to mobile networks."""
    by_name = {f.name: f for f in factors}
    mobile = by_name["mobile_network"].value or 0.0
    fixed = by_name["fixed_network"].value or 0.0
    storage = by_name["storage"].value

    def _range(nbytes: int, low: float, high: float) -> Range:
        return Range(nbytes / GB * low, nbytes / GB * high)

    return Estimate(
        transfer=_range(delivered_bytes, fixed, mobile),
        avoided_transfer=_range(avoided_bytes, fixed, mobile),
        storage_per_year=None if storage is None else _range(stored_bytes, storage * 0.5, storage * 2),
    )


def month_of(day_number: int) -> date:
    """The first day of the month of a day counted since 1970-01-01 (UTC)."""
    d = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day_number)).date()
    return d.replace(day=1)


def months_back(today: date, count: int) -> list[date]:
    """The first days of the ``count`` months ending with ``today``'s, oldest first."""
    out = []
    year, month = today.year, today.month
    for _ in range(count):
        out.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(out))


def cumulative_by_month(daily: Iterable[tuple[int, int]], months: Sequence[date]) -> list[int]:
    """Total size at the end of each month, from (day number, bytes added that day) pairs.
    Bytes added before the first month count in the starting total."""
    added: dict[date, int] = {}
    before = 0
    first = months[0]
    for day, nbytes in daily:
        m = month_of(int(day))
        if m < first:
            before += int(nbytes)
        else:
            added[m] = added.get(m, 0) + int(nbytes)
    out, total = [], before
    for m in months:
        total += added.get(m, 0)
        out.append(total)
    return out

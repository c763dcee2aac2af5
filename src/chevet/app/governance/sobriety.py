"""The sobriety dashboard: what the organisation stores, how it grows, what the server's
processing saved, and an honest estimate of the footprint, for administrators and the DPO.

Volumes are measured (sums over the database); greenhouse-gas figures are ranges computed from
the configured factors, each returned with its source, date and scope.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from typing_extensions import TypedDict

from chevet.app.access import require
from chevet.app.attachments.upload import configured
from chevet.app.governance.retention import RetentionPreviewView, next_month_preview
from chevet.app.services import Actor, Services
from chevet.core import sobriety
from chevet.core.roles import Permission
from chevet.core.spreadsheet import safe_cell
from chevet.ports import Transaction

KINDS = ("text", "image", "document")
MONTHS = 12


class OrganisationRef(TypedDict):
    id: str
    name: str


class QuotaView(TypedDict):
    organisation_bytes: int
    used_bytes: int
    remaining_bytes: int


class StorageView(TypedDict):
    by_kind: dict[str, int]
    total: int
    attachments_by_variant: dict[str, int]
    quota: QuotaView


TeamStorage = dict[str, int | str | None]
"""A team's stored bytes: ``team_id`` and ``team`` (None: no team), a number per kind (KINDS), ``total``."""


class GrowthView(TypedDict):
    months: list[str]
    bytes: dict[str, list[int]]
    note: str


class SavingsView(TypedDict):
    uploaded_bytes: int
    saved_by_processing_bytes: int
    saved_by_dedup_bytes: int
    attachments: int
    deduplicated_attachments: int



class RangeView(TypedDict):
    low: float
    high: float


class EstimateView(TypedDict):
    transfer: RangeView
    avoided_transfer: RangeView
    storage_per_year: RangeView | None


class VolumesView(TypedDict):
    delivered_bytes_upper_bound: int
    avoided_delivery_bytes: int


class FactorView(TypedDict):
    name: str
    value: float | None
    unit: str
    source: str
    date: str
    scope: str


class FootprintView(TypedDict):
    estimate_gco2e: EstimateView
    volumes: VolumesView
    factors: list[FactorView]
    caveats: list[str]


class SobrietyView(TypedDict):
    organisation: OrganisationRef
    generated_at: str
    storage: StorageView
    by_team: list[TeamStorage]
    growth: GrowthView
    savings: SavingsView
    retention_next_month: RetentionPreviewView
    footprint: FootprintView


async def _teams(tx: Transaction, actor: Actor) -> list[TeamStorage]:
    names = {t.id: t.name for t in await tx.teams.all(actor.org_id)}
    rows = []
    for team_id, kinds in (await tx.attachments.stored_by_team(actor.org_id)).items():
        row: TeamStorage = {"team_id": str(team_id) if team_id else None,
                               "team": names.get(team_id, "") if team_id else None}
        row.update({k: kinds.get(k, 0) for k in KINDS})
        row["total"] = sum(kinds.get(k, 0) for k in KINDS)
        rows.append(row)
    rows.sort(key=lambda r: (r["team_id"] is None, -int(r["total"] or 0)))
    return rows


async def dashboard(services: Services, actor: Actor) -> SobrietyView:
    """Every figure of the dashboard, as plain numbers (bytes, grams CO2e) and texts."""
    require(actor, Permission.VIEW_SOBRIETY)
    cfg = configured(services)
    today = services.clock.now().date()
    async with services.db.transaction() as tx:
        by_kind = await tx.attachments.stored_by_kind(actor.org_id)
        variants = await tx.attachments.variants(actor.org_id)
        teams = await _teams(tx, actor)
        daily = await tx.attachments.daily_growth(actor.org_id)
        savings = await tx.attachments.savings(actor.org_id)
        rules = await tx.attachments.rules(actor.org_id)
        report_files = await tx.reports.file_usage(actor.org_id)
    months = sobriety.months_back(today, MONTHS)
    growth = {k: sobriety.cumulative_by_month(daily.get(k, []), months) for k in KINDS}
    stored = {k: by_kind.get(k, 0) for k in KINDS}
    # What the organisation's quota counts: conversation files and adverse-event report files.
    quota_used = stored["image"] + stored["document"] + report_files
    factors = sobriety.default_factors(cfg.footprint.network_g_per_gb, cfg.footprint.storage_g_per_gb_year,
                                       cfg.footprint.storage_source)
    est = sobriety.estimate(delivered_bytes=savings["delivered"], avoided_bytes=savings["avoided_delivery"],
                            stored_bytes=sum(stored.values()), factors=factors)
    org_quota = rules.org_quota_bytes if rules.org_quota_bytes is not None else cfg.limits.quota_org_bytes
    retention: RetentionPreviewView = await next_month_preview(services, actor)
    return {
        "organisation": {"id": str(actor.org_id), "name": actor.organisation.name},
        "generated_at": services.clock.now().isoformat(),
        "storage": {"by_kind": stored, "total": sum(stored.values()),
                    "attachments_by_variant": variants,
                    "quota": {"organisation_bytes": org_quota, "used_bytes": quota_used,
                              "remaining_bytes": max(0, org_quota - quota_used)}},
        "by_team": teams,
        "growth": {"months": [m.strftime("%Y-%m") for m in months], "bytes": growth,
                   "note": "Cumulative size at the end of each month of what is stored today "
                           "(deleted content no longer counts)."},
        "savings": {"uploaded_bytes": savings["uploaded"], "saved_by_processing_bytes": savings["saved_by_processing"],
                    "saved_by_dedup_bytes": savings["saved_by_dedup"], "attachments": savings["attachments"],
                    "deduplicated_attachments": savings["deduplicated"]},
        "retention_next_month": retention,
        "footprint": {
            "estimate_gco2e": {
                "transfer": _range(est.transfer),
                "avoided_transfer": _range(est.avoided_transfer),
                "storage_per_year": _range(est.storage_per_year) if est.storage_per_year else None,
            },
            "volumes": {"delivered_bytes_upper_bound": savings["delivered"],
                        "avoided_delivery_bytes": savings["avoided_delivery"]},
            "factors": [{"name": f.name, "value": f.value, "unit": f.unit, "source": f.source, "date": f.date,
                         "scope": f.scope} for f in factors],
            "caveats": [
                "Estimates, not measurements: two significant digits, ranges from fixed to mobile access.",
                "Transfers assume each member downloads each file once (an upper bound); text is not counted.",
                "Network factors cover networks and boxes only, not devices nor data centres.",
                "No storage figure is shown unless a sourced storage factor is configured.",
            ],
        },
    }


def _range(r: sobriety.Range) -> RangeView:
    rounded = r.as_dict()
    return {"low": rounded["low"], "high": rounded["high"]}


def to_csv(figures: Mapping[str, Any]) -> str:
    """The dashboard as rows (section, item, value, unit), for a spreadsheet."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["section", "item", "value", "unit"])
    st = figures["storage"]
    for kind, value in st["by_kind"].items():
        w.writerow(["storage", kind, value, "bytes"])
    w.writerow(["storage", "total", st["total"], "bytes"])
    for variant, value in sorted(st["attachments_by_variant"].items()):
        w.writerow(["storage_variant", variant, value, "bytes"])
    for key, value in st["quota"].items():
        w.writerow(["quota", key, value, "bytes"])
    for row in figures["by_team"]:
        label = safe_cell(row["team"] if row["team_id"] else "(sans équipe / no team)")
        for kind in (*KINDS, "total"):
            w.writerow(["team", f"{label} / {kind}", row[kind], "bytes"])
    months = figures["growth"]["months"]
    for kind, values in figures["growth"]["bytes"].items():
        for month, value in zip(months, values, strict=True):
            w.writerow(["growth", f"{month} / {kind}", value, "bytes"])
    for key, value in figures["savings"].items():
        w.writerow(["savings", key, value, "bytes" if key.endswith("_bytes") else "count"])
    for key, rng in figures["footprint"]["estimate_gco2e"].items():
        if rng is None:
            w.writerow(["footprint", key, "", "no sourced factor"])
        else:
            w.writerow(["footprint", f"{key} (low)", rng["low"], "gCO2e"])
            w.writerow(["footprint", f"{key} (high)", rng["high"], "gCO2e"])
    for f in figures["footprint"]["factors"]:
        w.writerow(["factor", f["name"], "" if f["value"] is None else f["value"], f["unit"]])
        w.writerow(["factor_source", f["name"], safe_cell(f"{f['source']} ({f['date']})"), ""])
    return out.getvalue()




async def installation_usage(services: Services) -> list[dict[str, Any]]:
    """Stored attachment bytes per organisation, for the installation's operator (CLI)."""
    async with services.db.transaction() as tx:
        orgs = await tx.organisations.all()
        usage = await tx.attachments.orgs_usage()
    return [{"organisation": o.slug, "attachment_bytes": usage.get(o.id, 0)} for o in orgs]

"""The sobriety dashboard as a page of the console (administrators, the DPO, the director): the
same figures as the API, a server-rendered chart with its data table, the factors and their
sources beside the estimates. Every word comes from the catalogs and every figure, size and
moment goes through Babel (``chevet.web.formats``), so the French page is French throughout
and the English page English."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from chevet.app.governance import sobriety
from chevet.core.sobriety import round_significant
from chevet.web import formats
from chevet.web.api.sobriety import growth_svg
from chevet.web.charts import format_bytes
from chevet.web.i18n import gettext
from chevet.web.pages.page import signed_in, ui

router = APIRouter(include_in_schema=False)

# The factors Chevet ships with: their notes are in the catalogs. A factor the operator sets
# (the storage one) keeps the source the operator wrote.
SHIPPED_SOURCES = frozenset({"mobile_network", "fixed_network"})


def grams(value: float, lang: str) -> str:
    """« 120 g », « 1,3 kg »: two significant digits, never « 1.2e+02 »."""
    v = round_significant(value)
    if abs(v) >= 1000:
        return f"{formats.number(round_significant(v / 1000), lang, digits=1 if v < 10_000 else 0)} kg"
    digits = 0 if abs(v) >= 10 or v == 0 else (1 if abs(v) >= 1 else 3)
    return f"{formats.number(v, lang, digits=digits)} g"


def context(figures: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """What the template shows, as texts in the reader's language."""
    def t(key: str, **params: Any) -> str:
        return gettext(key, lang, **params)

    def b(n: float) -> str:
        return format_bytes(n, lang)

    def n(value: float) -> str:
        return formats.number(value, lang)

    kinds = sobriety.KINDS
    st = figures["storage"]
    total = st["total"] or 1
    storage_rows = [[t(f"sobriety.kind.{k}"), b(st["by_kind"][k]), f"{n(round(100 * st['by_kind'][k] / total))} %"]
                    for k in kinds]
    storage_rows.append([t("sobriety.total"), b(st["total"]), "100 %" if st["total"] else "0 %"])
    growth = figures["growth"]
    months = [formats.month(date.fromisoformat(m + "-01"), lang) for m in growth["months"]]
    sv, fp, quota = figures["savings"], figures["footprint"], st["quota"]
    est = fp["estimate_gco2e"]

    def estimate(rng: Mapping[str, float] | None) -> str:
        if rng is None:
            return t("sobriety.no_factor")
        return t("sobriety.range", low=grams(rng["low"], lang), high=grams(rng["high"], lang))

    def factor_row(f: Mapping[str, Any]) -> list[str]:
        name = f["name"]
        value = "—" if f["value"] is None else \
            f"{formats.number(f['value'], lang, digits=1)} {t(f'sobriety.unit.{name}')}"
        if name in SHIPPED_SOURCES:
            source = t(f"sobriety.source.{name}")
        elif f["value"] is None:
            source = t("sobriety.source.storage_missing")
        else:
            source = f["source"]
        period = (f["date"] or "—").replace("-", "–")
        return [t(f"sobriety.factor.{name}"), value, source, period, t(f"sobriety.scope.{name}")]

    retention = figures["retention_next_month"]
    return {
        "kinds": kinds,
        "storage_rows": storage_rows,
        "quota_text": t("sobriety.quota", used=b(quota["used_bytes"]), quota=b(quota["organisation_bytes"]),
                        remaining=b(quota["remaining_bytes"])),
        "team_rows": [[r["team"] if r["team_id"] else t("sobriety.no_team"), *[b(r[k]) for k in kinds],
                       b(r["total"])] for r in figures["by_team"]],
        "chart": Markup(growth_svg(figures, lang)),  # noqa: S704 - built by charts.py, every text escaped
        "growth_rows": [[m, *[b(growth["bytes"][k][i]) for k in kinds]] for i, m in enumerate(months)],
        "processing_text": t("sobriety.savings.processing", size=b(sv["saved_by_processing_bytes"]),
                             uploaded=b(sv["uploaded_bytes"])),
        "dedup_text": t("sobriety.savings.dedup", size=b(sv["saved_by_dedup_bytes"]),
                        count=n(sv["deduplicated_attachments"])),
        "retention_text": t("sobriety.retention.summary", conversations=n(retention.get("conversations", 0)),
                            messages=n(retention.get("messages", 0)), attachments=n(retention.get("attachments", 0)),
                            size=b(retention.get("attachment_bytes", 0))),
        "estimate_rows": [[t("sobriety.footprint.transfer"), estimate(est["transfer"])],
                          [t("sobriety.footprint.avoided"), estimate(est["avoided_transfer"])],
                          [t("sobriety.footprint.storage"), estimate(est["storage_per_year"])]],
        "factor_rows": [factor_row(f) for f in fp["factors"]],
        "caveats": [t(f"sobriety.caveat.{i}") for i, _ in enumerate(fp["caveats"], 1)],
        "generated": formats.moment(datetime.fromisoformat(figures["generated_at"]), lang),
    }


@router.get("/admin/sobriety")
@ui
async def sobriety_page(request: Request) -> Response:
    p = await signed_in(request)
    figures = await sobriety.dashboard(p.services, p.actor)
    response = p.render("sobriety.html", title=p.t("sobriety.title"), section="sobriety",
                        **context(figures, p.lang))
    response.headers["Cache-Control"] = "private, no-store"
    return response

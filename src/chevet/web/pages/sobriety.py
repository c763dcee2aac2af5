"""The sobriety dashboard as a page of the web client (administrators and the DPO): the same
figures as the API, a server-rendered chart with its data table, the factors and their
sources beside the estimates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from chevet.app.governance import sobriety
from chevet.web import formats
from chevet.web.api.sobriety import growth_svg
from chevet.web.charts import format_bytes
from chevet.web.i18n import gettext
from chevet.web.pages.page import signed_in, ui

router = APIRouter(include_in_schema=False)


def _grams(value: float, lang: str) -> str:
    text = f"{value / 1000:.2g} kg" if value >= 1000 else f"{value:.2g} g"
    return text.replace(".", ",") if lang == "fr" else text


def context(figures: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """What the template shows, as texts in the reader's language."""
    def t(key: str, **params: Any) -> str:
        return gettext(key, lang, **params)

    def b(n: float) -> str:
        return format_bytes(n, lang)

    def translated(key: str, fallback: str) -> str:
        text = t(key)
        return fallback if text == key else text

    kinds = sobriety.KINDS
    st = figures["storage"]
    total = st["total"] or 1
    storage_rows = [[t(f"sobriety.kind.{k}"), b(st["by_kind"][k]), f"{round(100 * st['by_kind'][k] / total)} %"]
                    for k in kinds]
    storage_rows.append([t("sobriety.total"), b(st["total"]), "100 %" if st["total"] else "0 %"])
    growth = figures["growth"]
    months = sobriety.month_labels(growth["months"])
    sv, fp, quota = figures["savings"], figures["footprint"], st["quota"]
    est = fp["estimate_gco2e"]

    def grams(rng: dict[str, float] | None) -> str:
        if rng is None:
            return t("sobriety.no_factor")
        return t("sobriety.range", low=_grams(rng["low"], lang), high=_grams(rng["high"], lang))

    retention = figures["retention_next_month"]
    retention_text = t("sobriety.retention.summary", conversations=retention.get("conversations", 0),
                       messages=retention.get("messages", 0), attachments=retention.get("attachments", 0),
                       size=b(retention.get("attachment_bytes", 0))) if retention.get("available") \
        else t("sobriety.retention.unavailable")
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
                        count=sv["deduplicated_attachments"]),
        "retention_available": bool(retention.get("available")),
        "retention_text": retention_text,
        "estimate_rows": [[t("sobriety.footprint.transfer"), grams(est["transfer"])],
                          [t("sobriety.footprint.avoided"), grams(est["avoided_transfer"])],
                          [t("sobriety.footprint.storage"), grams(est["storage_per_year"])]],
        "factor_rows": [[translated(f"sobriety.factor.{f['name']}", f["name"]),
                         "—" if f["value"] is None else f"{f['value']} {f['unit']}", f["source"], f["date"] or "—",
                         translated(f"sobriety.scope.{f['name']}", f["scope"])] for f in fp["factors"]],
        "caveats": [translated(f"sobriety.caveat.{i}", c) for i, c in enumerate(fp["caveats"], 1)],
        "generated": formats.moment(datetime.fromisoformat(figures["generated_at"]), lang),
    }


@router.get("/admin/sobriety")
@ui
async def sobriety_page(request: Request) -> Response:
    p = await signed_in(request)
    figures = await sobriety.dashboard(p.services, p.actor)
    response = p.render("sobriety.html", **context(figures, p.lang))
    response.headers["Cache-Control"] = "private, no-store"
    return response

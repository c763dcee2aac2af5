"""The sobriety dashboard's figures: JSON, CSV export, and the growth chart as SVG."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.governance import sobriety
from chevet.web.api.openapi import answers
from chevet.web.charts import Series, format_bytes, line_chart
from chevet.web.deps import ActorDep, ServicesDep
from chevet.web.formats import month
from chevet.web.i18n import gettext, negotiate

router = APIRouter(tags=["sobriety"])

SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"


def growth_svg(figures: Mapping[str, Any], lang: str) -> str:
    growth = figures["growth"]
    labels = [month(date.fromisoformat(m + "-01"), lang) for m in growth["months"]]
    series = [Series(gettext(f"sobriety.kind.{k}", lang), growth["bytes"][k]) for k in sobriety.KINDS]
    last = {k: format_bytes(growth["bytes"][k][-1], lang) for k in sobriety.KINDS}
    description = gettext("sobriety.chart.desc", lang, months=len(labels), text=last["text"], image=last["image"],
                          document=last["document"])
    return line_chart(chart_id="growth", title=gettext("sobriety.chart.title", lang), description=description,
                      labels=labels, series=series, format_value=lambda v: format_bytes(v, lang),
                      minimum_top=1000)


@router.get("/admin/sobriety")
async def dashboard(actor: ActorDep, svc: ServicesDep) -> sobriety.SobrietyView:
    """Storage per kind and team, growth, savings, retention preview and footprint estimate
    (with the factors' sources). Administrators and the DPO."""
    return await sobriety.dashboard(svc, actor)


@router.get("/admin/sobriety.csv", response_class=Response, responses=answers("text/csv", text=True))
async def dashboard_csv(actor: ActorDep, svc: ServicesDep) -> Response:
    figures = await sobriety.dashboard(svc, actor)
    day = figures["generated_at"][:10]
    return Response(sobriety.to_csv(figures), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="sobriete-{actor.organisation.slug}-{day}.csv"',
        "Cache-Control": "private, no-store"})


@router.get("/admin/sobriety/growth.svg", response_class=Response,
            responses=answers("image/svg+xml", text=True))
async def growth(request: Request, actor: ActorDep, svc: ServicesDep) -> Response:
    figures = await sobriety.dashboard(svc, actor)
    lang = negotiate(request.headers.get("accept-language"), actor.person.language)
    return Response(growth_svg(figures, lang), media_type="image/svg+xml", headers={
        "Content-Security-Policy": SVG_CSP, "Cache-Control": "private, no-store"})

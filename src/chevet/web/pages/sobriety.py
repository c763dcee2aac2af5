"""The sobriety dashboard as a page (administrators and the DPO): the same figures as the
API, a server-rendered chart with its data table, the factors and their sources beside the
estimates. No script; one small stylesheet from this server."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from chevet.app import sobriety
from chevet.web.api.sobriety import growth_svg
from chevet.web.charts import format_bytes
from chevet.web.deps import ActorDep, ServicesDep
from chevet.web.i18n import gettext, negotiate

router = APIRouter(include_in_schema=False)

CSS = """body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#111;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}caption{text-align:left;font-weight:600}
svg{max-width:100%;height:auto}.note{color:#444;font-size:.9rem}a{color:#1f4e79}
a:focus,summary:focus{outline:3px solid #8a3b12;outline-offset:2px}
"""


def _table(caption: str, head: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    out = [f"<table><caption>{escape(caption)}</caption><thead><tr>"]
    out += [f'<th scope="col">{escape(h)}</th>' for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        cells = [f'<th scope="row">{escape(row[0])}</th>']
        cells += [f'<td class="n">{escape(c)}</td>' if i >= numeric_from else f"<td>{escape(c)}</td>"
                  for i, c in enumerate(row[1:], 1)]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render(figures: dict[str, Any], lang: str) -> str:
    def t(key: str, **params: Any) -> str:
        return gettext(key, lang, **params)

    def b(n: float) -> str:
        return format_bytes(n, lang)

    st = figures["storage"]
    kinds = sobriety.KINDS
    total = st["total"] or 1
    storage_rows = [[t(f"sobriety.kind.{k}"), b(st["by_kind"][k]), f"{round(100 * st['by_kind'][k] / total)} %"]
                    for k in kinds]
    storage_rows.append([t("sobriety.total"), b(st["total"]), "100 %" if st["total"] else "0 %"])
    team_rows = [[r["team"] if r["team_id"] else t("sobriety.no_team"), *[b(r[k]) for k in kinds], b(r["total"])]
                 for r in figures["by_team"]]
    growth = figures["growth"]
    months = sobriety.month_labels(growth["months"])
    growth_rows = [[m, *[b(growth["bytes"][k][i]) for k in kinds]] for i, m in enumerate(months)]
    sv = figures["savings"]
    fp = figures["footprint"]
    est = fp["estimate_gco2e"]

    def grams(rng: dict[str, float] | None) -> str:
        if rng is None:
            return t("sobriety.no_factor")
        return t("sobriety.range", low=_g(rng["low"], lang), high=_g(rng["high"], lang))

    def translated(key: str, fallback: str) -> str:
        text = t(key)
        return fallback if text == key else text

    factor_rows = [[translated(f"sobriety.factor.{f['name']}", f["name"]),
                    "—" if f["value"] is None else f"{f['value']} {f['unit']}", f["source"], f["date"] or "—",
                    translated(f"sobriety.scope.{f['name']}", f["scope"])] for f in fp["factors"]]
    caveats = [translated(f"sobriety.caveat.{i}", c) for i, c in enumerate(fp["caveats"], 1)]
    retention = figures["retention_next_month"]
    if retention.get("available"):
        summary = t("sobriety.retention.summary", conversations=retention.get("conversations", 0),
                    messages=retention.get("messages", 0), attachments=retention.get("attachments", 0),
                    size=b(retention.get("attachment_bytes", 0)))
        retention_html = f"<p>{escape(summary)}</p>"
    else:
        retention_html = f'<p class="note">{escape(t("sobriety.retention.unavailable"))}</p>'
    quota = st["quota"]
    quota_text = t("sobriety.quota", used=b(quota["used_bytes"]), quota=b(quota["organisation_bytes"]),
                   remaining=b(quota["remaining_bytes"]))
    processing_text = t("sobriety.savings.processing", size=b(sv["saved_by_processing_bytes"]),
                        uploaded=b(sv["uploaded_bytes"]))
    dedup_text = t("sobriety.savings.dedup", size=b(sv["saved_by_dedup_bytes"]), count=sv["deduplicated_attachments"])
    parts = [
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(t("sobriety.title"))} — {escape(figures["organisation"]["name"])}</title>'
        '<link rel="stylesheet" href="/admin/sobriety/page.css"></head><body><main>',
        f'<h1>{escape(t("sobriety.title"))} — {escape(figures["organisation"]["name"])}</h1>',
        f'<p class="note">{escape(t("sobriety.intro"))}</p>',
        f'<h2 id="stockage">{escape(t("sobriety.storage"))}</h2>',
        _table(t("sobriety.storage.caption"), [t("sobriety.kind"), t("sobriety.size"), t("sobriety.share")],
               storage_rows),
        f"<p>{escape(quota_text)}</p>",
        f'<h2 id="equipes">{escape(t("sobriety.teams"))}</h2>',
        _table(t("sobriety.teams.caption"), [t("sobriety.team"), *[t(f"sobriety.kind.{k}") for k in kinds],
                                             t("sobriety.total")], team_rows)
        if team_rows else f'<p class="note">{escape(t("sobriety.empty"))}</p>',
        f'<h2 id="croissance">{escape(t("sobriety.growth"))}</h2>',
        f"<figure>{growth_svg(figures, lang)}<figcaption class=\"note\">{escape(t('sobriety.growth.note'))}"
        "</figcaption></figure>",
        f"<details><summary>{escape(t('sobriety.growth.table'))}</summary>"
        + _table(t("sobriety.growth"), [t("sobriety.month"), *[t(f"sobriety.kind.{k}") for k in kinds]],
                 growth_rows) + "</details>",
        f'<h2 id="economies">{escape(t("sobriety.savings"))}</h2><ul>',
        f"<li>{escape(processing_text)}</li><li>{escape(dedup_text)}</li>",
        "</ul>",
        f'<h2 id="conservation">{escape(t("sobriety.retention"))}</h2>', retention_html,
        f'<h2 id="empreinte">{escape(t("sobriety.footprint"))}</h2>',
        _table(t("sobriety.footprint.caption"), [t("sobriety.estimate"), t("sobriety.value")], [
            [t("sobriety.footprint.transfer"), grams(est["transfer"])],
            [t("sobriety.footprint.avoided"), grams(est["avoided_transfer"])],
            [t("sobriety.footprint.storage"), grams(est["storage_per_year"])],
        ]),
        _table(t("sobriety.factors"), [t("sobriety.factor"), t("sobriety.value"), t("sobriety.source"),
                                       t("sobriety.date"), t("sobriety.scope")], factor_rows, numeric_from=99),
        "<ul class=\"note\">" + "".join(f"<li>{escape(c)}</li>" for c in caveats) + "</ul>",
        f'<h2 id="donnees">{escape(t("sobriety.data"))}</h2><ul>'
        f'<li><a href="/api/v1/admin/sobriety.csv" download>{escape(t("sobriety.csv"))}</a></li>'
        f'<li><a href="/api/v1/admin/sobriety">{escape(t("sobriety.json"))}</a></li>'
        f'<li><a href="/api/v1/admin/sobriety/growth.svg">{escape(t("sobriety.svg"))}</a></li></ul>',
        f'<p class="note">{escape(t("sobriety.generated", at=figures["generated_at"][:16].replace("T", " ")))} UTC</p>',
        "</main></body></html>",
    ]
    return "".join(parts)


def _g(value: float, lang: str) -> str:
    if value >= 1000:
        text = f"{value / 1000:.2g} kg"
    else:
        text = f"{value:.2g} g"
    return text.replace(".", ",") if lang == "fr" else text


@router.get("/admin/sobriety", response_class=HTMLResponse)
async def page(request: Request, actor: ActorDep, svc: ServicesDep) -> HTMLResponse:
    figures = await sobriety.dashboard(svc, actor)
    lang = negotiate(request.headers.get("accept-language"), actor.person.language)
    return HTMLResponse(render(figures, lang), headers={"Cache-Control": "private, no-store",
                                                        "Content-Language": lang})


@router.get("/admin/sobriety/page.css")
async def stylesheet() -> Response:
    return Response(CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=86400"})

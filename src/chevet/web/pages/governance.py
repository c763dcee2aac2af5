"""Governance pages for the DPO and managers: access traces (with filters and a CSV link),
the breach log with its 72-hour deadlines, the processing register.

Standalone pages until the web client's base template is available: server-rendered, French
first, no script at all, one small same-origin stylesheet (the CSP forbids inline styles)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, select_autoescape

from chevet.app.governance import audit_trail, gdpr
from chevet.app.identity import people as identity_people
from chevet.app.services import Actor, Services
from chevet.core.errors import AuthenticationFailed, ChevetError, Forbidden
from chevet.web.api.governance import trace_query
from chevet.web.deps import actor as current_actor
from chevet.web.deps import services as current_services
from chevet.web.i18n import gettext, negotiate

router = APIRouter(prefix="/gouvernance", include_in_schema=False)
_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

CSS = """body{font-family:system-ui,sans-serif;margin:1rem auto;max-width:72rem;padding:0 1rem;color:#1a1a1a}
nav a{margin-right:1rem}form{display:flex;flex-wrap:wrap;gap:.75rem;align-items:end;margin:1rem 0}
label{display:flex;flex-direction:column;font-size:.9rem}input,select,button{font:inherit;padding:.3rem}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;
vertical-align:top}code{font-size:.85rem;word-break:break-all}.overdue{color:#a00000;font-weight:bold}
:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}
"""

_LAYOUT = """<!doctype html><html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }} — Chevet</title>
<link rel="stylesheet" href="/gouvernance/style.css"></head><body>
<nav aria-label="Gouvernance"><a href="/gouvernance/traces">{{ t("gov.nav.traces") }}</a>
<a href="/gouvernance/violations">{{ t("gov.nav.breaches") }}</a>
<a href="/api/v1/gdpr/register?format=html">{{ t("gov.nav.register") }}</a></nav>
<main><h1>{{ title }}</h1>{% block main %}{% endblock %}</main></body></html>"""

_TRACES = _ENV.from_string(_LAYOUT.replace("{% block main %}{% endblock %}", """
<p>{{ t("gov.traces.intro") }}</p>
<form method="get" action="/gouvernance/traces" role="search">
<label>{{ t("gov.traces.conversation") }}<input name="conversation_id" value="{{ q.conversation_id or '' }}"
 size="36" pattern="[0-9a-fA-F-]{36}"></label>
<label>{{ t("gov.traces.person") }}<select name="person_id"><option value="">{{ t("gov.traces.anyone") }}</option>
{% for p in people %}<option value="{{ p.id }}"{% if q.person_id == p.id|string %} selected{% endif %}>
{{- p.name }}</option>
{% endfor %}</select></label>
<label>{{ t("gov.traces.action") }}<input name="action" value="{{ q.action or '' }}"></label>
<label>{{ t("gov.traces.from") }}<input type="date" name="from" value="{{ q['from'] or '' }}"></label>
<label>{{ t("gov.traces.to") }}<input type="date" name="to" value="{{ q.to or '' }}"></label>
<button type="submit">{{ t("gov.traces.search") }}</button></form>
{% if error %}<p role="alert">{{ error }}</p>{% endif %}
<p><a href="/api/v1/audit/traces?{{ csv_query }}" download>{{ t("gov.traces.csv") }}</a></p>
{% if rows %}<table><caption>{{ t("gov.traces.count", count=rows|length) }}</caption><thead><tr>
<th scope="col">{{ t("gov.col.at") }}</th><th scope="col">{{ t("gov.col.actor") }}</th>
<th scope="col">{{ t("gov.col.action") }}</th><th scope="col">{{ t("gov.col.object") }}</th>
<th scope="col">{{ t("gov.col.ip") }}</th><th scope="col">{{ t("gov.col.detail") }}</th></tr></thead><tbody>
{% for r in rows %}<tr><td>{{ r.at }}</td><td>{{ r.actor_name or r.actor_id or "—" }}</td><td>{{ r.action }}</td>
<td>{{ r.object_type }} {{ r.object_name or "" }}<br><code>{{ r.object_id or "" }}</code></td><td>{{ r.ip or "" }}</td>
<td><code>{{ r.detail|tojson }}</code></td></tr>{% endfor %}</tbody></table>
{% elif not error %}<p>{{ t("gov.traces.none") }}</p>{% endif %}"""))

_BREACHES = _ENV.from_string(_LAYOUT.replace("{% block main %}{% endblock %}", """
{% if breaches %}<table><thead><tr><th scope="col">{{ t("gov.col.at") }}</th><th scope="col">Nature</th>
<th scope="col">{{ t("gov.breaches.deadline") }}</th></tr></thead><tbody>
{% for b in breaches %}<tr><td>{{ b.discovered_at }}</td><td>{{ b.nature }}</td><td>
{% if b.authority_notified_at %}{{ t("gov.breaches.notified") }} {{ b.authority_notified_at }}
{% elif b.overdue %}<span class="overdue">{{ t("gov.breaches.overdue") }} ({{ b.deadline }})</span>
{% else %}{{ b.deadline }} — {{ t("gov.breaches.hours_left", hours=b.hours_left) }}{% endif %}</td></tr>
{% endfor %}</tbody></table>{% else %}<p>{{ t("gov.breaches.none") }}</p>{% endif %}"""))

_MESSAGE = _ENV.from_string(_LAYOUT.replace("{% block main %}{% endblock %}", "<p>{{ message }}</p>"))


def _lang(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"))


def _t(lang: str) -> Any:
    return lambda key, **params: gettext(key, lang, **params)


async def _signed_in(request: Request) -> tuple[Services, Actor | None, Response | None]:
    svc = await current_services(request)
    lang = _lang(request)
    try:
        who = await current_actor(request, svc)
    except AuthenticationFailed:
        return svc, None, HTMLResponse(_MESSAGE.render(lang=lang, t=_t(lang), title=gettext("gov.traces.title", lang),
                                                       message=gettext("gov.signin", lang)), status_code=401)
    return svc, who, None


@router.get("/style.css")
async def style() -> Response:
    return Response(CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/traces", response_class=HTMLResponse)
async def traces_page(request: Request, conversation_id: str | None = Query(None, max_length=36),
                      person_id: str | None = Query(None, max_length=36),
                      action: str | None = Query(None, max_length=400),
                      from_: str | None = Query(None, alias="from", max_length=40),
                      to: str | None = Query(None, max_length=40)) -> Response:
    svc, who, refused = await _signed_in(request)
    if refused is not None or who is None:
        return refused or HTMLResponse(status_code=401)
    lang = _lang(request)
    title = gettext("gov.traces.title", lang)
    try:
        audit_trail._require_view(who)
    except Forbidden:
        return HTMLResponse(_MESSAGE.render(lang=lang, t=_t(lang), title=title, message=gettext("gov.forbidden", lang)),
                            status_code=403)
    q = {"conversation_id": conversation_id or None, "person_id": person_id or None, "action": action or None,
         "from": from_ or None, "to": to or None}
    rows: list[dict[str, Any]] = []
    error = None
    try:
        rows = await audit_trail.traces(svc, who, trace_query(q["conversation_id"], q["person_id"], q["action"],
                                                              q["from"], q["to"], None, 200))
    except ChevetError as exc:
        error = gettext(exc.code, lang, **exc.params)
    people = await identity_people.search_people(svc, who, "", 200)  # everyone who may see traces may list people
    csv_query = urlencode({k: v for k, v in q.items() if v} | {"format": "csv", "limit": 1000})
    return HTMLResponse(_TRACES.render(lang=lang, t=_t(lang), title=title, q=q, rows=rows, people=people,
                                       error=error, csv_query=csv_query),
                        status_code=200 if error is None else 422)


@router.get("/violations", response_class=HTMLResponse)
async def breaches_page(request: Request) -> Response:
    svc, who, refused = await _signed_in(request)
    if refused is not None or who is None:
        return refused or HTMLResponse(status_code=401)
    lang = _lang(request)
    title = gettext("gov.breaches.title", lang)
    try:
        rows = await gdpr.breaches(svc, who)
    except Forbidden:
        return HTMLResponse(_MESSAGE.render(lang=lang, t=_t(lang), title=title, message=gettext("gov.forbidden", lang)),
                            status_code=403)
    return HTMLResponse(_BREACHES.render(lang=lang, t=_t(lang), title=title, breaches=rows))

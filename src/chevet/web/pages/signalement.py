"""Signalement pages, reporter side: sign-in (until the web client provides it), filing a report
from a phone, the follow-up code. Server-rendered French pages, no script, strict CSP.

Forms post with the session cookie; the cookie is ``SameSite=Strict`` and a POST whose Origin
names another site is refused, so another site cannot make a signed-in browser act.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from chevet.app import auth, reports
from chevet.app.services import Actor, Services
from chevet.core.errors import AuthenticationFailed, ChevetError, InvalidInput, LockedOut
from chevet.core.signalement.deadlines import PARIS, Channel, FormKind, local_time
from chevet.core.signalement.forms import SPECS
from chevet.core.signalement.taxonomy import SEVERITY_LABELS
from chevet.web.deps import SESSION_COOKIE, bearer_token, client_ip
from chevet.web.i18n import gettext

router = APIRouter(include_in_schema=False)

_WEB = Path(__file__).resolve().parent.parent
templates = Environment(loader=FileSystemLoader(_WEB / "templates"), autoescape=select_autoescape(["html"]),
                        trim_blocks=True, lstrip_blocks=True)
_CSS = (_WEB / "static" / "signalement.css").read_bytes()

STATUSES = {"new": "À qualifier", "qualified": "Qualifié", "closed": "Clôturé"}
SEVERITIES = {s.value: label for s, label in SEVERITY_LABELS.items()}
MODES = [("named", "Nominatif", "Votre nom est visible des personnes qui traitent le signalement."),
         ("confidential", "Confidentiel", "Seul le responsable qualité sait que c'est vous."),
         ("anonymous", "Anonyme", "Votre identité n'est enregistrée nulle part ; gardez le code de suivi.")]
MODES_SHORT = {"named": "Nominatif", "confidential": "Confidentiel (identité réservée au responsable qualité)",
               "anonymous": "Anonyme"}
CHANNELS = {Channel.PORTAL.value: "Portail de signalement", Channel.EMAIL.value: "Courriel",
            Channel.POST.value: "Courrier", Channel.PHONE.value: "Téléphone (signalement oral)",
            Channel.OTHER.value: "Autre"}
FORM_TITLES = {k.value: SPECS[k].title for k in FormKind}
LOGIN = "/signalement/connexion"


def local(value: str | datetime | None, date_only: bool = False) -> str:
    if not value:
        return "—"
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{local_time(at):%d/%m/%Y}" if date_only else f"{local_time(at):%d/%m/%Y à %H:%M}"


def render(name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    ctx.setdefault("error", None)
    ctx.setdefault("notice", None)
    html = templates.get_template(f"signalement/{name}").render(
        statuses=STATUSES, severities=SEVERITIES, modes_short=MODES_SHORT, channels=CHANNELS,
        form_titles=FORM_TITLES, local=local, **ctx)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def error_text(exc: ChevetError) -> str:
    return gettext(exc.code, "fr", **exc.params)


def services_of(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


async def page_actor(request: Request, *, touch: bool = True) -> Actor | None:
    token = bearer_token(request.headers.get("authorization")) or request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return await auth.authenticate(services_of(request), token, client_ip(request), touch=touch)
    except AuthenticationFailed:
        return None


def same_origin(request: Request) -> bool:
    """Browsers say where a request comes from in ``Sec-Fetch-Site``; ``Origin`` is ``null``
    under our ``no-referrer`` policy, so it is only checked when it names a site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return origin.split("://", 1)[-1] == request.headers.get("host", "")


async def posted(request: Request) -> FormData:
    if not same_origin(request):
        raise InvalidInput("forbidden")
    return await request.form(max_files=0, max_fields=200)


def to_login() -> RedirectResponse:
    return RedirectResponse(LOGIN, status_code=303)


def parse_local(value: str | None, field: str) -> datetime | None:
    """A ``datetime-local`` or ``date`` field, read as Paris time (the organisation's zone)."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput("report_field_invalid", field=field) from exc
    return at if at.tzinfo else at.replace(tzinfo=PARIS)


def one(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def many(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str)]


async def chrome(request: Request, actor: Actor, nav: str) -> dict[str, Any]:
    fns = await reports.my_functions(services_of(request), actor)
    return {"me": actor.person, "me_id": str(actor.id), "manages": bool(fns), "nav": nav}


@router.get("/signalement/style.css")
async def style() -> Response:
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


@router.get(LOGIN)
async def login_page(request: Request) -> Response:
    return render("login.html", title="Connexion", me=None)


@router.post(LOGIN)
async def login_post(request: Request) -> Response:
    form = await posted(request)
    email = one(form, "email")
    ip = client_ip(request) or "?"
    try:
        wait = request.app.state.login_limiter.allow(f"login:{ip}")
        if wait:
            raise LockedOut("rate_limited", retry_after=wait)
        signed = await auth.login(services_of(request), email, one(form, "password"), one(form, "otp"),
                                  ip=client_ip(request), user_agent=request.headers.get("user-agent", ""))
    except ChevetError as exc:
        return render("login.html", status=401, title="Connexion", me=None, email=email, error=error_text(exc))
    response = RedirectResponse("/signalement", status_code=303)
    response.set_cookie(SESSION_COOKIE, signed.token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https",
                        max_age=int((signed.session.expires_at - signed.session.created_at).total_seconds()))
    return response


@router.post("/signalement/deconnexion")
async def logout(request: Request) -> Response:
    await posted(request)
    actor = await page_actor(request)
    if actor is not None:
        await auth.logout(services_of(request), actor)
    response = to_login()
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/signalement")
async def home(request: Request) -> Response:
    actor = await page_actor(request)
    if actor is None:
        return to_login()
    rows = await reports.list_reports(services_of(request), actor)
    for r in rows:
        kinds = [k for k, hit in (("ESSMS", r["categories"]), ("EIGS", r["eigs"]), ("SI", r["security"]),
                                  ("RGPD", r["gdpr"])) if hit]
        r["kinds"] = ", ".join(kinds) or ("interne" if r["severity"] else "—")
    return render("home.html", title="Signalements", reports=rows, **await chrome(request, actor, "list"))


def _new_context(actor: Actor) -> dict[str, Any]:
    return {"modes": MODES, "now_local": f"{local_time(datetime.now(PARIS)):%Y-%m-%dT%H:%M}"}


async def _teams(request: Request, actor: Actor) -> list[Any]:
    async with services_of(request).db.transaction() as tx:
        return list(await tx.teams.all(actor.org_id))


@router.get("/signalement/nouveau")
async def new_page(request: Request) -> Response:
    actor = await page_actor(request, touch=False)  # the form may lead to an anonymous report
    if actor is None:
        return to_login()
    return render("new.html", title="Signaler un événement", v={}, teams=await _teams(request, actor),
                  **_new_context(actor), **await chrome(request, actor, "new"))


@router.post("/signalement/nouveau")
async def new_post(request: Request) -> Response:
    # Not touched: the reporter's session keeps no trace of the moment an anonymous report was filed.
    actor = await page_actor(request, touch=False)
    if actor is None:
        return to_login()
    svc = services_of(request)
    form = await posted(request)
    try:
        team = one(form, "team_id")
        refs = [r for r in one(form, "affected_refs").split(",") if r.strip()]
        filed = await reports.file_report(
            svc, actor, mode=one(form, "mode") or "named", what=one(form, "what"),
            occurred_at=parse_local(one(form, "occurred_at"), "occurred_at"),
            discovered_at=parse_local(one(form, "discovered_at"), "discovered_at"), place=one(form, "place"),
            affected_refs=refs, immediate_measures=one(form, "immediate_measures"),
            team_id=uuid.UUID(team) if team else None)
    except (ChevetError, ValueError) as exc:
        message = error_text(exc) if isinstance(exc, ChevetError) else gettext("report_unit_unknown", "fr")
        values = {k: one(form, k) for k in ("what", "occurred_at", "discovered_at", "place", "affected_refs",
                                            "immediate_measures", "mode", "team_id")}
        return render("new.html", status=422, title="Signaler un événement", v=values, error=message,
                      teams=await _teams(request, actor), **_new_context(actor), **await chrome(request, actor, "new"))
    return render("filed.html", status=201, title="Signalement envoyé", code=filed.followup_code,
                  **await chrome(request, actor, "new"))


@router.get("/signalement/suivi")
async def followup_page(request: Request) -> Response:
    actor = await page_actor(request)
    return render("followup.html", title="Suivi d'un signalement", result=None,
                  **(await chrome(request, actor, "") if actor else {"me": None}))


@router.post("/signalement/suivi")
async def followup_post(request: Request) -> Response:
    form = await posted(request)
    ip = client_ip(request) or "?"
    base: dict[str, Any] = {"title": "Suivi d'un signalement", "me": None, "result": None}
    try:
        wait = request.app.state.login_limiter.allow(f"report-followup:{ip}")
        if wait:
            raise LockedOut("rate_limited", retry_after=wait)
        result = await reports.followup(services_of(request), one(form, "code"))
    except ChevetError as exc:
        return render("followup.html", status=404, error=error_text(exc), **base)
    return render("followup.html", **(base | {"result": result}))

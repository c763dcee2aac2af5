"""What every page of the web client shares: templates, language, CSRF tokens, the signed-in
person, fingerprinted static URLs, and turning domain errors into a readable page.

CSRF: every form carries a token derived with HMAC from the session token (or, before
signing in, from a random pre-session cookie) and an installation key; the session cookie is
SameSite=Lax (see ``set_session_cookie``), the pre-session cookie SameSite=Strict. Pages are
rendered on the server; scripts only enhance them."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, ParamSpec
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from chevet.app.identity import auth
from chevet.app.messaging import preferences
from chevet.app.services import Actor, Services
from chevet.core.errors import AuthenticationFailed, ChevetError, Forbidden, InvalidInput, ReauthenticationRequired
from chevet.core.notification import LOCAL_TIME
from chevet.core.roles import Permission, can
from chevet.web import formats
from chevet.web.deps import SESSION_COOKIE, client_ip
from chevet.web.i18n import gettext, negotiate
from chevet.web.problems import status_of
from chevet.web.responses import Json

WEB = Path(__file__).resolve().parent.parent
STATIC = WEB / "static"
PRE_COOKIE = "chevet_pre"

templates = jinja2.Environment(loader=jinja2.FileSystemLoader(WEB / "templates"), autoescape=True,
                               trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def file_size(size: int, lang: str) -> str:
    """"12 Ko", "1,5 Mo" (French usage, powers of 1024), "12 KB", "1.5 MB" (English)."""
    units = ("o", "Ko", "Mo", "Go") if lang == "fr" else ("B", "KB", "MB", "GB")
    value, unit = float(size), 0
    while value >= 1024 and unit < 3:
        value, unit = value / 1024, unit + 1
    text = f"{value:.0f}" if unit == 0 or value >= 10 else f"{value:.1f}"
    return f"{text.replace('.', ',') if lang == 'fr' else text} {units[unit]}"


CLIENT = STATIC / "client"
BUNDLE = "chevet.js"


def _static_files() -> dict[str, bytes]:
    """The static files by name. The client script is one file for the browser (one request)
    but several parts in the source, one per feature, joined in the order of their names."""
    files = {p.name: p.read_bytes() for p in STATIC.iterdir() if p.is_file()}
    files[BUNDLE] = b"".join(part.read_bytes() for part in sorted(CLIENT.glob("*.js")))
    return files


STATIC_FILES = _static_files()
FINGERPRINTS = {name: hashlib.sha256(data).hexdigest()[:10] for name, data in STATIC_FILES.items()}


def static_url(name: str) -> str:
    """A URL that changes whenever the file does, so that it can be cached for a year."""
    return f"/static/{FINGERPRINTS.get(name, '0')}/{name}"


class Redirect(Exception):
    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(url)


def safe_next(value: str | None) -> str:
    """Only a local path: never an open redirect to another site."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")) and "\n" not in value:
        return value[:500]
    return "/"


def secure_cookies(request: Request) -> bool:
    settings = request.app.state.settings
    return request.url.scheme == "https" or str(settings.server.public_url or "").startswith("https://")


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """The session cookie, for every way of signing in (password, passkey, Pro Santé Connect)."""
    # SameSite=Lax, not Strict: Pro Santé Connect sends the browser back with a cross-site
    # top-level navigation, on which a Strict cookie is withheld; the re-authentication callback
    # would not find the session, and the page it redirects to would look signed out. Lax still
    # keeps the cookie off cross-site posts, frames and scripts' requests (forms carry a CSRF
    # token as well), and a GET changes nothing.
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", path="/",
                        secure=secure_cookies(request),
                        max_age=int(request.app.state.services.policy.session_lifetime.total_seconds()))


@dataclass
class Page:
    request: Request
    services: Services
    actor: Actor | None
    lang: str
    csrf: str
    new_pre: str | None = None
    extra_cookies: list[tuple[str, str]] = field(default_factory=list)
    report_functions: frozenset[str] = frozenset()  # signalement: quality_lead, director

    @property
    def handles_reports(self) -> bool:
        """A quality lead or a director: the signalement dashboard is in their navigation."""
        return bool(self.report_functions)

    def t(self, message_id: str, **params: Any) -> str:
        return gettext(message_id, self.lang, **params)

    def can(self, permission: str) -> bool:
        return self.actor is not None and can(self.actor.person.role, Permission(permission))

    def finish(self, response: Response) -> Response:
        if self.new_pre:
            response.set_cookie(PRE_COOKIE, self.new_pre, httponly=True, samesite="strict",
                                secure=secure_cookies(self.request), path="/")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        html = templates.get_template(template).render(page=self, t=self.t, static=static_url,
                                                       size=lambda n: file_size(n, self.lang), **context)
        return self.finish(HTMLResponse(html, status_code=status, headers={"Content-Language": self.lang}))

    def redirect(self, url: str) -> Response:
        return self.finish(RedirectResponse(url, status_code=303))

    async def care_case_page(self, cid: uuid.UUID, page: Callable[[], Awaitable[Response]],
                             refusal: str) -> Response:
        """A page that only a care case has (handover notes, the synthesis): whoever arrives from
        another conversation (a link, the page she signed in for) lands on that conversation."""
        try:
            return await page()
        except InvalidInput as exc:
            if exc.code != refusal:
                raise
            return self.redirect(f"/c/{cid}")

    def error_text(self, exc: ChevetError) -> str:
        return self.t(exc.code, **exc.params)

    def local(self, at: datetime) -> datetime:
        return at.astimezone(LOCAL_TIME)

    def moment(self, at: datetime, *, year: bool = True) -> str:
        """« 3 décembre 2026 à 14 h 05 »: a moment in Europe/Paris, in the page's language."""
        return formats.moment(at, self.lang, year=year)

    def day(self, value: date | datetime, *, year: bool = True) -> str:
        return formats.day(value, self.lang, year=year)

    def short_moment(self, at: datetime) -> str:
        return formats.short_moment(at, self.lang)

    def number(self, value: int | float, *, digits: int = 0) -> str:
        return formats.number(value, self.lang, digits=digits)

    def device(self, user_agent: str) -> str:
        """« Chrome sur Android »: a session's device in words, never its raw User-Agent."""
        browser, system = formats.browser_and_system(user_agent)
        if browser is None:
            return self.t("ui.account.other_app" if user_agent.strip() else "ui.account.unknown_device")
        return self.t("ui.account.device", browser=browser, system=system) if system else browser


@dataclass
class SignedInPage(Page):
    """The page context of a signed-in person: ``actor`` is always there."""

    actor: Actor


def unavailable_page(request: Request, dependency: str | None = None) -> Response:
    """The page shown when the database or another part does not answer: built without them
    (no session lookup, no preferences), in the browser's language. When it is the
    establishment's keys (its token or HSM), the page says so: the person's colleagues of
    other establishments are not affected, and there is nothing for her to retry differently."""
    p = Page(request, request.app.state.services, None, negotiate(request.headers.get("accept-language")), "")
    reason = "organisation_keys_unavailable" if dependency == "organisation_keys" else None
    return p.render("unavailable.html", status=503, reason=reason)


def _csrf_token(services: Services, kind: bytes, value: str) -> str:
    key = services.keys.derive("csrf")
    return hmac.new(key, kind + b":" + value.encode(), hashlib.sha256).hexdigest()[:40]


async def page(request: Request, *, signed_in: bool = True, touch: bool = True) -> Page:
    """The page context. Without a valid session, a page that needs one sends to sign-in.
    ``touch=False`` leaves the session's last-use time alone (the pages that may lead to an
    anonymous report)."""
    services: Services = request.app.state.services
    accept = request.headers.get("accept-language")
    token = request.cookies.get(SESSION_COOKIE)
    actor: Actor | None = None
    if token:
        try:
            actor = await auth.authenticate(services, token, client_ip(request), touch=touch)
        except ChevetError:
            actor = None
    if actor is None and signed_in:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        query = {} if target == "/" else {"next": target}
        if token:  # it was signed in: say why the sign-in page is back (the draft waits, see landing.py)
            query["notice"] = "session_expired"
        raise Redirect("/login" + (f"?{urlencode(query)}" if query else ""))
    if actor is not None and token:
        prefs, functions = await preferences.for_pages(services, actor)
        return SignedInPage(request, services, actor, negotiate(accept, prefs.language),
                            _csrf_token(services, b"s", token),
                            report_functions=frozenset(f.value for f in functions))
    pre = request.cookies.get(PRE_COOKIE)
    new_pre = None
    if not pre or len(pre) > 64:
        pre = new_pre = secrets.token_urlsafe(24)
    return Page(request, services, None, negotiate(accept), _csrf_token(services, b"p", pre), new_pre)


async def signed_in(request: Request, *, touch: bool = True) -> SignedInPage:
    """The page context of a page that needs a session; without a valid one, sends to sign-in
    (``page`` raises ``Redirect``, which ``@ui`` answers). Awaited in the handler rather than
    declared as a FastAPI dependency: dependencies run before ``@ui``'s wrapper, so their
    redirect and domain errors would escape the page's error handling."""
    p = await page(request, touch=touch)
    assert isinstance(p, SignedInPage)  # page() returns one whenever there is an actor
    return p


async def read_form(p: Page) -> FormData:
    """The posted form, once its CSRF token is checked."""
    form = await p.request.form(max_files=0, max_fields=1100)
    check_csrf(p, form.get("csrf"))
    return form


def check_csrf(p: Page, sent: object) -> None:
    """The form's token must be the one derived for this session (or pre-session)."""
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), p.csrf.encode()):
        raise Forbidden("csrf_invalid")


def field_of(form: FormData, name: str, limit: int = 10_000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


async def come_back_to(request: Request) -> str:
    """Where to return after confirming one's identity: the page itself for a GET; for a form,
    the page named by its ``back`` field (browsers send no Referer: Referrer-Policy no-referrer)."""
    if request.method == "GET":
        return safe_next(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    back = (await request.form()).get("back")
    return safe_next(back if isinstance(back, str) else None)


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


P = ParamSpec("P")


def ui(fn: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
    """Redirects to sign-in when needed; any domain error becomes a page in the person's
    language with the right status (scripts asking for JSON get JSON)."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        request = next(v for v in kwargs.values() if isinstance(v, Request))
        try:
            return await fn(*args, **kwargs)
        except Redirect as r:
            return RedirectResponse(r.url, status_code=303)
        except ReauthenticationRequired as exc:
            if wants_json(request):
                p = await page(request, signed_in=False)
                return Json({"code": exc.code, "detail": p.error_text(exc)}, status_code=401)
            return RedirectResponse(f"/compte/confirmer?{urlencode({'next': await come_back_to(request)})}",
                                    status_code=303)
        except AuthenticationFailed:
            return RedirectResponse("/login", status_code=303)
        except ChevetError as exc:
            status = status_of(exc)
            try:
                p = await page(request, signed_in=False)
            except ChevetError:
                raise exc from None
            if wants_json(request):
                return Json({"code": exc.code, "detail": p.error_text(exc)}, status_code=status)
            return p.render("error.html", status=status, message=p.error_text(exc))

    return wrapper

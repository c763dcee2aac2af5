"""Shared devices: the console page (register this browser, list, revoke, the policy), and on
the device itself the lock screen, the PIN to switch to a person, choosing one's PIN after a
full sign-in, and locking.

The device credential is a cookie (``chevet_shared``): HttpOnly, Secure where Chevet is
served over TLS, SameSite=Lax (Pro Santé Connect comes back with a cross-site redirect, which
a Strict cookie would miss). Every response that changes who is on the device says
``Clear-Site-Data: "cache", "storage"``: the browser forgets the previous person's drafts,
offline outbox and caches, whatever the page's script managed to do first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.identity import auth, shared_devices
from chevet.core.errors import ChevetError, Forbidden, InvalidInput
from chevet.core.ids import parse_id
from chevet.core.shared_device import SharedDevicePolicy
from chevet.web.deps import SESSION_COOKIE, client_ip, limit_attempts
from chevet.web.pages.page import (
    Page,
    SignedInPage,
    field_of,
    page,
    read_form,
    safe_next,
    secure_cookies,
    set_session_cookie,
    signed_in,
    templates,
    ui,
)

router = APIRouter(include_in_schema=False)

SHARED_COOKIE = "chevet_shared"
LOCK_COOKIE = "chevet_shared_lock"  # the idle delay in seconds, no secret: what the page's timer uses
SHARED_COOKIE_SECONDS = 400 * 24 * 3600
CLEAR_SITE_DATA = '"cache", "storage"'
CONSOLE = "/admin/appareils-partages"
NOTICES = frozenset({"registered", "revoked", "policy"})


def device_secret(request: Request) -> str | None:
    value = request.cookies.get(SHARED_COOKIE)
    return value[:100] if value else None


def _lock_delay(request: Request) -> int | None:
    """The idle delay of this browser's shared device, in seconds, when it is one."""
    if not request.cookies.get(SHARED_COOKIE):
        return None
    raw = request.cookies.get(LOCK_COOKIE, "")
    return int(raw) if raw.isdigit() and 60 <= int(raw) <= 3600 else 180


def _shared_bar(p: Page) -> int | None:
    return _lock_delay(p.request) if p.actor is not None else None


templates.globals["shared_device_lock"] = _shared_bar


def forget_previous(response: Response) -> Response:
    """The browser forgets what the previous person left: drafts, outbox, caches, workers."""
    response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


def set_shared_cookies(request: Request, response: Response, secret: str | None,
                       policy: SharedDevicePolicy) -> None:
    secure = secure_cookies(request)
    if secret is not None:
        response.set_cookie(SHARED_COOKIE, secret, max_age=SHARED_COOKIE_SECONDS, httponly=True, samesite="lax",
                            path="/", secure=secure)
    response.set_cookie(LOCK_COOKIE, str(policy.idle_minutes * 60), max_age=SHARED_COOKIE_SECONDS, httponly=True,
                        samesite="lax", path="/", secure=secure)


async def after_full_sign_in(request: Request, response: Response, signed: auth.SignedIn,
                             target: str) -> Response:
    """Called by every way of signing in (password, passkey, Pro Santé Connect, enrolment): on a
    shared device her period opens and she chooses her PIN next. Raises ``Forbidden`` (and ends
    the new session) when the device belongs to another organisation."""
    current = await shared_devices.begin_period(request.app.state.services, device_secret(request), signed,
                                                client_ip(request))
    if current is None:
        return response
    set_shared_cookies(request, response, None, current.policy)
    if response.status_code in (302, 303):
        response.headers["location"] = "/appareil/code?" + _next_query(target)
    return forget_previous(response)


def _next_query(target: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"next": safe_next(target)})


# --- the console ---------------------------------------------------------------------------

async def _console(p: SignedInPage, *, status: int = 200, error: str | None = None, notice: str | None = None,
                   name: str = "") -> Response:
    title = p.t("sd.title")
    try:
        listed = await shared_devices.devices(p.services, p.actor)
        policy = await shared_devices.get_policy(p.services, p.actor)
    except Forbidden:
        return p.render("governance/message.html", status=403, title=title, section="shared_devices",
                        message=p.t("sd.forbidden"))
    here = await shared_devices.is_shared(p.services, device_secret(p.request))
    return p.render("identity/shared_devices.html", status=status, title=title, section="shared_devices",
                    devices=listed, policy=policy, error=error, notice=notice, name=name, this_is_shared=here)


@router.get(CONSOLE)
@ui
async def console_page(request: Request) -> Response:
    p = await signed_in(request)
    notice = request.query_params.get("fait")
    return await _console(p, notice=p.t("sd.notice." + notice) if notice in NOTICES else None)


@router.post(CONSOLE)
@ui
async def register(request: Request) -> Response:
    """Register the browser in use as a shared device; the administrator is signed out of it at
    once, and the device shows its lock screen."""
    p = await signed_in(request)
    form = await read_form(p)
    name = field_of(form, "name", 200)
    try:
        registered = await shared_devices.register(p.services, p.actor, name)
    except Forbidden:
        return await _console(p, status=403)
    except ChevetError as exc:
        if exc.code == "reauthentication_required":
            raise
        return await _console(p, status=422, error=p.error_text(exc), name=name)
    await auth.logout(p.services, p.actor)
    policy = await shared_devices.get_policy(p.services, p.actor)
    response = p.redirect("/appareil?fait=registered")
    set_shared_cookies(request, response, registered.secret, policy)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return forget_previous(response)


@router.post(CONSOLE + "/{device_id}/revoquer")
@ui
async def revoke(device_id: str, request: Request) -> Response:
    p = await signed_in(request)
    await read_form(p)
    try:
        await shared_devices.revoke(p.services, p.actor, parse_id(device_id))
    except Forbidden:
        return await _console(p, status=403)
    except ChevetError as exc:
        return await _console(p, status=404 if exc.code.endswith("not_found") else 422, error=p.error_text(exc))
    return p.redirect(CONSOLE + "?fait=revoked")


@router.post(CONSOLE + "/reglages")
@ui
async def policy(request: Request) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    try:
        hours, minutes = field_of(form, "period_hours", 4).strip(), field_of(form, "idle_minutes", 4).strip()
        if not (hours.isdigit() and minutes.isdigit()):
            raise InvalidInput("shared_device_policy_invalid", min_hours=1, max_hours=24, min_minutes=1,
                               max_minutes=30)
        await shared_devices.set_policy(p.services, p.actor, period_hours=int(hours), idle_minutes=int(minutes))
    except Forbidden:
        return await _console(p, status=403)
    except ChevetError as exc:
        if exc.code == "reauthentication_required":
            raise
        return await _console(p, status=422, error=p.error_text(exc))
    return p.redirect(CONSOLE + "?fait=policy")


# --- on the device -------------------------------------------------------------------------

async def _lock_page(p: Page, *, status: int = 200, error: str | None = None,
                     chosen: shared_devices.LockedPerson | None = None) -> Response:
    screen = await shared_devices.lock_screen(p.services, device_secret(p.request))
    if screen is None:
        return p.redirect("/login")
    notice = p.request.query_params.get("fait")
    response = p.render("identity/shared_device_lock.html", status=status, screen=screen, chosen=chosen,
                        error=error, notice=p.t("sd.notice." + notice) if notice in NOTICES else None)
    return forget_previous(response)


@router.get("/appareil")
@ui
async def lock_screen(request: Request) -> Response:
    p = await page(request, signed_in=False, touch=False)
    return await _lock_page(p)


@router.get("/appareil/personne/{period_id}")
@ui
async def pin_form(period_id: str, request: Request) -> Response:
    p = await page(request, signed_in=False, touch=False)
    screen = await shared_devices.lock_screen(p.services, device_secret(request))
    if screen is None:
        return p.redirect("/login")
    chosen = next((c for c in screen.people if str(c.period_id) == period_id), None)
    if chosen is None:
        return await _lock_page(p, status=404, error=p.t("shared_device_period_over"))
    return await _lock_page(p, chosen=chosen)


@router.post("/appareil/personne/{period_id}")
@ui
async def unlock(period_id: str, request: Request) -> Response:
    p = await page(request, signed_in=False, touch=False)
    form = await read_form(p)
    secret = device_secret(request)
    screen = await shared_devices.lock_screen(p.services, secret)
    if screen is None:
        return p.redirect("/login")
    chosen = next((c for c in screen.people if str(c.period_id) == period_id), None)
    try:
        limit_attempts(request, "pin")
        if chosen is None:
            raise InvalidInput("shared_device_period_over")
        signed = await shared_devices.unlock(p.services, secret, chosen.period_id,
                                             field_of(form, "pin", 20).strip(), ip=client_ip(request),
                                             user_agent=request.headers.get("user-agent", ""))
    except ChevetError as exc:
        still = await shared_devices.lock_screen(p.services, secret)
        again = next((c for c in still.people if c.period_id == chosen.period_id), None) if still and chosen else None
        return await _lock_page(p, status=429 if exc.code == "rate_limited" else 401, error=p.error_text(exc),
                                chosen=again)
    response = p.redirect("/")
    set_session_cookie(request, response, signed.token)
    set_shared_cookies(request, response, None, screen.policy)
    return forget_previous(response)


@router.post("/appareil/verrouiller")
@ui
async def lock(request: Request) -> Response:
    """Lock the device. No CSRF token: the form may come from a page whose session just ended,
    the device cookie is SameSite (a cross-site post carries none), and locking only ever
    takes access away."""
    services = request.app.state.services
    locked = await shared_devices.lock(services, device_secret(request), ip=client_ip(request))
    p = await page(request, signed_in=False, touch=False)
    response = p.redirect("/appareil" if locked else "/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return forget_previous(response)


@router.get("/appareil/code")
@ui
async def pin_choice(request: Request) -> Response:
    p = await signed_in(request)
    current = await shared_devices.current_period(p.services, p.actor)
    if current is None:
        return p.redirect("/")
    return p.render("identity/shared_device_pin.html", next=safe_next(request.query_params.get("next")),
                    error=None, current=current)


@router.post("/appareil/code")
@ui
async def pin_choose(request: Request) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    target = safe_next(field_of(form, "next", 500))
    try:
        await shared_devices.set_pin(p.services, p.actor, field_of(form, "pin", 20), field_of(form, "pin2", 20))
    except ChevetError as exc:
        current = await shared_devices.current_period(p.services, p.actor)
        if current is None:
            return p.redirect("/")
        return p.render("identity/shared_device_pin.html", status=422, next=target, error=p.error_text(exc),
                        current=current)
    return p.redirect(target)


@router.get("/appareil/actif")
async def still_here(request: Request) -> Response:
    """The page's script says she is still at the device (typing, reading): her session's last
    use moves on, so the server's idle lock follows the page's. 401 once it is over."""
    services = request.app.state.services
    try:
        await auth.authenticate(services, request.cookies.get(SESSION_COOKIE) or "", client_ip(request))
    except ChevetError:
        return Response(status_code=401, headers={"Cache-Control": "no-store"})
    return Response(status_code=204, headers={"Cache-Control": "no-store"})

"""The person's own screens: profile and language, notifications and quiet hours, push
devices, and their sessions (with revocation)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.identity import auth
from chevet.app.messaging import notifications, preferences
from chevet.core.errors import AuthenticationFailed, ChevetError, InvalidInput, LockedOut
from chevet.core.ids import parse_id
from chevet.core.notification import DAILY_CAP, GROUP_WINDOW, format_clock
from chevet.web.deps import limit_attempts
from chevet.web.pages.page import SignedInPage, field_of, read_form, safe_next, signed_in, ui
from chevet.web.responses import Json

router = APIRouter(include_in_schema=False)


async def _render(p: SignedInPage, status: int = 200, error: str | None = None, notice: str | None = None) -> Response:
    prefs = await preferences.my_preferences(p.services, p.actor)
    gateway = p.request.app.state.push_gateway
    push_ready = gateway is not None and bool(p.request.app.state.settings.push.services)
    return p.render("account.html", status=status, prefs=prefs, error=error, notice=notice,
                    sessions=await auth.open_sessions(p.services, p.actor),
                    quiet_start=format_clock(prefs.quiet_start), quiet_end=format_clock(prefs.quiet_end),
                    devices=await notifications.device_count(p.services, p.actor),
                    push_key=gateway.public_key if push_ready else "", daily_cap=DAILY_CAP,
                    window_hours=int(GROUP_WINDOW.total_seconds() // 3600))


@router.get("/account")
@ui
async def account(request: Request) -> Response:
    p = await signed_in(request)
    return await _render(p, notice=request.query_params.get("notice"))


@router.post("/account/language")
@ui
async def language(request: Request) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    await preferences.set_language(p.services, p.actor, field_of(form, "language", 5) or None)
    return p.redirect("/account?notice=saved")


@router.post("/account/notifications")
@ui
async def notification_settings(request: Request) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    try:
        await preferences.set_notifications(p.services, p.actor, level=field_of(form, "level", 12),
                                            quiet_start=field_of(form, "quiet_start", 5),
                                            quiet_end=field_of(form, "quiet_end", 5))
    except InvalidInput as exc:
        return await _render(p, 422, error=p.error_text(exc))
    return p.redirect("/account?notice=saved")


@router.post("/account/sessions/{session_id}/revoke")
@ui
async def revoke(session_id: str, request: Request) -> Response:
    p = await signed_in(request)
    await read_form(p)
    sid = parse_id(session_id)
    await auth.revoke_session(p.services, p.actor, sid)
    if sid == p.actor.session_id:
        return p.redirect("/login?notice=signed_out")
    return p.redirect("/account?notice=session_revoked")


@router.post("/account/push")
@ui
async def push_subscribe(request: Request) -> Response:
    """Called by the page's script with the browser's PushSubscription (form-encoded)."""
    p = await signed_in(request)
    form = await read_form(p)
    settings = request.app.state.settings
    try:
        if field_of(form, "action", 12) == "remove":
            await notifications.unsubscribe(p.services, p.actor, field_of(form, "endpoint", 2048))
        else:
            await notifications.subscribe(p.services, p.actor, endpoint=field_of(form, "endpoint", 2048),
                                          p256dh=field_of(form, "p256dh", 200), auth=field_of(form, "auth", 100),
                                          allowed_origins=tuple(settings.push.services))
    except ChevetError as exc:
        return Json({"code": exc.code, "detail": p.error_text(exc)}, status_code=422)
    return Json({"devices": await notifications.device_count(p.services, p.actor)})


@router.get("/compte/confirmer")
@ui
async def confirm_identity_form(request: Request) -> Response:
    """Asked before a sensitive action (role change, export, retention, keys) when the last proof
    of identity is older than the organisation's re-authentication window."""
    p = await signed_in(request)
    return p.render("reauth.html", next=safe_next(request.query_params.get("next")), error=None)


@router.post("/compte/confirmer")
@ui
async def confirm_identity(request: Request) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    target = safe_next(field_of(form, "next", 500))
    try:
        limit_attempts(request, "login")
        await auth.reauthenticate(p.services, p.actor, field_of(form, "password", 300),
                                  field_of(form, "otp", 19).replace(" ", ""))
    except LockedOut as exc:
        return p.render("reauth.html", status=429, next=target, error=p.error_text(exc))
    except AuthenticationFailed as exc:
        return p.render("reauth.html", status=401, next=target, error=p.error_text(exc))
    return p.redirect(target + ("&" if "?" in target else "?") + "notice=identity_confirmed")

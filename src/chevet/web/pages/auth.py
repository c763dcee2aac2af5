"""Signing in and out, and accepting an invitation (password, then TOTP enrolment)."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.identity import auth, people, shared_devices
from chevet.app.messaging import conversations
from chevet.app.services import Actor
from chevet.core.errors import ChevetError, InvalidInput
from chevet.web.deps import SESSION_COOKIE, client_ip, limit_attempts
from chevet.web.pages.landing import landing
from chevet.web.pages.page import (
    PRE_COOKIE,
    Page,
    field_of,
    page,
    read_form,
    secure_cookies,
    set_session_cookie,
    signed_in,
    ui,
)
from chevet.web.pages.shared_devices import after_full_sign_in, device_secret, forget_previous
from chevet.web.qr import qr_svg

router = APIRouter(include_in_schema=False)
ENROL_COOKIE = "chevet_enrol"
DEVICE_COOKIE = "chevet_device"
DEVICE_COOKIE_SECONDS = 400 * 24 * 3600  # the longest browsers keep a cookie
LOGIN_NOTICES = {"signed_out", "account_ready", "session_expired"}


def set_device_cookie(request: Request, response: Response, signed: auth.SignedIn) -> None:
    """Remember that this person signed in on this browser: her failures from here are counted
    apart from others', and the account's lock (many failures from elsewhere) spares it."""
    value = auth.remember_device(request.app.state.services, request.cookies.get(DEVICE_COOKIE), signed.person.id)
    response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE_COOKIE_SECONDS, httponly=True, samesite="lax",
                        path="/", secure=secure_cookies(request))


@router.get("/login")
@ui
async def login_form(request: Request) -> Response:
    p = await page(request, signed_in=False)
    target = landing(request, request.query_params.get("next"))
    if p.actor is not None:
        return p.redirect(target)
    if "appareil" not in request.query_params and device_secret(request) and \
            await shared_devices.is_shared(p.services, device_secret(request)):
        return p.redirect("/appareil")  # a shared device: its lock screen first
    notice = request.query_params.get("notice")
    return p.render("login.html", next=target, email="", error=None,
                    notice=notice if notice in LOGIN_NOTICES else None)


@router.post("/login")
@ui
async def login(request: Request) -> Response:
    p = await page(request, signed_in=False)
    form = await read_form(p)
    email, target = field_of(form, "email", 254), landing(request, field_of(form, "next", 500))
    try:
        limit_attempts(request, "login")
        signed = await auth.login(p.services, email, field_of(form, "password", 300),
                                  field_of(form, "otp", 12).replace(" ", ""), ip=client_ip(request),
                                  user_agent=request.headers.get("user-agent", ""),
                                  device=request.cookies.get(DEVICE_COOKIE))
        response = await after_full_sign_in(request, p.redirect(target), signed, target)
    except ChevetError as exc:
        status = 401 if exc.code == "login_failed" else 403 if exc.code.startswith("shared_device") else 429
        return p.render("login.html", status=status, next=target, email=email, error=p.error_text(exc), notice=None)
    set_session_cookie(request, response, signed.token)
    set_device_cookie(request, response, signed)
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.post("/logout")
@ui
async def logout(request: Request) -> Response:
    p = await signed_in(request)
    await read_form(p)
    await auth.logout(p.services, p.actor)
    if await shared_devices.is_shared(p.services, device_secret(request)):
        # On a shared device her period ends with her session: her name leaves the lock screen.
        await shared_devices.sign_out(p.services, device_secret(request), p.actor)
        response = forget_previous(p.redirect("/appareil"))
    else:
        response = p.redirect("/login?notice=signed_out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/invitation/{token}")
@ui
async def invitation(token: str, request: Request) -> Response:
    p = await page(request, signed_in=False)
    limit_attempts(request, "invitation")
    person = await people.invitation_person(p.services, token)
    if _has_enrol_proof(p, token):
        # The password is chosen already (the phone reloaded the tab while she was in her
        # authenticator app): the same secret again, not a step 1 that would now be refused.
        enrolment = await people.pending_enrolment(p.services, token)
        if enrolment is not None:
            return _enrol_page(p, token, enrolment)
    return p.render("invitation.html", person=person, token=token, error=None)


def _enrol_proof(p: Page, token: str) -> str:
    """Binds the enrolment page to the browser that chose the password (step 1): only that
    browser sees the secret again after a mistyped code, not another holder of the link."""
    return hmac.new(p.services.keys.derive("enrolment"), token.encode(), hashlib.sha256).hexdigest()[:40]


def _has_enrol_proof(p: Page, token: str) -> bool:
    proof = p.request.cookies.get(ENROL_COOKIE) or ""
    return hmac.compare_digest(proof.encode(), _enrol_proof(p, token).encode())


def _enrol_page(p: Page, token: str, enrolment: people.Enrolment | None, status: int = 200,
                error: str | None = None) -> Response:
    return p.render("enrol.html", status=status, person=enrolment.person if enrolment else None, token=token,
                    secret=enrolment.totp_secret if enrolment else None,
                    otpauth=enrolment.otpauth_uri if enrolment else None,
                    qr=qr_svg(enrolment.otpauth_uri) if enrolment else None, error=error)


@router.post("/invitation/{token}")
@ui
async def invitation_password(token: str, request: Request) -> Response:
    p = await page(request, signed_in=False)
    form = await read_form(p)
    limit_attempts(request, "invitation")
    person = await people.invitation_person(p.services, token)
    password = field_of(form, "password", 300)
    try:
        if password != field_of(form, "password2", 300):
            raise InvalidInput("passwords_differ")
        enrolment = await people.accept_invitation(p.services, token, password, client_ip(request))
    except ChevetError as exc:
        return p.render("invitation.html", status=422, person=person, token=token, error=p.error_text(exc))
    response = _enrol_page(p, token, enrolment)
    response.set_cookie(ENROL_COOKIE, _enrol_proof(p, token), httponly=True, samesite="strict",
                        secure=secure_cookies(request), path=f"/invitation/{token}",
                        max_age=int(p.services.policy.invitation_lifetime.total_seconds()))
    return response


@router.post("/invitation/{token}/confirm")
@ui
async def invitation_confirm(token: str, request: Request) -> Response:
    """The right code activates the account and signs her in at once, on the list with her
    teams' channels; a wrong one shows the same secret again (to this browser) to retry."""
    p = await page(request, signed_in=False)
    form = await read_form(p)
    limit_attempts(request, "invitation")
    try:
        signed = await auth.finish_enrolment(p.services, token, field_of(form, "otp", 12).replace(" ", ""),
                                             ip=client_ip(request), user_agent=request.headers.get("user-agent", ""))
    except ChevetError as exc:
        if exc.code != "otp_invalid":
            raise
        enrolment = await people.pending_enrolment(p.services, token) if _has_enrol_proof(p, token) else None
        return _enrol_page(p, token, enrolment, 422, p.error_text(exc))
    actor = Actor(signed.person, signed.organisation, signed.session.id, client_ip(request))
    await conversations.join_team_channels(p.services, actor)
    response = await after_full_sign_in(request, p.redirect("/?notice=welcome"), signed, "/?notice=welcome")
    set_session_cookie(request, response, signed.token)
    set_device_cookie(request, response, signed)
    response.delete_cookie(ENROL_COOKIE, path=f"/invitation/{token}")
    response.delete_cookie(PRE_COOKIE, path="/")
    return response

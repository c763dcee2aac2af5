"""Signing in and out, and accepting an invitation (password, then TOTP enrolment)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.identity import auth, people
from chevet.core.errors import ChevetError, InvalidInput
from chevet.web.deps import SESSION_COOKIE, client_ip, limit_attempts
from chevet.web.pages.page import PRE_COOKIE, field_of, page, read_form, safe_next, set_session_cookie, signed_in, ui
from chevet.web.qr import qr_svg

router = APIRouter(include_in_schema=False)


@router.get("/login")
@ui
async def login_form(request: Request) -> Response:
    p = await page(request, signed_in=False)
    if p.actor is not None:
        return p.redirect(safe_next(request.query_params.get("next")))
    return p.render("login.html", next=safe_next(request.query_params.get("next")), email="", error=None,
                    notice=request.query_params.get("notice"))


@router.post("/login")
@ui
async def login(request: Request) -> Response:
    p = await page(request, signed_in=False)
    form = await read_form(p)
    email, target = field_of(form, "email", 254), safe_next(field_of(form, "next", 500))
    try:
        limit_attempts(request, "login")
        signed = await auth.login(p.services, email, field_of(form, "password", 300),
                                  field_of(form, "otp", 12).replace(" ", ""), ip=client_ip(request),
                                  user_agent=request.headers.get("user-agent", ""))
    except ChevetError as exc:
        return p.render("login.html", status=401 if exc.code == "login_failed" else 429, next=target,
                        email=email, error=p.error_text(exc), notice=None)
    response = p.redirect(target)
    set_session_cookie(request, response, signed.token)
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.post("/logout")
@ui
async def logout(request: Request) -> Response:
    p = await signed_in(request)
    await read_form(p)
    await auth.logout(p.services, p.actor)
    response = p.redirect("/login?notice=signed_out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/invitation/{token}")
@ui
async def invitation(token: str, request: Request) -> Response:
    p = await page(request, signed_in=False)
    limit_attempts(request, "invitation")
    person = await people.invitation_person(p.services, token)
    return p.render("invitation.html", person=person, token=token, error=None)


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
    return p.render("enrol.html", person=person, token=token, secret=enrolment.totp_secret,
                    qr=qr_svg(enrolment.otpauth_uri), error=None)


@router.post("/invitation/{token}/confirm")
@ui
async def invitation_confirm(token: str, request: Request) -> Response:
    p = await page(request, signed_in=False)
    form = await read_form(p)
    limit_attempts(request, "invitation")
    try:
        await people.confirm_invitation(p.services, token, field_of(form, "otp", 12).replace(" ", ""),
                                        client_ip(request))
    except ChevetError as exc:
        if exc.code != "otp_invalid":
            raise
        person = await people.invitation_person(p.services, token)
        return p.render("enrol.html", status=422, person=person, token=token, secret=None, qr=None,
                        error=p.error_text(exc))
    return p.redirect("/login?notice=account_ready")

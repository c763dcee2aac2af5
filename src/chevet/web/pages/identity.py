"""Browser pages of the identity feature: passkey sign-in, the account's security page
(passkeys, recovery codes, devices), and the Pro Santé Connect redirects that set the
session cookie. In the web client's layout, French first; their one small ES module replaces
the web client's script, no inline script (the CSP stays strict)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from chevet.app.identity import auth, passkeys, psc
from chevet.core.errors import ChevetError
from chevet.core.ids import parse_id
from chevet.web.api.identity import CredentialIn, signed_in_view
from chevet.web.deps import SESSION_COOKIE, ServicesDep, client_ip, limit_attempts
from chevet.web.pages.auth import DEVICE_COOKIE, set_device_cookie
from chevet.web.pages.page import STATIC, SignedInPage, page, secure_cookies, set_session_cookie
from chevet.web.pages.shared_devices import after_full_sign_in
from chevet.web.responses import Json

router = APIRouter(include_in_schema=False)
FLOW_COOKIE = "chevet_psc"


async def _page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    p = await page(request, signed_in=False)
    return p.render(f"identity/{name}", status=status, **context)


def _set_flow(request: Request, response: Response, flow: str) -> None:
    # SameSite=Lax: it must come back with the provider's cross-site redirect to the callback.
    response.set_cookie(FLOW_COOKIE, flow, max_age=psc.FLOW_SECONDS, httponly=True, samesite="lax",
                        path="/auth/psc", secure=secure_cookies(request))


@router.get("/connexion/cle")
async def sign_in_page(request: Request, svc: ServicesDep) -> Response:
    return await _page(request, "sign_in.html", psc_enabled=svc.psc is not None)


@router.get("/compte/securite")
async def security_page(request: Request, svc: ServicesDep) -> Response:
    p = await page(request, signed_in=False)
    if not isinstance(p, SignedInPage):
        return RedirectResponse("/connexion/cle", status_code=303)
    return p.render("identity/security.html", person=p.actor.person, psc_enabled=svc.psc is not None,
                    sessions=await auth.open_sessions(svc, p.actor))


@router.get("/identity/passkeys.js")
async def script() -> FileResponse:
    return FileResponse(STATIC / "identity" / "passkeys.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache"})


@router.post("/auth/passkey/session")
async def passkey_session(body: CredentialIn, request: Request, svc: ServicesDep) -> Response:
    """Like the API sign-in, but the session lands in an HttpOnly cookie, out of scripts' reach."""

    limit_attempts(request, "login")
    signed = await passkeys.finish_login(svc, parse_id(body.challenge_id), body.credential, ip=client_ip(request),
                                         user_agent=request.headers.get("user-agent", ""),
                                         device=request.cookies.get(DEVICE_COOKIE))
    response = await after_full_sign_in(request, Json({k: v for k, v in signed_in_view(signed).items()
                                                       if k != "token"}), signed, "/")
    set_session_cookie(request, response, signed.token)
    set_device_cookie(request, response, signed)
    return response


@router.get("/auth/psc/start")
async def psc_start(request: Request, svc: ServicesDep, org: str | None = None) -> Response:
    try:
        url, flow = psc.begin(svc, org=org[:63] if org else None)
    except ChevetError as exc:
        return await _page(request, "error.html", 404, code=exc.code)
    response = RedirectResponse(url, status_code=303)
    _set_flow(request, response, flow)
    return response


@router.get("/auth/psc/reauth")
async def psc_reauth(request: Request, svc: ServicesDep) -> Response:
    """Confirm one's identity with the CPS card before a sensitive action (re-authentication)."""
    try:
        actor = await auth.authenticate(svc, request.cookies.get(SESSION_COOKIE) or "", client_ip(request))
        url, flow = psc.begin(svc, actor=actor)
    except ChevetError as exc:
        return await _page(request, "error.html", 401, code=exc.code)
    response = RedirectResponse(url, status_code=303)
    _set_flow(request, response, flow)
    return response


@router.get("/auth/psc/callback")
async def psc_callback(request: Request, svc: ServicesDep, code: str | None = None, state: str | None = None,
                       error: str | None = None) -> Response:
    try:
        if error or not code:
            return await _page(request, "error.html", 401, code="psc_refused")
        flow = psc.open_flow(svc, request.cookies.get(FLOW_COOKIE), state)
        actor = None
        if flow.purpose == "reauth":
            actor = await auth.authenticate(svc, request.cookies.get(SESSION_COOKIE) or "", client_ip(request))
        signed = await psc.finish(svc, flow, code, ip=client_ip(request),
                                  user_agent=request.headers.get("user-agent", ""), actor=actor)
    except ChevetError as exc:
        response: Response = await _page(request, "error.html", 401, code=exc.code)
        response.delete_cookie(FLOW_COOKIE, path="/auth/psc")
        return response
    response = RedirectResponse("/" if signed else "/compte/securite", status_code=303)
    response.delete_cookie(FLOW_COOKIE, path="/auth/psc")
    if signed is not None:
        try:
            response = await after_full_sign_in(request, response, signed, "/")
        except ChevetError as exc:
            return await _page(request, "error.html", 403, code=exc.code)
        response.delete_cookie(FLOW_COOKIE, path="/auth/psc")
        set_session_cookie(request, response, signed.token)
    return response


@router.post("/auth/signout")
async def sign_out(request: Request, svc: ServicesDep) -> Response:
    """Sign out of this browser; after a Pro Santé Connect login, of PSC too."""
    token = request.cookies.get(SESSION_COOKIE)
    target = "/connexion/cle"
    if token:
        try:
            actor = await auth.authenticate(svc, token, client_ip(request))
            target = await psc.logout(svc, actor) or target
        except ChevetError:
            pass
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response

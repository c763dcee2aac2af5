"""The page where a professional links her personal MSSanté mailbox (PER), and an administrator
a service's mailbox (ORG), by logging in once with Pro Santé Connect (CPS card or e-CPS)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.mssante import psc_mailbox
from chevet.bootstrap.mssante import GatewayRuntime
from chevet.core.errors import AuthenticationFailed, ChevetError, Forbidden, InvalidInput, NotFound
from chevet.core.mssante.psc_link import PscMailbox
from chevet.web.pages.page import SignedInPage, read_form, secure_cookies, signed_in, ui

router = APIRouter(include_in_schema=False)
FLOW_COOKIE = "chevet_mss_psc"
_PATH = "/mssante/psc"


def _runtime(p: SignedInPage) -> GatewayRuntime:
    runtime = getattr(p.request.app.state, "mssante_runtime", None)
    if not isinstance(runtime, GatewayRuntime):
        raise InvalidInput("mss_not_configured")
    return runtime


def _box(runtime: GatewayRuntime, p: SignedInPage, address: object) -> PscMailbox:
    for box in runtime.psc_mailboxes():
        if box.address == address and box.org_slug == p.actor.organisation.slug:
            return box
    raise NotFound("mss_psc_mailbox_unknown")


@router.get(_PATH)
@ui
async def psc_mailboxes(request: Request) -> Response:
    p = await signed_in(request)
    runtime = _runtime(p)
    views = []
    for box in runtime.psc_mailboxes():
        if box.org_slug != p.actor.organisation.slug:
            continue
        view = await psc_mailbox.view(p.services, p.actor, box)
        if psc_mailbox.may_link(p.actor, box) or view.linked_by_me or p.can("manage_organisation"):
            views.append({"view": view, "may_link": psc_mailbox.may_link(p.actor, box),
                          "when": p.local(view.linked_at) if view.linked_at else None})
    return p.render("mssante_psc.html", boxes=views, notice=request.query_params.get("notice"),
                    available=runtime.psc_link_endpoint(p.services) is not None)


@router.post(f"{_PATH}/relier")
@ui
async def psc_link_start(request: Request) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    runtime = _runtime(p)
    endpoint = runtime.psc_link_endpoint(p.services)
    if endpoint is None:
        raise NotFound("psc_disabled")
    url, flow = psc_mailbox.begin_link(p.services, p.actor, _box(runtime, p, form.get("mailbox")), endpoint)
    response = p.redirect(url)
    # SameSite=Lax: it must come back with the provider's cross-site redirect.
    response.set_cookie(FLOW_COOKIE, flow, max_age=psc_mailbox.FLOW_SECONDS, httponly=True, samesite="lax",
                        path=_PATH, secure=secure_cookies(request))
    return response


@router.get(f"{_PATH}/retour")
@ui
async def psc_link_back(request: Request, code: str | None = None, state: str | None = None,
                        error: str | None = None) -> Response:
    p = await signed_in(request)
    runtime = _runtime(p)
    endpoint = runtime.psc_link_endpoint(p.services)
    try:
        if endpoint is None:
            raise NotFound("psc_disabled")
        if error:
            raise AuthenticationFailed("psc_refused")
        await psc_mailbox.finish_link(p.services, p.actor, runtime.psc_mailboxes(), endpoint,
                                      request.cookies.get(FLOW_COOKIE), state, code)
    except ChevetError as exc:
        status = 403 if isinstance(exc, (AuthenticationFailed, Forbidden)) else 400
        response = p.render("mssante_psc.html", status=status, boxes=[], notice=None, available=True,
                            error=p.error_text(exc))
        response.delete_cookie(FLOW_COOKIE, path=_PATH)
        return response
    response = p.redirect(f"{_PATH}?notice=mss_psc_linked")
    response.delete_cookie(FLOW_COOKIE, path=_PATH)
    return response


@router.post(f"{_PATH}/delier")
@ui
async def psc_unlink(request: Request) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    runtime = _runtime(p)
    await psc_mailbox.unlink(p.services, p.actor, _box(runtime, p, form.get("mailbox")))
    return p.redirect(f"{_PATH}?notice=mss_psc_unlinked")

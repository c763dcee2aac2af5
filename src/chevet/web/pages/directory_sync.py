"""Console: the LDAP / Active Directory synchronisation (``/admin/annuaire``). The last sync in
French (when, what changed, or why it failed), and "Synchroniser maintenant": a preview first,
then "Appliquer". Counts only: no names nor e-mail addresses of the directory on the page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.identity import directory_sync
from chevet.bootstrap.directory_sync import directory_from, options_from
from chevet.core.errors import Forbidden
from chevet.web.invitation_mail import invitation_mail
from chevet.web.pages.page import SignedInPage, read_form, signed_in, ui

router = APIRouter(prefix="/admin", include_in_schema=False)


async def _render(p: SignedInPage, report: directory_sync.SyncReport | None = None, status: int = 200) -> Response:
    settings = p.request.app.state.settings
    configured = (directory_from(settings) is not None
                  and settings.directory_sync.organisation == p.actor.organisation.slug)
    last = await directory_sync.last_run(p.services, p.actor)
    return p.render("governance/directory_sync.html", status=status, title=p.t("ldap.title"), section="directory",
                    configured=configured, last=last, report=report)


@router.get("/annuaire")
@ui
async def directory_page(request: Request) -> Response:
    p = await signed_in(request)
    if not p.can("manage_people"):
        raise Forbidden("forbidden")
    return await _render(p)


@router.post("/annuaire")
@ui
async def directory_sync_now(request: Request) -> Response:
    p = await signed_in(request)
    if not p.can("manage_people"):
        raise Forbidden("forbidden")
    form = await read_form(p)
    settings = p.request.app.state.settings
    directory = directory_from(settings)
    if directory is None or settings.directory_sync.organisation != p.actor.organisation.slug:
        return await _render(p, status=409)
    apply = form.get("apply") == "1"
    days = max(1, round(p.services.policy.invitation_lifetime.total_seconds() / 86400))
    origin = settings.server.public_url or str(request.base_url).rstrip("/")
    report = await directory_sync.sync(p.services, p.actor.organisation, directory,
                                       options_from(settings, force=form.get("force") == "1"), actor=p.actor,
                                       apply=apply, mail=invitation_mail(origin, p.actor.organisation.name, days))
    return await _render(p, report, 200 if report.outcome == "done" else 422)

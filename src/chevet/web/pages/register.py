"""The Art. 30 processing register as a console page: in the reader's language, dates in
Europe/Paris, printable (a print stylesheet and an « Imprimer » button)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.governance import gdpr
from chevet.core.errors import Forbidden
from chevet.web.pages.page import signed_in, ui
from chevet.web.pages.retention import period_text

router = APIRouter(include_in_schema=False)


@router.get("/gouvernance/registre")
@ui
async def register_page(request: Request) -> Response:
    p = await signed_in(request)
    title = p.t("reg.title")
    try:
        r = await gdpr.processing_register(p.services, p.actor, p.actor.organisation, p.lang)
    except Forbidden:
        return p.render("governance/message.html", status=403, title=title, section="register",
                        message=p.t("gov.forbidden"))
    return p.render("governance/register.html", title=title, section="register", r=r,
                    generated=p.day(datetime.fromisoformat(r["generated_at"])),
                    period=lambda d: period_text(p, d))

"""Console: who receives adverse-event reports (``/admin/signalement``). The administrator sees
the quality leads and the direction (people of role director and administrators count by their
role, and say so), and designates or removes people by name; each change is audited by the app.
A refusal (an external or deactivated person…) is said in words on the page and changes nothing."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.signalement import designations, recipients
from chevet.core.errors import ChevetError, Forbidden, InvalidInput
from chevet.web.pages.page import SignedInPage, field_of, read_form, signed_in, ui

router = APIRouter(prefix="/admin", include_in_schema=False)

NOTICES = frozenset({"added", "removed"})


async def _render(p: SignedInPage, *, status: int = 200, error: str | None = None, notice: str | None = None,
                  chosen: dict[str, str] | None = None) -> Response:
    title = p.t("rcp.title")
    try:
        view = await recipients.recipients(p.services, p.actor)
    except Forbidden:
        return p.render("governance/message.html", status=403, title=title, section="report_recipients",
                        message=p.t("rcp.forbidden"))
    sentence = p.t("sig.recipients.will." + view.receivers.key)
    return p.render("governance/report_recipients.html", status=status, title=title, section="report_recipients",
                    view=view, sentence=sentence, error=error, notice=notice, chosen=chosen or {})


@router.get("/signalement")
@ui
async def recipients_page(request: Request) -> Response:
    p = await signed_in(request)
    notice = request.query_params.get("fait")
    return await _render(p, notice=p.t("rcp.notice." + notice) if notice in NOTICES else None)


@router.post("/signalement")
@ui
async def recipients_change(request: Request) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    on = field_of(form, "on", 2) != "0"
    chosen = {"person_id": field_of(form, "person_id", 64), "function": field_of(form, "function", 32)}
    try:
        if not chosen["person_id"]:
            raise InvalidInput("rcp.choose_person")
        if chosen["function"] not in ("quality_lead", "director"):
            raise InvalidInput("rcp.choose_function")
        try:
            person_id = uuid.UUID(chosen["person_id"])
        except ValueError as exc:
            raise InvalidInput("rcp.choose_person") from exc
        await designations.designate(p.services, p.actor, person_id, chosen["function"], on)
    except Forbidden:
        return await _render(p, status=403)
    except ChevetError as exc:
        message = p.t("rcp.person_unknown") if exc.code == "person_not_found" else p.error_text(exc)
        return await _render(p, status=422, error=message, chosen=chosen if on else None)
    return p.redirect("/admin/signalement?fait=" + ("added" if on else "removed"))

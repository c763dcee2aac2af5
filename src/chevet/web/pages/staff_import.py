"""Console: importing staff from a CSV file (``/admin/people/import``). Upload, a dry run that
lists the refused lines first (in French, by line number) then the people to invite, and
"Importer N personnes"; the file waits on the server between the two (``web.staff_upload``)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.identity import staff_import
from chevet.core.errors import Forbidden, InvalidInput, TooLarge
from chevet.core.staff_file import MAX_BYTES, StaffFileRejected
from chevet.web import staff_upload
from chevet.web.invitation_mail import invitation_mail
from chevet.web.pages.page import SignedInPage, check_csrf, field_of, read_form, signed_in, ui
from chevet.web.staff_problems import problem_text, rejected_text
from chevet.web.uploads import read_multipart

router = APIRouter(prefix="/admin", include_in_schema=False)
UPLOAD_FORM_PATH = re.compile(r"^/admin/people/import$")
UPLOAD_BODY_BYTES = MAX_BYTES + 65536
SHOWN_ROWS = 200


async def _page(request: Request) -> SignedInPage:
    p = await signed_in(request)
    if not p.can("manage_people"):
        raise Forbidden("forbidden")
    return p


def _render(p: SignedInPage, status: int = 200, **context: object) -> Response:
    context = {"error": None, "preview": None, "result": None, "token": None, "problems": [], **context}
    return p.render("governance/staff_import.html", status=status, title=p.t("staff.title"), section="import",
                    shown_rows=SHOWN_ROWS, **context)


@router.get("/people/import")
@ui
async def import_page(request: Request) -> Response:
    return _render(await _page(request))


@router.post("/people/import")
@ui
async def check_file(request: Request) -> Response:
    """The dry run: nothing changes; the file is kept for "Importer" under a token."""
    p = await _page(request)
    try:
        form = await read_multipart(request, UPLOAD_BODY_BYTES, 1, frozenset({"csrf"}), 4096)
    except TooLarge:
        return _render(p, 413, error=rejected_text(p.lang, StaffFileRejected("too_big")))
    except InvalidInput:
        return _render(p, 422, error=p.t("staff.rejected.no_file"))
    check_csrf(p, form.one("csrf"))
    if not form.files or not form.files[0].data:
        return _render(p, 422, error=p.t("staff.rejected.no_file"))
    data = form.files[0].data
    try:
        seen = await staff_import.preview(p.services, p.actor, data)
    except StaffFileRejected as refused:
        return _render(p, 422, error=rejected_text(p.lang, refused))
    token = staff_upload.keep(p.request.app.state.settings, p.actor.id, data) if seen.rows else None
    return _render(p, preview=seen, token=token, problems=[problem_text(p.lang, x) for x in seen.problems])


@router.post("/people/import/apply")
@ui
async def apply_file(request: Request) -> Response:
    p = await _page(request)
    form = await read_form(p)
    settings = p.request.app.state.settings
    data = staff_upload.take(settings, p.actor.id, field_of(form, "token", 64))
    if data is None:
        return _render(p, 410, error=p.t("staff.rejected.expired"))
    days = max(1, round(p.services.policy.invitation_lifetime.total_seconds() / 86400))
    origin = settings.server.public_url or str(request.base_url).rstrip("/")
    try:
        done = await staff_import.apply(p.services, p.actor, data,
                                        mail=invitation_mail(origin, p.actor.organisation.name, days))
    except StaffFileRejected as refused:
        return _render(p, 422, error=rejected_text(p.lang, refused))
    return _render(p, result=done, problems=[problem_text(p.lang, x) for x in done.problems
                                             if x.code != "already_present"])

"""The console's audit receipt: the DPO downloads a signed receipt of her organisation's audit
trail as it is now, to keep outside the installation; the page says what it proves and how it
is checked."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.governance import receipts
from chevet.core.errors import Forbidden, InvalidInput, NotFound
from chevet.core.roles import Permission
from chevet.web.pages.page import SignedInPage, read_form, signed_in, ui

router = APIRouter(prefix="/gouvernance/recu", include_in_schema=False)
SECTION = "receipt"


def _page(p: SignedInPage, *, status: int = 200, message: str | None = None) -> Response:
    return p.render("governance/receipt.html", status=status, title=p.t("gov.receipt.title"), section=SECTION,
                    message=message)


def _refused(p: SignedInPage) -> Response:
    return p.render("governance/message.html", status=403, title=p.t("gov.receipt.title"), section=SECTION,
                    message=p.t("gov.forbidden"))


@router.get("")
@ui
async def receipt_page(request: Request) -> Response:
    p = await signed_in(request)
    if not p.can(Permission.VIEW_AUDIT.value):
        return _refused(p)
    return _page(p)


@router.post("")
@ui
async def download(request: Request) -> Response:
    p = await signed_in(request)
    await read_form(p)  # the CSRF check
    try:
        issued = await receipts.issue(p.services, p.actor, lambda org, entries, at: p.t(
            "gov.receipt.summary", org=org, entries=p.number(entries), when=p.moment(at)))
    except Forbidden:
        return _refused(p)
    except (InvalidInput, NotFound) as exc:  # no audit key on this installation; the organisation is gone
        return _page(p, status=503 if isinstance(exc, InvalidInput) else 404, message=p.error_text(exc))
    return p.finish(Response(issued.content, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{issued.file_name}"', "Cache-Control": "no-store"}))

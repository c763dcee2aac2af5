"""The console's operations page (``/gouvernance/travaux``): start an export, an import or a
backup, follow their progress (a small script polls ``/gouvernance/travaux/etat``; without it the
page refreshes itself while something runs), and download what they produced after confirming
one's identity."""

from __future__ import annotations

import os
import re
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from chevet.app.governance import operations as ops
from chevet.bootstrap.operation_files import input_path, operations_folder
from chevet.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TooLarge
from chevet.core.ids import new_id
from chevet.core.operation import MAX_IMPORT_BYTES, OperationKind, OperationState, may_see_console, may_start
from chevet.web.pages.page import SignedInPage, check_csrf, file_size, read_form, signed_in, ui
from chevet.web.responses import Json
from chevet.web.uploads import read_multipart

router = APIRouter(prefix="/gouvernance/travaux", include_in_schema=False)
IMPORT_PATH = re.compile(r"^/gouvernance/travaux/import$")
IMPORT_BODY_BYTES = MAX_IMPORT_BYTES + 65536
KINDS = {"export": OperationKind.EXPORT, "import": OperationKind.IMPORT, "backup": OperationKind.BACKUP}


def _state_text(p: SignedInPage, view: ops.OperationView) -> str:
    if view.state is OperationState.FAILED and view.error:
        return p.t("ops.state.failed_because", reason=p.t(view.error))
    return p.t(f"ops.state.{view.state.value}")


def _row(p: SignedInPage, v: ops.OperationView) -> dict[str, object]:
    """One operation as the page and its script show it: every text already in words."""
    return {"id": str(v.id), "kind": p.t(f"ops.kind.{v.kind.value}"), "state": v.state.value,
            "state_text": _state_text(p, v), "percent": v.percent,
            "percent_text": p.t("ops.percent", n=p.number(v.percent)),
            "who": v.requested_by or p.t("ops.who.unknown"), "asked": p.moment(v.created_at),
            "finished": p.moment(v.finished_at) if v.finished_at else "",
            "expires": p.moment(v.expires_at) if v.expires_at and v.state is OperationState.DONE else "",
            "size": file_size(v.result_bytes, p.lang) if v.result_bytes is not None else "",
            "input_size": file_size(v.input_bytes, p.lang) if v.input_bytes is not None else "",
            "download": f"/gouvernance/travaux/{v.id}/fichier" if v.downloadable else "",
            "active": v.state in (OperationState.QUEUED, OperationState.RUNNING)}


async def _render(p: SignedInPage, status: int = 200, error: str | None = None, notice: str | None = None) -> Response:
    views = await ops.operations(p.services, p.actor)
    rows = [_row(p, v) for v in views]
    role = p.actor.person.role
    return p.render("governance/operations.html", status=status, title=p.t("ops.title"), section="jobs",
                    rows=rows, error=error, notice=notice, active=any(r["active"] for r in rows),
                    may={k: may_start(role, kind) for k, kind in KINDS.items()},
                    import_max=p.number(MAX_IMPORT_BYTES // (1024 * 1024)))


@router.get("")
@ui
async def operations_page(request: Request, started: str | None = None) -> Response:
    p = await signed_in(request)
    if not may_see_console(p.actor.person.role):
        raise Forbidden("operation_forbidden")
    return await _render(p, notice=p.t("ops.started") if started else None)


@router.get("/etat")
@ui
async def operations_state(request: Request) -> Response:
    """The list as JSON for the page's script (every text already in the person's language)."""
    p = await signed_in(request, touch=False)
    views = await ops.operations(p.services, p.actor)
    return p.finish(Json({"operations": [_row(p, v) for v in views]}))


@router.post("/{kind}")
@ui
async def start_operation(request: Request, kind: str) -> Response:
    p = await signed_in(request)
    wanted = KINDS.get(kind)
    if wanted is None:
        raise NotFound("operation_not_found")
    if not may_start(p.actor.person.role, wanted):
        raise Forbidden("operation_forbidden")
    op_id = new_id()
    try:
        if wanted is OperationKind.IMPORT:
            form = await read_multipart(request, IMPORT_BODY_BYTES, 1, frozenset({"csrf", "passphrase"}), 4096)
            check_csrf(p, (form.fields.get("csrf") or [""])[0])
            secret = (form.fields.get("passphrase") or [""])[0]
            if not form.files or not form.files[0].data:
                raise InvalidInput("operation_import_missing")
            data = form.files[0].data
            if len(data) > MAX_IMPORT_BYTES:
                raise InvalidInput("operation_import_too_large", max=MAX_IMPORT_BYTES // (1024 * 1024))
            path = input_path(p.request.app.state.settings, op_id)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            try:
                await ops.start(p.services, p.actor, wanted, secret, input_name=path.name, input_bytes=len(data),
                                op_id=op_id)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        else:
            form_ = await read_form(p)
            secret = str(form_.get("passphrase") or "")[:1000]
            if secret != str(form_.get("passphrase_again") or "")[:1000]:
                raise InvalidInput("ops.passphrase_mismatch")
            await ops.start(p.services, p.actor, wanted, secret, op_id=op_id)
    except (InvalidInput, Conflict, TooLarge) as exc:  # said on the page, nothing started
        return await _render(p, status=422 if isinstance(exc, InvalidInput) else 409, error=p.error_text(exc))
    return p.redirect("/gouvernance/travaux?started=1")


@router.get("/{op_id}/fichier")
@ui
async def download_result(request: Request, op_id: str) -> Response:
    p = await signed_in(request)
    try:
        wanted = uuid.UUID(op_id)
    except ValueError:
        raise NotFound("operation_not_found") from None
    d = await ops.download(p.services, p.actor, wanted)  # asks to confirm one's identity first
    path = operations_folder(p.request.app.state.settings) / d.stored_name
    if not path.is_file():
        raise NotFound("operation_not_found")
    name = f"chevet-{d.kind.value}-{p.actor.organisation.slug}-{p.local(d.created_at):%Y%m%d-%H%M}.chevet"
    return p.finish(FileResponse(path, media_type="application/octet-stream", filename=name))

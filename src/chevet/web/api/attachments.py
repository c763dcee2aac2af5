"""Attachments over HTTP: limits, upload (multipart), download (streamed, decrypted), and the
organisation's attachment rules."""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import Field, StrictStr
from starlette.requests import ClientDisconnect

from chevet.app.attachments import download as attachment_download
from chevet.app.attachments import resumable
from chevet.app.attachments import upload as attachments
from chevet.app.attachments.views import LimitsView, RulesView, UploadedView, UploadView
from chevet.core.attachment import AttachmentKind, Variant
from chevet.core.errors import InvalidInput
from chevet.core.ids import parse_id
from chevet.web.api.models import Body
from chevet.web.api.openapi import DOWNLOAD, refusals
from chevet.web.deps import ActorDep, ServicesDep
from chevet.web.responses import Json
from chevet.web.uploads import read_upload

router = APIRouter(tags=["attachments"])

UPLOAD_PATH = re.compile(r"^/api/v1/conversations/[^/]+/attachments$")
PIECE_PATH = re.compile(r"^/api/v1/uploads/[^/]+$")
PIECE_TYPES = ("application/offset+octet-stream", "application/octet-stream")
# A downloaded file is shown by the browser, never run: no script, no plugin, no framing.
DOWNLOAD_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'"


class RulesIn(Body):
    org_quota_bytes: int | None = Field(None, ge=0, le=2**62)
    person_quota_bytes: int | None = Field(None, ge=0, le=2**62)
    keep_originals_for: list[StrictStr] = Field(default_factory=list, max_length=10)


def content_disposition(disposition: str, name: str) -> str:
    """RFC 6266: an ASCII fallback and the exact UTF-8 name in ``filename*``."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%;' else "_" for c in name) or "fichier"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def parse_range(header: str | None) -> tuple[int, int] | None:
    """One ``bytes=start-end`` or ``bytes=start-`` range (a resumed download); anything else,
    several ranges included, is ignored and the whole file is sent. A suffix range
    (``bytes=-n``) is not offered: resuming never needs it."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].strip().partition("-")
    if not first.isdigit() or (last and not last.isdigit()) or len(first) > 15 or len(last) > 15:
        return None
    start, end = int(first), int(last) if last else 2**62
    return (start, end) if end >= start else None


@router.get("/attachments/limits")
async def limits(actor: ActorDep, svc: ServicesDep) -> LimitsView:
    """Sizes and types accepted, for the client to show before an upload (RGESN 4.11)."""
    return attachments.limits_view(svc)


@router.post("/conversations/{conversation_id}/attachments", status_code=201, response_model=UploadedView,
             responses=refusals(413))
async def upload(conversation_id: str, request: Request, actor: ActorDep, svc: ServicesDep) -> Json:
    """Upload one file (``multipart/form-data``, field ``file``) to attach to a later message
    (``attachment_ids`` of the message). Images are cleaned and re-encoded by the server."""
    conv_id = parse_id(conversation_id)
    limit = attachments.configured(svc).limits.max_upload_bytes
    file = await read_upload(request, limit)
    view, deduplicated = await attachments.upload(svc, actor, conv_id, data=file.data, name=file.name)
    uploaded: UploadedView = {**view, "deduplicated": deduplicated}
    return Json(uploaded, status_code=201)


class UploadIn(Body):
    size: int = Field(ge=0, le=2**62, description="the whole file's size in bytes")
    name: StrictStr | None = Field(None, max_length=1000)


@router.post("/conversations/{conversation_id}/uploads", status_code=201, response_model=UploadView,
             responses=refusals(404, 413))
async def start_upload(conversation_id: str, body: UploadIn, actor: ActorDep, svc: ServicesDep) -> Json:
    """Begin a resumable upload of a file of ``size`` bytes (docs/attachments.md): then send its
    pieces with ``PATCH /uploads/{id}``. It expires when no piece arrives for a day."""
    view = await resumable.create(svc, actor, parse_id(conversation_id), size=body.size, name=body.name)
    return Json(view, status_code=201, headers={"Location": f"/api/v1/uploads/{view['id']}",
                                                "Upload-Offset": "0"})


@router.get("/uploads/{upload_id}", response_model=UploadView, responses=refusals(404))
async def upload_status(upload_id: str, actor: ActorDep, svc: ServicesDep) -> Json:
    """How many bytes the server holds (``offset``): where to resume after a lost connection."""
    view = await resumable.status(svc, actor, parse_id(upload_id))
    return Json(view, headers={"Upload-Offset": str(view["offset"]), "Cache-Control": "no-store"})


@router.patch("/uploads/{upload_id}", response_model=UploadView, responses={
    201: {"description": "The last piece: the file, checked and stored, to name in ``attachment_ids``",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/UploadedView"}}}},
    **refusals(404, 409, 413, 422)}, openapi_extra={"requestBody": {"required": True, "content": {
        t: {"schema": {"type": "string", "format": "binary"}} for t in PIECE_TYPES}}})
async def upload_piece(upload_id: str, request: Request, actor: ActorDep, svc: ServicesDep) -> Json:
    """Append one piece (raw bytes, at most ``piece_max_bytes``) at ``Upload-Offset``, which must be
    the offset the server holds (else 409 with the right ``offset``). The piece that completes the
    file answers 201 with the attachment; the others 200 with the new offset. A piece cut short by
    a lost connection keeps the bytes that arrived: ask ``GET /uploads/{id}`` where to resume."""
    uid = parse_id(upload_id)
    offset_header = request.headers.get("upload-offset", "")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not offset_header.isdigit() or len(offset_header) > 15 or content_type not in PIECE_TYPES:
        await resumable.status(svc, actor, uid)  # someone else's upload is not found, whatever the request
        raise InvalidInput("upload_piece_type" if content_type not in PIECE_TYPES else "upload_offset_required")
    # Read as it arrives: should the connection drop, what did arrive is kept, and the
    # client resumes after it rather than sending this piece again.
    data = bytearray()
    try:
        async for chunk in request.stream():
            data += chunk
    except ClientDisconnect:
        if data:
            await resumable.append(svc, actor, uid, offset=int(offset_header), data=bytes(data))
        return Json({}, status_code=400)  # nobody is listening any more
    view, done = await resumable.append(svc, actor, uid, offset=int(offset_header), data=bytes(data))
    headers = {"Upload-Offset": str(view["offset"])}
    if done is None:
        return Json(view, headers=headers)
    uploaded: UploadedView = {**done[0], "deduplicated": done[1]}
    return Json(uploaded, status_code=201, headers=headers)


@router.delete("/uploads/{upload_id}", status_code=204, responses=refusals(404))
async def abandon_upload(upload_id: str, actor: ActorDep, svc: ServicesDep) -> Response:
    """Give up an upload under way: the pieces received are deleted."""
    await resumable.discard(svc, actor, parse_id(upload_id))
    return Response(status_code=204)


async def _send(request: Request, svc: ServicesDep, actor: ActorDep, attachment_id: str,
                variant: Variant) -> Response:
    aid = parse_id(attachment_id)
    wanted = parse_range(request.headers.get("range"))
    try:
        d = await attachment_download.download(svc, actor, aid, variant, wanted)
    except attachment_download.RangeNotSatisfiable as exc:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{exc.params.get('size', 0)}"})
    return await file_response(request, d, f'"{aid}-{variant.value}"', thumbnail=variant is Variant.THUMBNAIL,
                               inline=d.kind is AttachmentKind.IMAGE and variant is not Variant.ORIGINAL)


async def file_response(request: Request, d: attachment_download.Download, etag: str, *, inline: bool,
                        thumbnail: bool = False) -> Response:
    """A decrypted file as the browser should get it: shown (images) or saved, never run,
    whole or as the range asked for."""
    # A stored file never changes under its id: a browser that has it need not fetch it again
    # (checked only after the caller's access check).
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        await d.body.aclose()
        return Response(status_code=304, headers={"ETag": etag})
    mime = "text/plain; charset=utf-8" if d.mime == "text/plain" else d.mime
    headers = {
        "Content-Disposition": content_disposition("inline" if inline else "attachment", d.name),
        "Content-Length": str(d.size),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": DOWNLOAD_CSP,
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cache-Control": "private, max-age=604800, immutable" if thumbnail else "private, no-store",
        "ETag": etag,
        "Accept-Ranges": "bytes",
    }
    if d.byte_range is not None:
        start, end = d.byte_range
        headers["Content-Range"] = f"bytes {start}-{end}/{d.size}"
        headers["Content-Length"] = str(end - start + 1)
        return StreamingResponse(d.body, status_code=206, media_type=mime, headers=headers)
    return StreamingResponse(d.body, media_type=mime, headers=headers)


@router.get("/attachments/{attachment_id}", response_class=Response, responses=DOWNLOAD)
async def download(attachment_id: str, request: Request, actor: ActorDep, svc: ServicesDep,
                   variant: Variant = Query(Variant.CONTENT)) -> Response:
    """The file, decrypted, for members who can see its message."""
    return await _send(request, svc, actor, attachment_id, variant)


@router.get("/attachments/{attachment_id}/thumbnail", response_class=Response, responses=DOWNLOAD)
async def thumbnail(attachment_id: str, request: Request, actor: ActorDep, svc: ServicesDep) -> Response:
    return await _send(request, svc, actor, attachment_id, Variant.THUMBNAIL)


@router.delete("/attachments/{attachment_id}", status_code=204)
async def discard(attachment_id: str, actor: ActorDep, svc: ServicesDep) -> Response:
    """Withdraw an upload that was not sent (sent files go with their message)."""
    await attachments.discard(svc, actor, parse_id(attachment_id))
    return Response(status_code=204)


@router.get("/admin/attachments/rules")
async def get_rules(actor: ActorDep, svc: ServicesDep) -> RulesView:
    return await attachments.get_rules(svc, actor)


@router.put("/admin/attachments/rules")
async def set_rules(body: RulesIn, actor: ActorDep, svc: ServicesDep) -> RulesView:
    """Quotas for the organisation (null: the installation's default) and the conversation
    kinds whose original files are kept next to the processed copy."""
    return await attachments.set_rules(svc, actor, org_quota_bytes=body.org_quota_bytes,
                                       person_quota_bytes=body.person_quota_bytes,
                                       keep_originals_for=body.keep_originals_for)

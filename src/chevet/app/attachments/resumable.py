"""Resumable uploads: a file announced with its size, sent in pieces appended at the offset
the server holds, and made an attachment (with every check of ``upload``) by its last piece.

A phone that loses the network halfway asks for the offset and sends the rest, instead of the
whole file again. The pieces wait in the database sealed with the conversation's key, bound to
their upload and offset; an upload belongs to one person in one conversation of one
organisation, counts against a per-person bound while under way, and expires when no piece has
arrived for ``pending_hours``.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from chevet.app.access import conversation_access
from chevet.app.attachments import upload as attachments
from chevet.app.attachments.views import AttachmentView, UploadView
from chevet.app.services import Actor, Services
from chevet.core.errors import ChevetError, Conflict, InvalidInput, NotFound, TooLarge, Unavailable
from chevet.core.ids import new_id
from chevet.core.upload import PartialUpload, piece_aad, upload_name_aad
from chevet.ports import Transaction

MAX_NAME = 255


def _expiry(services: Services) -> timedelta:
    return timedelta(hours=attachments.configured(services).limits.pending_hours)


def _view(services: Services, u: PartialUpload) -> UploadView:
    limits = attachments.configured(services).limits
    return {"id": str(u.id), "conversation_id": str(u.conversation_id), "size": u.size, "offset": u.received,
            "piece_max_bytes": limits.upload_piece_bytes, "expires_at": (u.updated_at + _expiry(services)).isoformat(),
            "attachment_id": str(u.attachment_id) if u.attachment_id else None}


async def create(services: Services, actor: Actor, conversation_id: uuid.UUID, *, size: int,
                 name: str | None) -> UploadView:
    """Announce a file of ``size`` bytes for a later message of ``conversation_id``."""
    cfg = attachments.configured(services)
    if size <= 0:
        raise InvalidInput("attachment_empty")
    if size > cfg.limits.max_upload_bytes:
        raise TooLarge("attachment_too_large", max=cfg.limits.max_upload_bytes)
    now = services.clock.now()
    async with services.db.transaction() as tx:
        a = await conversation_access(services, tx, actor, conversation_id)
        await tx.attachments.lock_organisation(actor.org_id)
        under_way = await tx.uploads.open_bytes(actor.org_id, actor.id, now - _expiry(services))
        if under_way + size > cfg.limits.open_upload_bytes:
            raise TooLarge("upload_space_exceeded", max=cfg.limits.open_upload_bytes)
        upload_id = new_id()
        sealed_name = a.key.seal((name or "")[:MAX_NAME].encode(), upload_name_aad(conversation_id, upload_id))
        u = PartialUpload(upload_id, actor.org_id, conversation_id, actor.id, size, 0, sealed_name, now, now)
        await tx.uploads.add(u)
    return _view(services, u)


async def _own(services: Services, tx: Transaction, actor: Actor, upload_id: uuid.UUID, now: datetime, *,
               lock: bool = False) -> PartialUpload:
    """The caller's upload, still alive: anyone else's, or one expired, is not found."""
    u = await tx.uploads.get(actor.org_id, upload_id, lock=lock)
    if u is None or u.person_id != actor.id or u.updated_at + _expiry(services) <= now:
        raise NotFound("upload_not_found")
    return u


async def status(services: Services, actor: Actor, upload_id: uuid.UUID) -> UploadView:
    """Where the upload stands: the offset from which to send the rest."""
    async with services.db.transaction() as tx:
        return _view(services, await _own(services, tx, actor, upload_id, services.clock.now()))


async def append(services: Services, actor: Actor, upload_id: uuid.UUID, *, offset: int,
                 data: bytes) -> tuple[UploadView, tuple[AttachmentView, bool] | None]:
    """Add one piece at ``offset``, which must be the number of bytes already received.
    The piece that completes the file makes it an attachment: returns its view and whether
    it was deduplicated (None while pieces are missing). An empty piece at the end retries
    that step after a service was unavailable."""
    cfg = attachments.configured(services)
    if len(data) > cfg.limits.upload_piece_bytes:
        raise TooLarge("upload_piece_too_large", max=cfg.limits.upload_piece_bytes)
    now = services.clock.now()
    async with services.db.transaction() as tx:
        u = await _own(services, tx, actor, upload_id, now, lock=True)
        if u.attachment_id is not None:  # done already: the answer to the last piece was lost
            return _view(services, u), None
        if offset != u.received:
            raise Conflict("upload_offset_mismatch", offset=u.received)
        if offset + len(data) > u.size:
            raise TooLarge("upload_beyond_size", size=u.size)
        if data:
            a = await conversation_access(services, tx, actor, u.conversation_id)
            sealed = await asyncio.to_thread(a.key.seal, data, piece_aad(u.conversation_id, u.id, offset))
            if not await tx.uploads.append(u, offset, sealed, offset + len(data), now):
                raise Conflict("upload_offset_mismatch", offset=u.received)
            u = replace(u, received=offset + len(data), updated_at=now)
    if not u.complete:
        return _view(services, u), None
    return _view(services, u), await _finish(services, actor, u)


async def _finish(services: Services, actor: Actor, u: PartialUpload) -> tuple[AttachmentView, bool]:
    async with services.db.transaction() as tx:
        a = await conversation_access(services, tx, actor, u.conversation_id)
        pieces = await tx.uploads.pieces(u.id)
    name = a.key.open(u.name_sealed, upload_name_aad(u.conversation_id, u.id)).decode() or None
    data = await asyncio.to_thread(
        lambda: b"".join(a.key.open(sealed, piece_aad(u.conversation_id, u.id, offset)) for offset, sealed in pieces))
    if len(data) != u.size:  # pragma: no cover - append keeps them in step
        raise InvalidInput("upload_incomplete", offset=len(data))
    try:
        result = await attachments.upload(services, actor, u.conversation_id, data=data, name=name)
    except Unavailable:
        raise  # kept: an empty piece at the end tries again
    except ChevetError:
        await _forget(services, actor.org_id, u.id)  # refused: the file will not be accepted later either
        raise
    # The upload remembers its attachment until it expires: a client whose connection dropped
    # before the answer learns it from GET (or an empty piece) instead of sending it again.
    async with services.db.transaction() as tx:
        await tx.uploads.finished(u.id, uuid.UUID(result[0]["id"]), services.clock.now())
    return result


async def _forget(services: Services, org_id: uuid.UUID, upload_id: uuid.UUID) -> None:
    async with services.db.transaction() as tx:
        if await tx.uploads.get(org_id, upload_id) is not None:
            await tx.uploads.delete(upload_id)


async def discard(services: Services, actor: Actor, upload_id: uuid.UUID) -> None:
    """Give up an upload under way: its pieces are deleted (an attachment it became stays:
    ``DELETE /attachments/{id}`` withdraws it)."""
    async with services.db.transaction() as tx:
        u = await _own(services, tx, actor, upload_id, services.clock.now())
        await tx.uploads.delete(u.id)


async def purge_abandoned(services: Services) -> int:
    """Remove uploads no piece has reached for ``pending_hours``. Returns how many."""
    cutoff = services.clock.now() - _expiry(services)
    removed = 0
    while True:
        async with services.db.transaction() as tx:
            stale = await tx.uploads.stale(cutoff, 500)
            for u in stale:
                await tx.uploads.delete(u.id)
        removed += len(stale)
        if len(stale) < 500:
            return removed

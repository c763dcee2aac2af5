"""Downloads: an attachment's decrypted contents, for members who can see its message,
streamed chunk by chunk, whole or as one byte range (a download resumed on a poor link)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from chevet.app.access import conversation_access
from chevet.app.attachments.config import AttachmentServices
from chevet.app.attachments.upload import attachment_view, blob_key_of, configured
from chevet.app.services import Actor, Services
from chevet.core import sealed_stream
from chevet.core.attachment import Attachment, AttachmentKind, Variant, blob_aad, content_key
from chevet.core.conversation import ConversationKind
from chevet.core.envelope import DataKey
from chevet.core.errors import IntegrityError, InvalidInput, NotFound
from chevet.core.message import MessageFlag

# Kinds whose every document read is traced (care data, documents exchanged with the outside).
READ_AUDITED = {ConversationKind.CARE_CASE: "care_case.attachment_read",
                ConversationKind.EXTERNAL: "mssante.attachment_read"}


@dataclass(frozen=True, slots=True)
class Download:
    name: str
    mime: str
    size: int
    kind: AttachmentKind
    body: AsyncGenerator[bytes, None]
    byte_range: tuple[int, int] | None = None  # the part sent (inclusive), for a ranged request


async def download(services: Services, actor: Actor, attachment_id: uuid.UUID,
                   variant: Variant = Variant.CONTENT, byte_range: tuple[int, int] | None = None) -> Download:
    """The decrypted file, for a member who can see the message it belongs to (or, before it
    is sent, for its uploader). Anyone else gets "not found", as if it did not exist."""
    cfg = configured(services)
    async with services.unit(actor.ip) as u:
        att = await u.tx.attachments.get(actor.org_id, attachment_id)
        if att is None:
            raise NotFound("attachment_not_found")
        try:
            a = await conversation_access(services, u.tx, actor, att.conversation_id)
        except NotFound as exc:
            raise NotFound("attachment_not_found") from exc
        if att.entry_id is None:
            if att.uploader_id != actor.id:
                raise NotFound("attachment_not_found")
        else:
            e = await u.tx.entries.get(att.conversation_id, att.entry_id)
            if e is None or e.seq < a.membership.visible_from_seq or e.flags & MessageFlag.DELETED:
                raise NotFound("attachment_not_found")
        address = att.address_of(variant)
        if address is None:
            raise NotFound("attachment_not_found")
        if variant is not Variant.THUMBNAIL and a.conversation.kind in READ_AUDITED:
            await u.audit(actor.org_id, READ_AUDITED[a.conversation.kind], actor.id, "attachment", att.id,
                          conversation=str(att.conversation_id), variant=variant.value)
        elif variant is Variant.ORIGINAL:
            await u.audit(actor.org_id, "attachment.original_read", actor.id, "attachment", att.id)
        view = attachment_view(att, a.key)
        key = blob_key_of(att.conversation_id, address)
        sealed = await cfg.blobs.size(key)
        if sealed is None:
            raise IntegrityError("attachment_missing")
    mime = att.mime
    name = view["name"]
    if variant is Variant.THUMBNAIL:
        mime, name = "image/webp", name.rsplit(".", 1)[0] + "-vignette.webp"
    elif variant is Variant.ORIGINAL:
        mime, name = "application/octet-stream", name.rsplit(".", 1)[0] + "-original"
    size = sealed_stream.plain_size(sealed)
    if byte_range is not None:
        start, end = byte_range[0], min(byte_range[1], size - 1)
        if not 0 <= start <= end:
            raise RangeNotSatisfiable("range_not_satisfiable", size=size)
        return Download(name=name, mime=mime, size=size, kind=att.kind, byte_range=(start, end),
                        body=opened_range(cfg, a.key, att.conversation_id, address, key, size, start, end))
    return Download(name=name, mime=mime, size=size, kind=att.kind,
                    body=opened(cfg, a.key, att.conversation_id, address, key))


async def opened(cfg: AttachmentServices, key: DataKey, conversation_id: uuid.UUID, address: bytes,
                 blob: str) -> AsyncGenerator[bytes, None]:
    """A stored file decrypted piece by piece. ``conversation_id`` is the id the file was
    sealed under (a report's id for the files of a report)."""
    opener = sealed_stream.Opener(content_key(key), blob_aad(conversation_id, address))
    async for piece in cfg.blobs.read(blob):
        plain = opener.feed(piece)
        if plain:
            yield plain
    last = opener.close()
    if last:
        yield last


async def contents(services: Services, key: DataKey, att: Attachment) -> bytes:
    """A whole attachment's decrypted content, for the caller that already checked access
    (the MSSanté gateway building the mail that carries it)."""
    cfg = configured(services)
    blob = blob_key_of(att.conversation_id, att.content_address)
    return b"".join([piece async for piece in opened(cfg, key, att.conversation_id, att.content_address, blob)])


class RangeNotSatisfiable(InvalidInput):
    """A ``Range`` outside the file (HTTP 416)."""


async def opened_range(cfg: AttachmentServices, key: DataKey, conversation_id: uuid.UUID, address: bytes,
                       blob: str, size: int, start: int, end: int) -> AsyncGenerator[bytes, None]:
    """Only the chunks that hold ``start``..``end``: a download cut on a poor link resumes
    where it stopped instead of starting over."""
    header = b"".join([p async for p in cfg.blobs.read(blob, 0, sealed_stream.HEADER.size)])
    chunk = sealed_stream.HEADER.unpack(header)[1] if len(header) == sealed_stream.HEADER.size else 0
    if not 0 < chunk <= sealed_stream.MAX_CHUNK:
        raise IntegrityError("ciphertext_invalid")
    first, offset, length, skip = sealed_stream.chunk_span(size, start, end, chunk)
    opener = sealed_stream.RangeOpener(content_key(key), blob_aad(conversation_id, address), header, first,
                                       size // chunk + 1)
    wanted = end - start + 1
    async for piece in cfg.blobs.read(blob, offset, length):
        plain = opener.feed(piece)
        if skip:
            plain, skip = plain[skip:], max(0, skip - len(plain))
        if plain and wanted > 0:
            yield plain[:wanted]
            wanted -= min(len(plain), wanted)
    last = opener.close()[skip:]
    if last and wanted > 0:
        yield last[:wanted]

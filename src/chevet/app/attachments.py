"""Attachments: upload (checked, cleaned, deduplicated, within quota), download (members
only), their place in messages, and their removal with the message.

An upload is refused before anything is written when it is too large, of a type not on the
allow-list, infected, unreadable or over quota. Files are sealed with the conversation's data
key before they reach the blob store; the name is sealed in the database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chevet.app.attachment_config import AttachmentServices
from chevet.app.conversations import Access, access
from chevet.app.services import Actor, Services, Unit
from chevet.core import sealed_stream
from chevet.core.attachment import (
    Attachment,
    AttachmentKind,
    AttachmentRules,
    FileType,
    StoredBlob,
    Variant,
    blob_aad,
    blob_address,
    blob_key,
    check_pdf,
    clean_name,
    content_key,
    dedup_tag,
    name_aad,
    sniff,
    type_of,
)
from chevet.core.conversation import ConversationKind
from chevet.core.entities import Entry
from chevet.core.envelope import DataKey
from chevet.core.errors import Forbidden, IntegrityError, InvalidInput, NotFound, TooLarge, Unavailable
from chevet.core.ids import new_id
from chevet.core.message import MessageFlag
from chevet.core.roles import Permission, can
from chevet.ports import Transaction


def configured(services: Services) -> AttachmentServices:
    if services.attachments is None:
        raise Unavailable("attachments_unavailable")
    return services.attachments


def limits_view(services: Services) -> dict[str, Any]:
    """What a client shows before an upload (RGESN 4.11): sizes and accepted types."""
    cfg = configured(services)
    types: list[str] = []
    if "image" in cfg.limits.families:
        types += cfg.media.accepted_images
    if "pdf" in cfg.limits.families:
        types.append("application/pdf")
    if "text" in cfg.limits.families:
        types.append("text/plain")
    return {"max_upload_bytes": cfg.limits.max_upload_bytes, "accepted_types": types,
            "max_per_message": cfg.limits.max_per_message, "max_image_pixels": cfg.limits.max_image_pixels,
            "stored_image_max_side": cfg.limits.image_max_side,
            "antivirus": cfg.scanner is not None}


def _key(conversation_id: uuid.UUID, address: bytes) -> str:
    return blob_key(conversation_id.hex, address)


def attachment_view(att: Attachment, key: DataKey) -> dict[str, Any]:
    name = key.open(att.name_sealed, name_aad(att.conversation_id, att.id)).decode()
    return {"id": str(att.id), "conversation_id": str(att.conversation_id), "kind": att.kind.value,
            "mime": att.mime, "size": att.size, "name": name, "width": att.width, "height": att.height,
            "thumbnail": att.thumbnail_address is not None, "original": att.original_address is not None,
            "created_at": att.created_at.isoformat(), "uploader_id": str(att.uploader_id),
            "message_id": str(att.entry_id) if att.entry_id else None}


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What an upload will store, computed before the write transaction."""

    kind: AttachmentKind
    mime: str
    size: int
    width: int | None
    height: int | None
    variants: tuple[tuple[Variant, bytes, bytes], ...]  # (variant, contents, keyed address)


async def _prepare(cfg: AttachmentServices, key: DataKey, data: bytes, file_type: FileType,
                   keep_original: bool) -> _Prepared:
    if file_type.kind is AttachmentKind.IMAGE:
        img = await cfg.media.process_image(data, file_type)
        contents = [(Variant.CONTENT, img.content), (Variant.THUMBNAIL, img.thumbnail)]
        if keep_original:
            contents.append((Variant.ORIGINAL, data))
        kind, mime, size, width, height = AttachmentKind.IMAGE, img.mime, len(img.content), img.width, img.height
    else:
        if file_type.family == "pdf":
            check_pdf(data)
        contents = [(Variant.CONTENT, data)]
        kind, mime, size, width, height = file_type.kind, file_type.mime, len(data), None, None
    variants = await asyncio.to_thread(lambda: tuple((v, c, blob_address(key, c)) for v, c in contents))
    return _Prepared(kind, mime, size, width, height, variants)


async def upload(services: Services, actor: Actor, conversation_id: uuid.UUID, *, data: bytes,
                 name: str | None) -> tuple[dict[str, Any], bool]:
    """Store one file for a later message of ``conversation_id``. Returns its view and whether
    its contents were already stored in this conversation (deduplicated)."""
    cfg = configured(services)
    if len(data) > cfg.limits.max_upload_bytes:
        raise TooLarge("attachment_too_large", max=cfg.limits.max_upload_bytes)
    if not data:
        raise InvalidInput("attachment_empty")
    async with services.db.transaction() as tx:
        a = await access(services, tx, actor, conversation_id)
        rules = await tx.attachments.rules(actor.org_id)
    # Hashing and type checks over up to tens of megabytes: in a worker thread, off the loop.
    tag, file_type = await asyncio.to_thread(lambda: (dedup_tag(a.key, data), sniff(data)))
    async with services.db.transaction() as tx:
        known = await tx.attachments.by_dedup_tag(conversation_id, tag)
        if known is None:
            await _check_quota(tx, cfg, actor, rules, 1)
    if file_type is None or file_type.family not in cfg.limits.families \
            or (file_type.kind is AttachmentKind.IMAGE and file_type.mime not in cfg.media.accepted_images):
        raise InvalidInput("attachment_type_refused", allowed=", ".join(limits_view(services)["accepted_types"]))
    if cfg.scanner is not None:
        found = await cfg.scanner.scan(data)
        if found is not None:
            raise InvalidInput("attachment_infected", signature=found)
    prepared = None if known is not None else await _prepare(
        cfg, a.key, data, file_type, a.conversation.kind.value in rules.keep_originals_for)
    stored_mime = known.mime if known is not None else prepared.mime if prepared is not None else file_type.mime

    written: list[str] = []
    try:
        async with services.unit(actor.ip) as u:
            a = await access(services, u.tx, actor, conversation_id)
            await u.tx.attachments.lock_organisation(actor.org_id)
            known = await u.tx.attachments.by_dedup_tag(conversation_id, tag)
            if known is None and prepared is None:  # the copy we matched was removed meanwhile
                prepared = await _prepare(cfg, a.key, data, file_type,
                                          a.conversation.kind.value in rules.keep_originals_for)
            if prepared is not None:
                stored_mime = prepared.mime
            display_name = clean_name(name, type_of(stored_mime))
            att = await _store(u, cfg, actor, a, rules, tag, known, prepared, len(data), display_name, written)
            await u.audit(actor.org_id, "attachment.uploaded", actor.id, "attachment", att.id,
                          conversation=str(conversation_id), kind=att.kind.value, size=att.size,
                          deduplicated=att.deduplicated)
            return attachment_view(att, a.key), att.deduplicated
    except BaseException:
        for key in written:
            await cfg.blobs.delete(key)
        raise


async def _check_quota(tx: Transaction, cfg: AttachmentServices, actor: Actor, rules: AttachmentRules,
                       needed: int) -> None:
    org_quota = rules.org_quota_bytes if rules.org_quota_bytes is not None else cfg.limits.quota_org_bytes
    person_quota = rules.person_quota_bytes if rules.person_quota_bytes is not None \
        else cfg.limits.quota_person_bytes
    org_used = await tx.attachments.usage(actor.org_id)
    if org_used + needed > org_quota:
        raise TooLarge("quota_exceeded_organisation", scope="organisation", remaining=max(0, org_quota - org_used),
                       quota=org_quota)
    person_used = await tx.attachments.usage(actor.org_id, actor.id)
    if person_used + needed > person_quota:
        raise TooLarge("quota_exceeded_person", scope="person", remaining=max(0, person_quota - person_used),
                       quota=person_quota)


async def _store(u: Unit, cfg: AttachmentServices, actor: Actor, a: Access, rules: AttachmentRules, tag: bytes,
                 known: Attachment | None, prepared: _Prepared | None, uploaded: int, name: str,
                 written: list[str]) -> Attachment:
    conv_id = a.conversation.id
    now = u.services.clock.now()
    att_id = new_id()
    name_sealed = a.key.seal(name.encode(), name_aad(conv_id, att_id))
    if known is not None:
        att = Attachment(id=att_id, org_id=actor.org_id, conversation_id=conv_id, uploader_id=actor.id,
                         entry_id=None, created_at=now, kind=known.kind, mime=known.mime, size=known.size,
                         uploaded_size=uploaded, width=known.width, height=known.height, name_sealed=name_sealed,
                         content_address=known.content_address, thumbnail_address=known.thumbnail_address,
                         original_address=known.original_address, dedup_tag=tag, deduplicated=True)
        await u.tx.attachments.add(att)
        return att
    assert prepared is not None
    addresses: dict[Variant, bytes] = {}
    new: list[tuple[Variant, bytes, bytes]] = []
    for variant, content, address in prepared.variants:
        addresses[variant] = address
        if not await u.tx.attachments.blob_exists(conv_id, address) and all(address != n[1] for n in new):
            new.append((variant, address, content))
    needed = sum(sealed_stream.sealed_size(len(content)) for _, _, content in new)
    await _check_quota(u.tx, cfg, actor, rules, needed)
    for variant, address, content in new:
        key = _key(conv_id, address)
        written.append(key)
        size = await cfg.blobs.put(key, sealed_stream.seal(content_key(a.key), blob_aad(conv_id, address), content))
        await u.tx.attachments.add_blob(StoredBlob(conv_id, address, actor.org_id, actor.id, prepared.kind,
                                                   variant, size, now))
    att = Attachment(id=att_id, org_id=actor.org_id, conversation_id=conv_id, uploader_id=actor.id, entry_id=None,
                     created_at=now, kind=prepared.kind, mime=prepared.mime, size=prepared.size,
                     uploaded_size=uploaded, width=prepared.width, height=prepared.height, name_sealed=name_sealed,
                     content_address=addresses[Variant.CONTENT],
                     thumbnail_address=addresses.get(Variant.THUMBNAIL),
                     original_address=addresses.get(Variant.ORIGINAL), dedup_tag=tag, deduplicated=False)
    await u.tx.attachments.add(att)
    return att


# --- in messages ---------------------------------------------------------------------------
async def claim(u: Unit, actor: Actor, a: Access, ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Check that the files about to be attached were uploaded by the sender to this
    conversation and are not attached yet. Returns them deduplicated, in order."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    cfg = configured(u.services)
    if len(wanted) > cfg.limits.max_per_message:
        raise InvalidInput("too_many_attachments", max=cfg.limits.max_per_message)
    found = {att.id: att for att in await u.tx.attachments.many(a.conversation.id, wanted)}
    for att_id in wanted:
        att = found.get(att_id)
        if att is None or att.uploader_id != actor.id or att.entry_id is not None:
            raise InvalidInput("attachment_not_available")
    return wanted


async def attach(u: Unit, a: Access, ids: Sequence[uuid.UUID], entry_id: uuid.UUID) -> None:
    if ids:
        await u.tx.attachments.attach(a.conversation.id, ids, entry_id)


async def add_views(tx: Transaction, key: DataKey, conversation_id: uuid.UUID,
                    pairs: Sequence[tuple[Entry, dict[str, Any]]]) -> None:
    """Put each message's attachments in its view (one query per page, and none at all when
    no message of the page has files)."""
    for _, view in pairs:
        view.setdefault("attachments", [])
    flagged = [e.id for e, view in pairs if e.flags & MessageFlag.ATTACHMENTS and not view.get("deleted")]
    if not flagged:
        return
    by_entry: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for att in await tx.attachments.for_entries(conversation_id, flagged):
        if att.entry_id is not None:
            by_entry.setdefault(att.entry_id, []).append(attachment_view(att, key))
    for e, view in pairs:
        if e.id in by_entry:
            view["attachments"] = by_entry[e.id]


async def remove_for_entry(u: Unit, conversation_id: uuid.UUID, entry: Entry) -> list[str]:
    """With a deleted message go its files. Returns the blob keys to delete once committed."""
    if not entry.flags & MessageFlag.ATTACHMENTS:
        return []
    atts = await u.tx.attachments.for_entries(conversation_id, [entry.id])
    return await _remove(u.tx, conversation_id, atts)


async def _remove(tx: Transaction, conversation_id: uuid.UUID, atts: Sequence[Attachment]) -> list[str]:
    if not atts:
        return []
    await tx.attachments.lock_organisation(atts[0].org_id)
    await tx.attachments.delete(conversation_id, [att.id for att in atts])
    gone: list[str] = []
    addresses = {addr for att in atts for addr in (att.content_address, att.thumbnail_address,
                                                   att.original_address) if addr is not None}
    for address in sorted(addresses):
        if await tx.attachments.release_blob(conversation_id, address):
            gone.append(_key(conversation_id, address))
    return gone


async def delete_files(services: Services, keys: Sequence[str]) -> None:
    if keys and services.attachments is not None:
        for key in keys:
            await services.attachments.blobs.delete(key)


async def discard(services: Services, actor: Actor, attachment_id: uuid.UUID) -> None:
    """Withdraw an upload that was not sent with a message."""
    async with services.unit(actor.ip) as u:
        att = await u.tx.attachments.get(actor.org_id, attachment_id)
        if att is None or att.uploader_id != actor.id:
            raise NotFound("attachment_not_found")
        if att.entry_id is not None:
            raise InvalidInput("attachment_already_sent")
        await access(services, u.tx, actor, att.conversation_id)
        gone = await _remove(u.tx, att.conversation_id, [att])
        await u.audit(actor.org_id, "attachment.discarded", actor.id, "attachment", att.id)
    await delete_files(services, gone)


# --- download ------------------------------------------------------------------------------
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
            a = await access(services, u.tx, actor, att.conversation_id)
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
        if variant is not Variant.THUMBNAIL and a.conversation.kind is ConversationKind.CARE_CASE:
            await u.audit(actor.org_id, "care_case.attachment_read", actor.id, "attachment", att.id,
                          conversation=str(att.conversation_id), variant=variant.value)
        elif variant is Variant.ORIGINAL:
            await u.audit(actor.org_id, "attachment.original_read", actor.id, "attachment", att.id)
        view = attachment_view(att, a.key)
        key = _key(att.conversation_id, address)
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
                        body=_opened_range(cfg, a.key, att.conversation_id, address, key, size, start, end))
    return Download(name=name, mime=mime, size=size, kind=att.kind,
                    body=_opened(cfg, a.key, att.conversation_id, address, key))


async def _opened(cfg: AttachmentServices, key: DataKey, conversation_id: uuid.UUID, address: bytes,
                  blob: str) -> AsyncGenerator[bytes, None]:
    opener = sealed_stream.Opener(content_key(key), blob_aad(conversation_id, address))
    async for piece in cfg.blobs.read(blob):
        plain = opener.feed(piece)
        if plain:
            yield plain
    last = opener.close()
    if last:
        yield last


class RangeNotSatisfiable(InvalidInput):
    """A ``Range`` outside the file (HTTP 416)."""


async def _opened_range(cfg: AttachmentServices, key: DataKey, conversation_id: uuid.UUID, address: bytes,
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


# --- rules ---------------------------------------------------------------------------------
async def get_rules(services: Services, actor: Actor) -> dict[str, Any]:
    cfg = configured(services)
    if not can(actor.person.role, Permission.MANAGE_ORGANISATION):
        raise Forbidden("forbidden")
    async with services.db.transaction() as tx:
        rules = await tx.attachments.rules(actor.org_id)
        org_used = await tx.attachments.usage(actor.org_id)
    return _rules_view(cfg, rules, org_used)


def _rules_view(cfg: AttachmentServices, rules: AttachmentRules, org_used: int) -> dict[str, Any]:
    return {"org_quota_bytes": rules.org_quota_bytes, "person_quota_bytes": rules.person_quota_bytes,
            "keep_originals_for": sorted(rules.keep_originals_for),
            "effective_org_quota_bytes": rules.org_quota_bytes if rules.org_quota_bytes is not None
            else cfg.limits.quota_org_bytes,
            "effective_person_quota_bytes": rules.person_quota_bytes if rules.person_quota_bytes is not None
            else cfg.limits.quota_person_bytes,
            "org_used_bytes": org_used}


async def set_rules(services: Services, actor: Actor, *, org_quota_bytes: int | None,
                    person_quota_bytes: int | None, keep_originals_for: Sequence[str]) -> dict[str, Any]:
    """An administrator's choices for the organisation: quotas (None: the installation's
    default) and the conversation kinds whose original files are kept."""
    cfg = configured(services)
    if not can(actor.person.role, Permission.MANAGE_ORGANISATION):
        raise Forbidden("forbidden")
    kinds = set()
    for k in keep_originals_for:
        try:
            kinds.add(ConversationKind(k).value)
        except ValueError as exc:
            raise InvalidInput("unknown_kind", allowed=", ".join(c.value for c in ConversationKind)) from exc
    for value in (org_quota_bytes, person_quota_bytes):
        if value is not None and value < 0:
            raise InvalidInput("quota_invalid")
    rules = AttachmentRules(actor.org_id, org_quota_bytes, person_quota_bytes, frozenset(kinds))
    async with services.unit(actor.ip) as u:
        await u.tx.attachments.save_rules(rules)
        await u.audit(actor.org_id, "attachment.rules_changed", actor.id, "organisation", actor.org_id,
                      org_quota_bytes=org_quota_bytes, person_quota_bytes=person_quota_bytes,
                      keep_originals_for=sorted(kinds))
        used = await u.tx.attachments.usage(actor.org_id)
    return _rules_view(cfg, rules, used)


RetentionHook = Callable[[Transaction, uuid.UUID, uuid.UUID, "datetime | None"], Awaitable[int]]


def retention_hook(services: Services) -> RetentionHook:
    """For retention and erasure, called inside their transaction before the conversation's
    rows go: ``cutoff`` None removes every attachment of the conversation (it is being
    shredded), otherwise those of messages created before ``cutoff``. The files are deleted
    at once, so that what retention removes is really gone from the disk; should the
    transaction then fail, the surviving rows point to missing files (downloads report it),
    never the reverse. Returns how many attachments were removed."""

    async def hook(tx: Transaction, org_id: uuid.UUID, conversation_id: uuid.UUID,
                   cutoff: datetime | None) -> int:
        if cutoff is None:
            count = await tx.attachments.count_in(conversation_id)
            keys = [_key(conversation_id, addr) for addr in await tx.attachments.blobs_of_conversation(conversation_id)]
            await tx.attachments.forget_conversation(conversation_id)
        else:
            atts = await tx.attachments.created_before(conversation_id, cutoff)
            count = len(atts)
            keys = await _remove(tx, conversation_id, atts)
        await delete_files(services, keys)
        return count

    return hook


async def retention_preview(services: Services, org_id: uuid.UUID,
                            due: Sequence[tuple[uuid.UUID, datetime | None]]) -> dict[str, int]:
    """What the attachments of the due conversations (None: the whole conversation, else what
    precedes the cutoff) weigh, for the sobriety dashboard's "next month" figure."""
    count = size = 0
    async with services.db.transaction() as tx:
        for conversation_id, cutoff in due:
            atts = await (tx.attachments.created_before(conversation_id, cutoff) if cutoff is not None
                          else tx.attachments.all_in(conversation_id))
            count += len(atts)
            size += sum(a.size for a in atts if not a.deduplicated)
    return {"attachments": count, "attachment_bytes": size}


async def purge_pending(services: Services) -> int:
    """Remove uploads that were never sent with a message within ``pending_hours``: they would
    otherwise hold quota and disk for nothing. Returns how many were removed."""
    cfg = configured(services)
    cutoff = services.clock.now() - timedelta(hours=cfg.limits.pending_hours)
    removed = 0
    while True:
        gone: list[str] = []
        async with services.unit() as u:
            stale = await u.tx.attachments.pending_before(cutoff, 500)
            by_conversation: dict[uuid.UUID, list[Attachment]] = {}
            for att in stale:
                by_conversation.setdefault(att.conversation_id, []).append(att)
            for conversation_id, atts in by_conversation.items():
                gone += await _remove(u.tx, conversation_id, atts)
                await u.audit(atts[0].org_id, "attachment.pending_purged", None, "conversation", conversation_id,
                              count=len(atts))
        await delete_files(services, gone)
        removed += len(stale)
        if len(stale) < 500:
            return removed


async def orphans(services: Services, *, delete: bool = False, older_than_hours: float = 1) -> list[str]:
    """Files in the blob store that no database row references (left by a crash between the
    file write and the commit): sealed and unreachable, so safe to delete. Files younger than
    ``older_than_hours`` are left alone: they may belong to an upload being committed."""
    cfg = configured(services)
    candidates = await cfg.blobs.keys(older_than_hours * 3600)
    async with services.db.transaction() as tx:
        known = {_key(c, addr) for c, addr in await tx.attachments.blob_keys()}
    found = [k for k in candidates if k not in known]
    if delete:
        for key in found:
            await cfg.blobs.delete(key)
    return found

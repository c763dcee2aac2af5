"""Attachments: upload (checked, cleaned, deduplicated, within quota), their place in
messages, their removal with the message, and the organisation's rules (quotas, originals).
Downloads are in ``attachment_download``, housekeeping in ``attachment_upkeep``.

An upload is refused before anything is written when it is too large, of a type not on the
allow-list, infected, unreadable or over quota. Files are sealed with the conversation's data
key before they reach the blob store; the name is sealed in the database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from chevet.app.access import Access, conversation_access
from chevet.app.attachments.config import AttachmentServices
from chevet.app.attachments.views import AttachmentView, LimitsView, RulesView
from chevet.app.services import Actor, Services, Unit
from chevet.core import sealed_stream, voice
from chevet.core.attachment import (
    EXCHANGE_FAMILIES,
    Attachment,
    AttachmentKind,
    AttachmentOrigin,
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
    sniff_exchange,
    type_of,
)
from chevet.core.conversation import ConversationKind
from chevet.core.entities import Entry
from chevet.core.envelope import DataKey
from chevet.core.errors import Forbidden, InvalidInput, NotFound, TooLarge, Unavailable
from chevet.core.ids import new_id
from chevet.core.message import MessageFlag
from chevet.core.mssante.xdm import read_xdm
from chevet.core.roles import Permission, can
from chevet.ports import Transaction


def configured(services: Services) -> AttachmentServices:
    if services.attachments is None:
        raise Unavailable("attachments_unavailable")
    return services.attachments


def limits_view(services: Services) -> LimitsView:
    """What a client shows before an upload (RGESN 4.11): sizes and accepted types."""
    cfg = configured(services)
    types: list[str] = []
    if "image" in cfg.limits.families:
        types += cfg.media.accepted_images
    if "pdf" in cfg.limits.families:
        types.append("application/pdf")
    if "text" in cfg.limits.families:
        types.append("text/plain")
    if "audio" in cfg.limits.families:
        types += VOICE_MIMES
    return {"max_upload_bytes": cfg.limits.max_upload_bytes, "accepted_types": types,
            "max_per_message": cfg.limits.max_per_message, "max_image_pixels": cfg.limits.max_image_pixels,
            "stored_image_max_side": cfg.limits.image_max_side, "voice_max_seconds": voice.RECORDING_LIMIT_S,
            "antivirus": cfg.scanner is not None}


def blob_key_of(conversation_id: uuid.UUID, address: bytes) -> str:
    return blob_key(conversation_id.hex, address)


def attachment_view(att: Attachment, key: DataKey) -> AttachmentView:
    name = key.open(att.name_sealed, name_aad(att.conversation_id, att.id)).decode()
    return {"id": str(att.id), "conversation_id": str(att.conversation_id), "kind": att.kind.value,
            "mime": att.mime, "size": att.size, "name": name, "width": att.width, "height": att.height,
            "thumbnail": att.thumbnail_address is not None, "original": att.original_address is not None,
            "created_at": att.created_at.isoformat(),
            "uploader_id": str(att.uploader_id) if att.uploader_id else None, "origin": att.origin.value,
            "message_id": str(att.entry_id) if att.entry_id else None, "duration_ms": att.duration_ms}


@dataclass(frozen=True, slots=True)
class Prepared:
    """What an upload will store, computed before the write transaction."""

    kind: AttachmentKind
    mime: str
    size: int
    width: int | None
    height: int | None
    variants: tuple[tuple[Variant, bytes, bytes], ...]  # (variant, contents, keyed address)
    duration_ms: int | None = None


VOICE_MIMES = ["audio/webm", "audio/ogg"]


EXCHANGE_ALLOWED = "PDF, CDA, IHE_XDM.zip, images, text"


def check_size(cfg: AttachmentServices, data: bytes) -> None:
    if len(data) > cfg.limits.max_upload_bytes:
        raise TooLarge("attachment_too_large", max=cfg.limits.max_upload_bytes)
    if not data:
        raise InvalidInput("attachment_empty")


async def screen(services: Services, data: bytes, file_type: FileType | None, *,
                 exchange: bool = False) -> FileType:
    """The checks every stored file passes, whatever it belongs to: a type on the allow-list
    (recognised from its bytes, see ``sniff``) and a clean bill from the antivirus. A file of an
    external exchange (mail for MSSanté, sent or received) is held to the exchange allow-list,
    which also admits HL7 CDA documents and IHE_XDM.zip packages."""
    cfg = configured(services)
    families = EXCHANGE_FAMILIES if exchange else cfg.limits.families
    if file_type is None and not exchange and voice.is_other_audio(data):
        raise InvalidInput("voice_format_refused")
    if file_type is None or file_type.family not in families \
            or (file_type.kind is AttachmentKind.IMAGE and file_type.mime not in cfg.media.accepted_images):
        allowed = EXCHANGE_ALLOWED if exchange else ", ".join(limits_view(services)["accepted_types"])
        raise InvalidInput("attachment_type_refused", allowed=allowed, families=list(families))
    await _scan(cfg, data)
    return file_type


async def _scan(cfg: AttachmentServices, data: bytes) -> None:
    if cfg.scanner is not None:
        found = await cfg.scanner.scan(data)
        if found is not None:
            raise InvalidInput("attachment_infected", signature=found)


async def prepare(cfg: AttachmentServices, key: DataKey, data: bytes, file_type: FileType,
                  keep_original: bool) -> Prepared:
    """Images re-encoded (EXIF, GPS and whatever hides behind the pixels dropped) with their
    thumbnail, PDFs checked; each variant with its keyed address under ``key``."""
    if file_type.kind is AttachmentKind.IMAGE:
        img = await cfg.media.process_image(data, file_type)
        contents = [(Variant.CONTENT, img.content), (Variant.THUMBNAIL, img.thumbnail)]
        if keep_original:
            contents.append((Variant.ORIGINAL, data))
        kind, mime, size, width, height = AttachmentKind.IMAGE, img.mime, len(img.content), img.width, img.height
    elif file_type.family == "audio":  # a voice message: checked to its packets, metadata blanked
        recording = await asyncio.to_thread(voice.read_voice, data)
        contents = [(Variant.CONTENT, recording.data)]
        variants = await asyncio.to_thread(lambda: tuple((v, c, blob_address(key, c)) for v, c in contents))
        return Prepared(file_type.kind, recording.mime, len(recording.data), None, None, variants,
                        recording.duration_ms)
    else:
        if file_type.family == "pdf":
            check_pdf(data)
        contents = [(Variant.CONTENT, data)]
        kind, mime, size, width, height = file_type.kind, file_type.mime, len(data), None, None
    variants = await asyncio.to_thread(lambda: tuple((v, c, blob_address(key, c)) for v, c in contents))
    return Prepared(kind, mime, size, width, height, variants)


async def upload(services: Services, actor: Actor, conversation_id: uuid.UUID, *, data: bytes,
                 name: str | None) -> tuple[AttachmentView, bool]:
    """Store one file for a later message of ``conversation_id``. Returns its view and whether
    its contents were already stored in this conversation (deduplicated)."""
    cfg = configured(services)
    check_size(cfg, data)
    async with services.db.transaction() as tx:
        a = await conversation_access(services, tx, actor, conversation_id)
        rules = await tx.attachments.rules(actor.org_id)
    # Hashing and type checks over up to tens of megabytes: in a worker thread, off the loop.
    exchange = a.conversation.kind is ConversationKind.EXTERNAL
    recognise = sniff_exchange if exchange else sniff
    tag, file_type = await asyncio.to_thread(lambda: (dedup_tag(a.key, data), recognise(data)))
    async with services.db.transaction() as tx:
        known = await tx.attachments.by_dedup_tag(conversation_id, tag)
        if known is None:
            await _check_quota(tx, cfg, actor.org_id, actor.id, rules, 1)
    file_type = await screen(services, data, file_type, exchange=exchange)
    if file_type.family == "xdm":  # a member's package is read in full: a hostile archive is never stored
        await asyncio.to_thread(read_xdm, data)
    prepared = None if known is not None else await prepare(
        cfg, a.key, data, file_type, a.conversation.kind.value in rules.keep_originals_for)
    stored_mime = known.mime if known is not None else prepared.mime if prepared is not None else file_type.mime

    written: list[str] = []
    try:
        async with services.unit(actor.ip) as u:
            a = await conversation_access(services, u.tx, actor, conversation_id)
            await u.tx.attachments.lock_organisation(actor.org_id)
            known = await u.tx.attachments.by_dedup_tag(conversation_id, tag)
            if known is None and prepared is None:  # the copy we matched was removed meanwhile
                prepared = await prepare(cfg, a.key, data, file_type,
                                          a.conversation.kind.value in rules.keep_originals_for)
            if prepared is not None:
                stored_mime = prepared.mime
            display_name = clean_name(name, type_of(stored_mime))
            att = await _store(u, cfg, _Origin(actor.org_id, actor.id, rules), a.conversation.id, a.key, tag, known,
                               prepared, len(data), display_name, written)
            await u.audit(actor.org_id, "attachment.uploaded", actor.id, "attachment", att.id,
                          conversation=str(conversation_id), kind=att.kind.value, size=att.size,
                          deduplicated=att.deduplicated)
            return attachment_view(att, a.key), att.deduplicated
    except BaseException:
        for key in written:
            await cfg.blobs.delete(key)
        raise


async def _check_quota(tx: Transaction, cfg: AttachmentServices, org_id: uuid.UUID, person_id: uuid.UUID,
                       rules: AttachmentRules, needed: int) -> None:
    await check_org_quota(tx, cfg, org_id, rules, needed)
    person_quota = rules.person_quota_bytes if rules.person_quota_bytes is not None \
        else cfg.limits.quota_person_bytes
    person_used = await tx.attachments.usage(org_id, person_id)
    if person_used + needed > person_quota:
        raise TooLarge("quota_exceeded_person", scope="person", remaining=max(0, person_quota - person_used),
                       quota=person_quota)


async def check_org_quota(tx: Transaction, cfg: AttachmentServices, org_id: uuid.UUID, rules: AttachmentRules,
                          needed: int) -> None:
    """The organisation's quota covers every file it stores: conversation files and the files of
    adverse-event reports alike."""
    quota = rules.org_quota_bytes if rules.org_quota_bytes is not None else cfg.limits.quota_org_bytes
    used = await tx.attachments.usage(org_id) + await tx.reports.file_usage(org_id)
    if used + needed > quota:
        raise TooLarge("quota_exceeded_organisation", scope="organisation", remaining=max(0, quota - used),
                       quota=quota)


@dataclass(frozen=True, slots=True)
class _Origin:
    """Who stores a file: a member (charged by the quotas, which ``rules`` set) or, with no
    uploader, the MSSanté gateway (a received document is counted, never refused for quota:
    refusing it would lose a correspondent's mail)."""

    org_id: uuid.UUID
    uploader: uuid.UUID | None
    rules: AttachmentRules | None
    entry_id: uuid.UUID | None = None

    @property
    def kind(self) -> AttachmentOrigin:
        return AttachmentOrigin.MEMBER if self.uploader is not None else AttachmentOrigin.MSSANTE


async def _store(u: Unit, cfg: AttachmentServices, origin: _Origin, conv_id: uuid.UUID, key: DataKey, tag: bytes,
                 known: Attachment | None, prepared: Prepared | None, uploaded: int, name: str,
                 written: list[str]) -> Attachment:
    now = u.services.clock.now()
    att_id = new_id()
    name_sealed = key.seal(name.encode(), name_aad(conv_id, att_id))
    if known is not None:
        att = Attachment(id=att_id, org_id=origin.org_id, conversation_id=conv_id, uploader_id=origin.uploader,
                         entry_id=origin.entry_id, created_at=now, kind=known.kind, mime=known.mime, size=known.size,
                         uploaded_size=uploaded, width=known.width, height=known.height, name_sealed=name_sealed,
                         content_address=known.content_address, thumbnail_address=known.thumbnail_address,
                         original_address=known.original_address, dedup_tag=tag, deduplicated=True,
                         origin=origin.kind, duration_ms=known.duration_ms)
        await u.tx.attachments.add(att)
        return att
    assert prepared is not None
    addresses: dict[Variant, bytes] = {}
    new: list[tuple[Variant, bytes, bytes]] = []
    for variant, content, address in prepared.variants:
        addresses[variant] = address
        if not await u.tx.attachments.blob_exists(conv_id, address) and all(address != n[1] for n in new):
            new.append((variant, address, content))
    if origin.uploader is not None and origin.rules is not None:
        needed = sum(sealed_stream.sealed_size(len(content)) for _, _, content in new)
        await _check_quota(u.tx, cfg, origin.org_id, origin.uploader, origin.rules, needed)
    for variant, address, content in new:
        blob = blob_key_of(conv_id, address)
        written.append(blob)
        size = await cfg.blobs.put(blob, sealed_stream.seal(content_key(key), blob_aad(conv_id, address), content))
        await u.tx.attachments.add_blob(StoredBlob(conv_id, address, origin.org_id, origin.uploader, prepared.kind,
                                                   variant, size, now))
    att = Attachment(id=att_id, org_id=origin.org_id, conversation_id=conv_id, uploader_id=origin.uploader,
                     entry_id=origin.entry_id, created_at=now, kind=prepared.kind, mime=prepared.mime,
                     size=prepared.size, uploaded_size=uploaded, width=prepared.width, height=prepared.height,
                     name_sealed=name_sealed, content_address=addresses[Variant.CONTENT],
                     thumbnail_address=addresses.get(Variant.THUMBNAIL),
                     original_address=addresses.get(Variant.ORIGINAL), dedup_tag=tag, deduplicated=False,
                     origin=origin.kind, duration_ms=prepared.duration_ms)
    await u.tx.attachments.add(att)
    return att


# --- received over MSSanté -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReceivedFile:
    """A document of a received mail, already screened (``screen_received``)."""

    name: str
    data: bytes
    file_type: FileType


async def screen_received(services: Services, data: bytes) -> FileType:
    """The upload checks, applied to a document a correspondent sent: size, type (the
    exchange allow-list: PDF, images, text, HL7 CDA, IHE_XDM.zip), PDF structure, antivirus.
    The member upload allow-list is not involved. A scanner that cannot answer raises
    ``Unavailable``, so the mail is fetched again later rather than integrated unchecked."""
    check_size(configured(services), data)
    file_type = await asyncio.to_thread(sniff_exchange, data)
    if file_type is not None and file_type.family == "pdf":
        check_pdf(data)
    return await screen(services, data, file_type, exchange=True)


async def store_received(u: Unit, org_id: uuid.UUID, conversation_id: uuid.UUID, key: DataKey,
                         entry_id: uuid.UUID, files: Sequence[ReceivedFile], written: list[str],
                         uploader: uuid.UUID | None = None) -> list[Attachment]:
    """Store a received mail's documents as attachments of its message, with no uploader and
    the MSSanté origin, inside the caller's transaction. Received images keep their original
    bytes next to the re-encoded copy (what the correspondent sent, exactly). Blob keys written
    are appended to ``written``: the caller deletes them if its transaction fails. ``uploader``
    is only given for documents a member sent before they became attachments."""
    if not files:
        return []
    cfg = configured(u.services)
    await u.tx.attachments.lock_organisation(org_id)
    origin = _Origin(org_id, uploader, None, entry_id)
    out = []
    for f in files:
        tag = await asyncio.to_thread(dedup_tag, key, f.data)
        known = await u.tx.attachments.by_dedup_tag(conversation_id, tag)
        prepared = None if known is not None else await prepare(cfg, key, f.data, f.file_type, True)
        stored_mime = known.mime if known is not None else prepared.mime if prepared is not None else f.file_type.mime
        out.append(await _store(u, cfg, origin, conversation_id, key, tag, known, prepared, len(f.data),
                                clean_name(f.name, type_of(stored_mime)), written))
    return out


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


async def pending(services: Services, actor: Actor, conversation_id: uuid.UUID,
                  ids: Sequence[uuid.UUID]) -> list[AttachmentView]:
    """The actor's uploads to this conversation among ``ids`` that no message carries yet (a
    form shown again before sending, without script, lists them)."""
    wanted = list(dict.fromkeys(ids))[:50]
    if not wanted:
        return []
    async with services.db.transaction() as tx:
        a = await conversation_access(services, tx, actor, conversation_id)
        found = {att.id: att for att in await tx.attachments.many(conversation_id, wanted)}
    return [attachment_view(found[i], a.key) for i in wanted
            if i in found and found[i].uploader_id == actor.id and found[i].entry_id is None]


async def attach(u: Unit, a: Access, ids: Sequence[uuid.UUID], entry_id: uuid.UUID) -> None:
    if ids:
        await u.tx.attachments.attach(a.conversation.id, ids, entry_id)



async def remove_for_entry(u: Unit, conversation_id: uuid.UUID, entry: Entry) -> list[str]:
    """With a deleted message go its files. Returns the blob keys to delete once committed."""
    if not entry.flags & MessageFlag.ATTACHMENTS:
        return []
    atts = await u.tx.attachments.for_entries(conversation_id, [entry.id])
    return await remove(u.tx, conversation_id, atts)


async def remove(tx: Transaction, conversation_id: uuid.UUID, atts: Sequence[Attachment]) -> list[str]:
    if not atts:
        return []
    await tx.attachments.lock_organisation(atts[0].org_id)
    await tx.attachments.delete(conversation_id, [att.id for att in atts])
    gone: list[str] = []
    addresses = {addr for att in atts for addr in (att.content_address, att.thumbnail_address,
                                                   att.original_address) if addr is not None}
    for address in sorted(addresses):
        if await tx.attachments.release_blob(conversation_id, address):
            gone.append(blob_key_of(conversation_id, address))
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
        await conversation_access(services, u.tx, actor, att.conversation_id)
        gone = await remove(u.tx, att.conversation_id, [att])
        await u.audit(actor.org_id, "attachment.discarded", actor.id, "attachment", att.id)
    await delete_files(services, gone)


# --- rules ---------------------------------------------------------------------------------
async def get_rules(services: Services, actor: Actor) -> RulesView:
    cfg = configured(services)
    if not can(actor.person.role, Permission.MANAGE_ORGANISATION):
        raise Forbidden("forbidden")
    async with services.db.transaction() as tx:
        rules = await tx.attachments.rules(actor.org_id)
        org_used = await tx.attachments.usage(actor.org_id)
    return _rules_view(cfg, rules, org_used)


def _rules_view(cfg: AttachmentServices, rules: AttachmentRules, org_used: int) -> RulesView:
    return {"org_quota_bytes": rules.org_quota_bytes, "person_quota_bytes": rules.person_quota_bytes,
            "keep_originals_for": sorted(rules.keep_originals_for),
            "effective_org_quota_bytes": rules.org_quota_bytes if rules.org_quota_bytes is not None
            else cfg.limits.quota_org_bytes,
            "effective_person_quota_bytes": rules.person_quota_bytes if rules.person_quota_bytes is not None
            else cfg.limits.quota_person_bytes,
            "org_used_bytes": org_used}


async def set_rules(services: Services, actor: Actor, *, org_quota_bytes: int | None,
                    person_quota_bytes: int | None, keep_originals_for: Sequence[str]) -> RulesView:
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

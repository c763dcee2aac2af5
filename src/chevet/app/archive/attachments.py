"""Attachments in organisation archives: exported decrypted under their original names with a
metadata record each, imported sealed again under the conversation's new key."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from chevet.app.attachments.config import AttachmentServices
from chevet.app.services import Services
from chevet.core import sealed_stream
from chevet.core.attachment import (
    Attachment,
    AttachmentKind,
    AttachmentOrigin,
    Variant,
    blob_aad,
    blob_address,
    blob_key,
    content_key,
    dedup_tag,
    name_aad,
)
from chevet.core.envelope import DataKey
from chevet.ports import Transaction

VARIANTS = (Variant.CONTENT, Variant.THUMBNAIL, Variant.ORIGINAL)


def _path(conversation_id: uuid.UUID, att_id: uuid.UUID, variant: Variant, name: str) -> str:
    clean = name.replace("/", "_").replace("\\", "_").lstrip(".").strip() or "fichier"
    prefix = "" if variant is Variant.CONTENT else f"{variant.value}-"
    return f"attachments/{conversation_id}/{att_id.hex[:12]}-{prefix}{clean[:180]}"


async def _read(cfg: AttachmentServices, key: DataKey, conversation_id: uuid.UUID, address: bytes) -> bytes:
    opener = sealed_stream.Opener(content_key(key), blob_aad(conversation_id, address))
    out = bytearray()
    async for piece in cfg.blobs.read(blob_key(conversation_id.hex, address)):
        out += opener.feed(piece)
    out += opener.close()
    return bytes(out)


async def export_conversation(services: Services, tx: Transaction, conversation_id: uuid.UUID,
                              key: DataKey) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """Files and ``attachment`` records of one conversation (every variant stored)."""
    cfg = services.attachments
    if cfg is None:
        return {}, []
    files: dict[str, bytes] = {}
    records: list[dict[str, Any]] = []
    for att in await tx.attachments.all_in(conversation_id):
        name = key.open(att.name_sealed, name_aad(conversation_id, att.id)).decode()
        paths: dict[str, str] = {}
        for variant in VARIANTS:
            address = att.address_of(variant)
            if address is None:
                continue
            path = _path(conversation_id, att.id, variant, name)
            files[path] = await _read(cfg, key, conversation_id, address)
            paths[variant.value] = path
        records.append({"record": "attachment", "id": str(att.id), "conversation_id": str(conversation_id),
                        "message_id": str(att.entry_id) if att.entry_id else None,
                        "uploader_id": str(att.uploader_id) if att.uploader_id else None,
                        "created_at": att.created_at.isoformat(),
                        "kind": att.kind.value, "mime": att.mime, "size": att.size, "uploaded_size": att.uploaded_size,
                        "width": att.width, "height": att.height, "name": name, "files": paths})
    return files, records


async def import_records(services: Services, tx: Transaction, org_id: uuid.UUID, keys: dict[uuid.UUID, DataKey],
                         records: list[dict[str, Any]], files: dict[str, bytes], written: list[str]) -> int:
    """Seal each file again under its conversation's new key and store it (blob keys written
    are appended to ``written`` so that a failed import can remove them)."""
    cfg = services.attachments
    if cfg is None:
        if records:
            from chevet.core.errors import InvalidInput

            raise InvalidInput("import_attachments_disabled")
        return 0
    from chevet.core.attachment import StoredBlob

    for r in records:
        conv_id, att_id = uuid.UUID(r["conversation_id"]), uuid.UUID(r["id"])
        key = keys[conv_id]
        kind = AttachmentKind(r["kind"])
        created = datetime.fromisoformat(r["created_at"])
        uploader = uuid.UUID(r["uploader_id"]) if r["uploader_id"] else None
        addresses: dict[Variant, bytes] = {}
        for variant in VARIANTS:
            path = r["files"].get(variant.value)
            if path is None:
                continue
            content = files[path]
            address = blob_address(key, content)
            addresses[variant] = address
            if not await tx.attachments.blob_exists(conv_id, address):
                bkey = blob_key(conv_id.hex, address)
                written.append(bkey)
                sealed = sealed_stream.seal(content_key(key), blob_aad(conv_id, address), content)
                size = await cfg.blobs.put(bkey, sealed)
                await tx.attachments.add_blob(StoredBlob(conv_id, address, org_id, uploader, kind, variant, size,
                                                         created))
        content = files[r["files"]["content"]]
        await tx.attachments.add(Attachment(
            id=att_id, org_id=org_id, conversation_id=conv_id, uploader_id=uploader,
            entry_id=uuid.UUID(r["message_id"]) if r["message_id"] else None, created_at=created, kind=kind,
            mime=str(r["mime"]), size=int(r["size"]), uploaded_size=int(r["uploaded_size"]), width=r["width"],
            height=r["height"], name_sealed=key.seal(str(r["name"]).encode(), name_aad(conv_id, att_id)),
            content_address=addresses[Variant.CONTENT], thumbnail_address=addresses.get(Variant.THUMBNAIL),
            original_address=addresses.get(Variant.ORIGINAL), dedup_tag=dedup_tag(key, content),
            deduplicated=False, origin=AttachmentOrigin.MEMBER if uploader else AttachmentOrigin.MSSANTE))
    return len(records)

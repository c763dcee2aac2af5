"""Upkeep of stored files: retention and erasure take attachments with them, unsent uploads
expire, and files a crash left unreferenced are found."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from chevet.app.attachments.resumable import purge_abandoned
from chevet.app.attachments.upload import blob_key_of, configured, delete_files, remove
from chevet.app.services import Services
from chevet.core.attachment import Attachment, blob_key
from chevet.ports import Transaction

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
            addresses = await tx.attachments.blobs_of_conversation(conversation_id)
            keys = [blob_key_of(conversation_id, addr) for addr in addresses]
            await tx.attachments.forget_conversation(conversation_id)
            await tx.uploads.forget_conversation(conversation_id)
        else:
            atts = await tx.attachments.created_before(conversation_id, cutoff)
            count = len(atts)
            keys = await remove(tx, conversation_id, atts)
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
    """Remove uploads that were never sent with a message within ``pending_hours``, and
    resumable uploads no piece reached for as long: they would otherwise hold quota and disk for
    nothing. Returns how many were removed."""
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
                gone += await remove(u.tx, conversation_id, atts)
                await u.audit(atts[0].org_id, "attachment.pending_purged", None, "conversation", conversation_id,
                              count=len(atts))
        await delete_files(services, gone)
        removed += len(stale)
        if len(stale) < 500:
            return removed + await purge_abandoned(services)


async def orphans(services: Services, *, delete: bool = False, older_than_hours: float = 1) -> list[str]:
    """Files in the blob store that no database row references (left by a crash between the
    file write and the commit): sealed and unreachable, so safe to delete. Files younger than
    ``older_than_hours`` are left alone: they may belong to an upload being committed."""
    cfg = configured(services)
    candidates = await cfg.blobs.keys(older_than_hours * 3600)
    async with services.db.transaction() as tx:
        known = {blob_key_of(c, addr) for c, addr in await tx.attachments.blob_keys()}
        known |= {blob_key(r.hex, addr) for r, addr in await tx.reports.file_blobs()}  # a report's files
    found = [k for k in candidates if k not in known]
    if delete:
        for key in found:
            await cfg.blobs.delete(key)
    return found

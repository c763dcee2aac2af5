"""Documents the gateway stored in its own sealed table before they became attachments: moved,
once, into the attachment store, attached to the message they came or went with.

Each document moves in its own transaction (read, re-seal into the blob store, attach, forget
the old row), so an interruption leaves every document in exactly one of the two places.
Types are not re-checked here (they were accepted then): a file of a type the store does not
know is kept byte for byte as ``application/octet-stream``.
"""

from __future__ import annotations

import logging

from chevet.app.attachments import upload
from chevet.app.attachments.upload import ReceivedFile
from chevet.app.services import Services
from chevet.core import envelope
from chevet.core.attachment import BINARY, AttachmentKind, FileType, sniff_exchange, type_of
from chevet.core.mssante.records import Direction

log = logging.getLogger("chevet.mssante.documents")


def _kept_as_is(data: bytes) -> FileType:
    found = sniff_exchange(data)
    if found is None:
        return BINARY
    # Not re-encoded: the stored bytes stay those that were sent or received.
    return FileType(found.mime, AttachmentKind.DOCUMENT, type_of(found.mime).extension, "binary")


async def adopt_legacy_documents(services: Services, batch: int = 50) -> int:
    """Move every document of the former table; returns how many moved."""
    moved = 0
    while True:
        async with services.db.transaction() as tx:
            pending = await tx.mssante.legacy_documents(batch)
        if not pending:
            return moved
        for doc in pending:
            written: list[str] = []
            try:
                async with services.unit() as u:
                    m = await u.tx.mssante.message(doc.org_id, doc.message_id)
                    wrapped = await u.tx.conversations.wrapped_key(doc.conversation_id)
                    if m is None or m.entry_id is None or wrapped is None or doc.data_sealed is None:
                        await u.tx.mssante.forget_legacy_document(doc.id)   # its conversation was erased
                        continue
                    key = await services.unwrap_key(doc.org_id, doc.conversation_id, wrapped)
                    name = key.open(doc.name_sealed, envelope.aad("mss-att-name", doc.conversation_id, doc.id))
                    data = key.open(doc.data_sealed, envelope.aad("mss-att", doc.conversation_id, doc.id))
                    uploader = m.author_id if m.direction is Direction.SENT else None
                    await upload.store_received(
                        u, doc.org_id, doc.conversation_id, key, m.entry_id,
                        [ReceivedFile(name.decode(), data, _kept_as_is(data))], written, uploader)
                    await u.tx.mssante.flag_attachments(doc.conversation_id, m.entry_id)
                    await u.tx.mssante.forget_legacy_document(doc.id)
                    await u.audit(doc.org_id, "mssante.document_moved", None, "message", m.entry_id,
                                  conversation=str(doc.conversation_id))
            except BaseException:
                await upload.delete_files(services, written)
                raise
            moved += 1
        log.info("mssante documents moved to the attachment store", extra={"count": moved})

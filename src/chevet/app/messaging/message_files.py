"""Files shown in message views: each message's attachments, read once per page of messages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from chevet.app.attachments.upload import attachment_view
from chevet.app.attachments.views import AttachmentView
from chevet.app.messaging.views import MessageView, SearchHitView
from chevet.core.entities import Entry
from chevet.core.envelope import DataKey
from chevet.core.message import MessageFlag
from chevet.ports import Transaction


async def add_views(tx: Transaction, key: DataKey, conversation_id: uuid.UUID,
                    pairs: Sequence[tuple[Entry, MessageView | SearchHitView]]) -> None:
    """Put each message's attachments in its view (one query per page, and none at all when
    no message of the page has files)."""
    for _, view in pairs:
        view.setdefault("attachments", [])
    flagged = [e.id for e, view in pairs if e.flags & MessageFlag.ATTACHMENTS and not view.get("deleted")]
    if not flagged:
        return
    by_entry: dict[uuid.UUID, list[AttachmentView]] = {}
    for att in await tx.attachments.for_entries(conversation_id, flagged):
        if att.entry_id is not None:
            by_entry.setdefault(att.entry_id, []).append(attachment_view(att, key))
    for e, view in pairs:
        if e.id in by_entry:
            view["attachments"] = by_entry[e.id]

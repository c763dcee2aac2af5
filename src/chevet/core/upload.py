"""A resumable upload: a file sent in pieces, each appended at the offset the server has
received so far, so that a connection lost halfway resumes where it stopped instead of
starting again. The pieces are sealed with the conversation's key while they wait."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from chevet.core import envelope


@dataclass(frozen=True, slots=True)
class PartialUpload:
    id: uuid.UUID
    org_id: uuid.UUID
    conversation_id: uuid.UUID
    person_id: uuid.UUID
    size: int          # announced at creation: the file's total
    received: int      # bytes appended so far (the next piece's offset)
    name_sealed: bytes
    created_at: datetime
    updated_at: datetime
    attachment_id: uuid.UUID | None = None  # set once the last piece made the attachment

    @property
    def complete(self) -> bool:
        return self.received == self.size


def piece_aad(conversation_id: uuid.UUID, upload_id: uuid.UUID, offset: int) -> bytes:
    """A piece is bound to its conversation, its upload and its place in the file."""
    return envelope.aad("upload", conversation_id, upload_id) + offset.to_bytes(8, "big")


def upload_name_aad(conversation_id: uuid.UUID, upload_id: uuid.UUID) -> bytes:
    return envelope.aad("uploadname", conversation_id, upload_id)

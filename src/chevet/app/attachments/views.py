"""How attachments look from outside: the JSON shapes of a file, the upload limits and the
organisation's rules (built in ``upload``)."""

from __future__ import annotations

from typing_extensions import TypedDict


class AttachmentView(TypedDict):
    id: str
    conversation_id: str
    kind: str
    mime: str
    size: int
    name: str
    width: int | None
    height: int | None
    thumbnail: bool
    original: bool
    created_at: str
    uploader_id: str | None
    origin: str
    message_id: str | None
    duration_ms: int | None  # a voice message's length; None for other files


class UploadedView(AttachmentView):
    """An upload's answer: the file, and whether its contents were already stored here."""

    deduplicated: bool


class LimitsView(TypedDict):
    max_upload_bytes: int
    accepted_types: list[str]
    max_per_message: int
    max_image_pixels: int
    stored_image_max_side: int
    voice_max_seconds: int
    antivirus: bool


class RulesView(TypedDict):
    org_quota_bytes: int | None
    person_quota_bytes: int | None
    keep_originals_for: list[str]
    effective_org_quota_bytes: int
    effective_person_quota_bytes: int
    org_used_bytes: int


class UploadView(TypedDict):
    """A resumable upload: its size and how many bytes the server holds (the next offset)."""

    id: str
    conversation_id: str
    size: int
    offset: int
    piece_max_bytes: int
    expires_at: str
    attachment_id: str | None

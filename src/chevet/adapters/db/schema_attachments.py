"""Tables of attachments. Names are sealed; contents live sealed in the blob store, addressed
by keyed hashes (meaningless without the conversation's key)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, LargeBinary, String, Table, Text

from chevet.adapters.db.schema import metadata
from chevet.adapters.db.types import UtcTimestamp, Uuid

# One row per stored file (content, thumbnail, kept original): what the quota and the
# sobriety dashboard count. Shared by every attachment of the conversation with the same bytes.
attachment_blob = Table(
    "attachment_blob", metadata,
    Column("conversation_id", Uuid, ForeignKey("conversation.id"), primary_key=True),
    Column("address", LargeBinary(32), primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("owner_id", Uuid, nullable=True),      # None: a document received over MSSanté
    Column("kind", String(10), nullable=False),
    Column("variant", String(10), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Index("ix_attachment_blob_org_owner", "org_id", "owner_id"),
)

attachment = Table(
    "attachment", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("conversation_id", Uuid, ForeignKey("conversation.id"), nullable=False),
    Column("uploader_id", Uuid, nullable=True),   # None: received over MSSanté (see origin)
    Column("entry_id", Uuid, nullable=True),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("mime", String(40), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("uploaded_size", BigInteger, nullable=False),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("name_sealed", LargeBinary, nullable=False),
    Column("content_address", LargeBinary(32), nullable=False),
    Column("thumbnail_address", LargeBinary(32), nullable=True),
    Column("original_address", LargeBinary(32), nullable=True),
    Column("dedup_tag", LargeBinary(32), nullable=False),
    Column("deduplicated", Boolean, nullable=False),
    Column("origin", String(10), nullable=False, server_default="member"),
    Column("duration_ms", Integer, nullable=True),  # a voice message's length (migration 0011)
    Index("ix_attachment_conversation_entry", "conversation_id", "entry_id"),
    Index("ix_attachment_conversation_dedup", "conversation_id", "dedup_tag"),
    Index("ix_attachment_org_created", "org_id", "created_at"),
)

attachment_rules = Table(
    "attachment_rules", metadata,
    Column("org_id", Uuid, ForeignKey("organisation.id"), primary_key=True),
    Column("org_quota_bytes", BigInteger, nullable=True),
    Column("person_quota_bytes", BigInteger, nullable=True),
    Column("keep_originals_for", Text, nullable=False, default=""),
)

# Resumable uploads (app.attachments.resumable): the announced size, what has arrived, and the
# pieces, each sealed with the conversation's key, until the last piece makes an attachment.
attachment_upload = Table(
    "attachment_upload", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("conversation_id", Uuid, ForeignKey("conversation.id"), nullable=False),
    Column("person_id", Uuid, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("received", BigInteger, nullable=False),
    Column("name_sealed", LargeBinary, nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
    Column("attachment_id", Uuid, nullable=True),  # the attachment it became (its pieces are gone)
    Index("ix_attachment_upload_org_person", "org_id", "person_id"),
    Index("ix_attachment_upload_updated", "updated_at"),
)

attachment_upload_piece = Table(
    "attachment_upload_piece", metadata,
    Column("upload_id", Uuid, ForeignKey("attachment_upload.id", ondelete="CASCADE"), primary_key=True),
    Column("offset", BigInteger, primary_key=True),
    Column("sealed", LargeBinary, nullable=False),
)

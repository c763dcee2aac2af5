"""Tables of the MSSanté gateway and of the health directory.

The directory is public data (the Annuaire Santé extraction), shared by the installation and
not organisation data. Everything else carries ``org_id``; care content (subjects, bodies,
addresses of correspondents, which for patients contain the INS, attachment names and
contents, the MIME to send, quarantined mail) is sealed; Message-IDs of received mail are
only stored as keyed hashes.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
)

from chevet.adapters.db.schema import metadata
from chevet.adapters.db.types import UtcTimestamp, Uuid

directory_entry = Table(
    "directory_entry", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("generation", Integer, nullable=False),
    Column("address", String(254), nullable=False),
    Column("mailbox_type", String(3), nullable=False),
    Column("data", Text, nullable=False),      # JSON of the entry's public fields
    Column("search", Text, nullable=False),    # folded words, matched by prefix
    Index("ix_directory_entry_generation_address", "generation", "address", unique=True),
)

directory_state = Table(
    "directory_state", metadata,
    Column("name", String(20), primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("imported_at", UtcTimestamp, nullable=False),
    Column("source", String(300), nullable=False),
    Column("counts", Text, nullable=False),
)

mss_exchange = Table(
    "mss_exchange", metadata,
    Column("conversation_id", Uuid, ForeignKey("conversation.id"), primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("mailbox", String(254), nullable=False),
    Column("peers_sealed", LargeBinary, nullable=False),
    Column("peer_hash", LargeBinary(32), nullable=True),
    Column("created_at", UtcTimestamp, nullable=False),
    Index("ix_mss_exchange_peer", "org_id", "mailbox", "peer_hash"),
)

mss_message = Table(
    "mss_message", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("conversation_id", Uuid, ForeignKey("conversation.id"), nullable=False),
    Column("entry_id", Uuid, nullable=True),
    Column("direction", SmallInteger, nullable=False),        # 1 sent, 2 received, 3 receipt we send
    Column("mid_hash", LargeBinary(32), nullable=False),
    Column("message_id", String(255), nullable=True),         # ours only: <uuid@domain>
    Column("author_id", Uuid, nullable=True),
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcTimestamp, nullable=True),
    Column("lease_until", UtcTimestamp, nullable=True),
    Column("last_error", String(300), nullable=True),
    Column("mime_sealed", LargeBinary, nullable=True),
    Column("meta_sealed", LargeBinary, nullable=False),
    Column("signature", String(12), nullable=True),
    Column("disposition", String(12), nullable=True),
    Column("disposition_at", UtcTimestamp, nullable=True),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("sent_at", UtcTimestamp, nullable=True),
    Column("receipt", String(12), nullable=True),             # received: what became of its receipt request
    Index("ix_mss_message_thread", "org_id", "mid_hash"),
    Index("ix_mss_message_due", "state", "next_attempt_at"),
    Index("ix_mss_message_conversation", "conversation_id", "created_at"),
)

mss_attachment = Table(
    "mss_attachment", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("conversation_id", Uuid, ForeignKey("conversation.id"), nullable=False),
    Column("message_id", Uuid, ForeignKey("mss_message.id"), nullable=False, index=True),
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("name_sealed", LargeBinary, nullable=False),
    Column("data_sealed", LargeBinary, nullable=False),
)

mss_inbound = Table(
    "mss_inbound", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("mailbox", String(254), nullable=False),
    Column("mid_hash", LargeBinary(32), nullable=False),
    Column("state", String(12), nullable=False),             # integrated, quarantined, released
    Column("reason", String(40), nullable=True),
    Column("received_at", UtcTimestamp, nullable=False),
    Column("size", Integer, nullable=False),
    Column("raw_sealed", LargeBinary, nullable=True),         # quarantined mail, sealed
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("resolved_at", UtcTimestamp, nullable=True),
    # One row per mail per mailbox: the row that says "seen" is the claim two workers race for.
    Index("ix_mss_inbound_mid", "org_id", "mailbox", "mid_hash", unique=True),
    Index("ix_mss_inbound_state", "org_id", "state"),
)

mss_cursor = Table(
    "mss_cursor", metadata,
    Column("mailbox", String(254), primary_key=True),
    Column("uid_validity", BigInteger, nullable=False),
    Column("last_uid", BigInteger, nullable=False),
)

# A PER or ORG mailbox opened through Pro Santé Connect: who linked it and her refresh token,
# sealed with the installation's credentials key (the access token is never stored).
mss_psc_link = Table(
    "mss_psc_link", metadata,
    Column("org_id", Uuid, ForeignKey("organisation.id"), primary_key=True),
    Column("mailbox", String(254), primary_key=True),
    Column("person_id", Uuid, ForeignKey("person.id"), nullable=False),
    Column("kind", String(3), nullable=False),
    Column("refresh_sealed", LargeBinary, nullable=False),
    Column("refresh_expires_at", UtcTimestamp, nullable=True),
    Column("state", String(10), nullable=False),
    Column("linked_at", UtcTimestamp, nullable=False),
    Column("refreshed_at", UtcTimestamp, nullable=False),
)

# Error receipts for mail quarantined before any exchange existed (0022): sealed with their own
# key; a row is deleted once its receipt is sent or given up.
mss_receipt_outbox = Table(
    "mss_receipt_outbox", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("mailbox", String(254), nullable=False),
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcTimestamp, nullable=False),
    Column("lease_until", UtcTimestamp, nullable=True),
    Column("last_error", String(300), nullable=True),
    Column("mime_sealed", LargeBinary, nullable=False),
    Column("meta_sealed", LargeBinary, nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Index("ix_mss_receipt_outbox_due", "state", "next_attempt_at"),
)

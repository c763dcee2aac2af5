"""The tables. Every table holding an organisation's data carries ``org_id`` or hangs off a
row that does; care content only ever appears sealed (``*_sealed``, ``body``)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from chevet.adapters.db.types import Terms, UtcTimestamp, Uuid

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

organisation = Table(
    "organisation", metadata,
    Column("id", Uuid, primary_key=True),
    Column("slug", String(63), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
)

person = Table(
    "person", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False, index=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("status", String(12), nullable=False),
    Column("rpps", String(20), nullable=True),
    Column("language", String(5), nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("password_hash", String(200), nullable=True),
    Column("totp_sealed", LargeBinary, nullable=True),
    Column("totp_last_step", Integer, nullable=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", UtcTimestamp, nullable=True),
    # Wrapped data key sealing the person's sign-in addresses in the audit trail (app/identity/addresses.py);
    # anonymisation sets it to NULL.
    Column("address_key", LargeBinary, nullable=True),
    UniqueConstraint("org_id", "rpps"),
)

team = Table(
    "team", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("name", String(120), nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    UniqueConstraint("org_id", "name"),
)

team_member = Table(
    "team_member", metadata,
    Column("team_id", Uuid, ForeignKey("team.id"), primary_key=True),
    Column("person_id", Uuid, ForeignKey("person.id"), primary_key=True),
)

session = Table(
    "session", metadata,
    Column("id", Uuid, primary_key=True),
    Column("token_hash", LargeBinary(32), nullable=False, unique=True),
    Column("person_id", Uuid, ForeignKey("person.id"), nullable=False, index=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("last_used_at", UtcTimestamp, nullable=False),
    Column("expires_at", UtcTimestamp, nullable=False),
    Column("revoked_at", UtcTimestamp, nullable=True),
    Column("user_agent", String(200), nullable=False),
    Column("ip", String(45), nullable=True),
    Column("method", String(20), nullable=False),
)

invitation = Table(
    "invitation", metadata,
    Column("id", Uuid, primary_key=True),
    Column("token_hash", LargeBinary(32), nullable=False, unique=True),
    Column("person_id", Uuid, ForeignKey("person.id"), nullable=False),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("expires_at", UtcTimestamp, nullable=False),
    Column("used_at", UtcTimestamp, nullable=True),
    Column("pending_password_hash", String(200), nullable=True),
    Column("pending_totp_sealed", LargeBinary, nullable=True),
)

conversation = Table(
    "conversation", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False, index=True),
    Column("kind", String(12), nullable=False),
    Column("title_sealed", LargeBinary, nullable=True),
    Column("ref_sealed", LargeBinary, nullable=True),
    Column("team_id", Uuid, ForeignKey("team.id"), nullable=True),
    Column("created_by", Uuid, nullable=True),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("last_seq", Integer, nullable=False, default=0),
    Column("last_activity", UtcTimestamp, nullable=False),
    Column("direct_pair", String(65), nullable=True),
    UniqueConstraint("org_id", "direct_pair"),
)

# Kept apart from the content so that crypto-shredding is one row, and so that a backup of
# key material can be handled separately from a backup of the database.
conversation_key = Table(
    "conversation_key", metadata,
    Column("conversation_id", Uuid, ForeignKey("conversation.id"), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
)

member = Table(
    "member", metadata,
    Column("conversation_id", Uuid, ForeignKey("conversation.id"), primary_key=True),
    Column("person_id", Uuid, ForeignKey("person.id"), primary_key=True),
    Column("is_owner", Boolean, nullable=False, default=False),
    Column("visible_from_seq", Integer, nullable=False, default=1),
    Column("read_seq", Integer, nullable=False, default=0),
    Column("joined_at", UtcTimestamp, nullable=False),
    Index("ix_member_person_id", "person_id"),
)

# The conversation log. Rows are never reordered: ``seq`` is assigned under the
# conversation's row lock inside the writing transaction. The key is the place
# (conversation, seq); on SQLite the table is that key (WITHOUT ROWID), a conversation's rows
# together, and only the message id has an index of its own (migration 0015).
entry = Table(
    "entry", metadata,
    Column("id", Uuid, nullable=False, unique=True),
    Column("conversation_id", Uuid, ForeignKey("conversation.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("kind", SmallInteger, nullable=False),
    Column("author_id", Uuid, nullable=True),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("body", LargeBinary, nullable=True),
    Column("flags", SmallInteger, nullable=False, default=0),
    Column("reply_to_seq", Integer, nullable=True),
    Column("target_seq", Integer, nullable=True),
    Column("subject_id", Uuid, nullable=True),
    Column("edited_at", UtcTimestamp, nullable=True),
    Column("terms", Terms, nullable=True),
    # A message sent holds its own place in its organisation's audit chain (core.audit.message_sent).
    Column("audit_seq", Integer, nullable=True),
    Column("audit_hash", LargeBinary(32), nullable=True),
    sqlite_with_rowid=False,
)

# Conversations whose messages still have the terms of an older search index: a message up to
# ``upto_seq`` and after ``done_seq`` gets its terms again (app/messaging/search_index.py), then
# the row goes. Newer messages already have the current terms. No foreign key: erasing a
# conversation needs not know of this table; the job drops a row whose conversation is gone.
search_reindex = Table(
    "search_reindex", metadata,
    Column("conversation_id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("done_seq", Integer, nullable=False),
    Column("upto_seq", Integer, nullable=False),
)

mention = Table(
    "mention", metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("conversation_id", Uuid, ForeignKey("conversation.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
)

# One row per audited action, one per message sent: kept narrow. ``detail`` is the entry's
# detail as sorted JSON, except a ``conversation`` id, kept in ``conversation_id`` as 16 bytes
# instead of 52 characters of JSON (the entry's hash covers the detail as the action gave it).
# On SQLite the table is its primary key (WITHOUT ROWID): no separate key index.
audit_entry = Table(
    "audit_entry", metadata,
    Column("chain", Uuid, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("at", UtcTimestamp, nullable=False),
    Column("action", String(60), nullable=False),
    Column("actor_id", Uuid, nullable=True),
    Column("object_type", String(30), nullable=False),
    Column("object_id", Uuid, nullable=True),
    Column("ip", String(45), nullable=True),
    Column("detail", Text, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("conversation_id", Uuid, nullable=True),
    Index("ix_audit_entry_object", "chain", "object_id"),
    Index("ix_audit_entry_actor", "chain", "actor_id"),
    sqlite_with_rowid=False,
)

audit_head = Table(
    "audit_head", metadata,
    Column("chain", Uuid, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
)

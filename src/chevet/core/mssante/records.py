"""What the gateway stores about exchanges, messages and received mail."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum


class Direction(IntEnum):
    SENT = 1
    RECEIVED = 2
    RECEIPT = 3      # an MDN we send


class DeliveryState(StrEnum):
    PENDING = "pending"      # waiting for its (next) attempt
    SENDING = "sending"      # claimed by a worker; the lease says until when
    SENT = "sent"            # accepted by the operator
    DEAD = "dead"            # refused for good or out of attempts: shown to its author
    RECEIVED = "received"


class Disposition(StrEnum):
    """What the correspondent's receipt (MDN) says, shown on the sent message."""

    DISPLAYED = "displayed"   # "lu"
    PROCESSED = "processed"   # "traité"
    ERROR = "error"


class ReceiptState(StrEnum):
    """What became of a received message's receipt request (RFC 8098)."""

    QUEUED = "queued"         # a "processed" receipt went to the outbox automatically
    ASK = "ask"               # the receipt address differs from the sender's: a reader decides
    DECLINED = "declined"     # a reader chose not to send one
    DISPLAYED = "displayed"   # a "displayed" receipt was sent when a member first opened it
    SENT = "sent"             # a reader agreed; the receipt went to the outbox


class InboundState(StrEnum):
    INTEGRATED = "integrated"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"
    RELEASED = "released"     # a quarantined mail the administrator has dealt with


@dataclass(frozen=True, slots=True)
class Exchange:
    conversation_id: uuid.UUID
    org_id: uuid.UUID
    mailbox: str
    peers_sealed: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MssMessage:
    id: uuid.UUID
    org_id: uuid.UUID
    conversation_id: uuid.UUID
    entry_id: uuid.UUID | None
    direction: Direction
    mid_hash: bytes
    message_id: str | None
    author_id: uuid.UUID | None
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    lease_until: datetime | None
    last_error: str | None
    mime_sealed: bytes | None
    meta_sealed: bytes
    signature: str | None
    disposition: Disposition | None
    disposition_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    receipt: ReceiptState | None = None


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    id: uuid.UUID
    org_id: uuid.UUID
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    content_type: str
    size: int
    name_sealed: bytes
    data_sealed: bytes | None = None


@dataclass(frozen=True, slots=True)
class InboundRecord:
    id: uuid.UUID
    org_id: uuid.UUID
    mailbox: str
    mid_hash: bytes
    state: InboundState
    reason: str | None
    received_at: datetime
    size: int
    raw_sealed: bytes | None = None
    wrapped_key: bytes | None = None


@dataclass(frozen=True, slots=True)
class QueuedReceipt:
    """An error receipt for a mail quarantined before any exchange existed: sealed with its own
    data key (``wrapped_key``), like the quarantined mail it answers."""

    id: uuid.UUID
    org_id: uuid.UUID
    mailbox: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    mime_sealed: bytes
    meta_sealed: bytes
    wrapped_key: bytes
    created_at: datetime
    lease_until: datetime | None = None
    last_error: str | None = None

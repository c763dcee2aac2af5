"""Identifiers.

New objects get UUIDv7 ids: random enough that nobody can guess another organisation's ids,
ordered by time so that B-tree indexes stay compact. Messages get an id derived from their
author's idempotency key, so that the primary key itself makes a re-sent message a no-op.
"""

from __future__ import annotations

import os
import time
import uuid

_MESSAGE_NAMESPACE = uuid.UUID("6f1c2d3e-9a0b-4c5d-8e7f-a1b2c3d4e5f6")


def new_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit millisecond timestamp then 74 random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def message_id(conversation_id: uuid.UUID, author_id: uuid.UUID, client_id: str) -> uuid.UUID:
    """The id of the message an author sends with this idempotency key in this conversation."""
    return uuid.uuid5(_MESSAGE_NAMESPACE, f"{conversation_id.hex}/{author_id.hex}/{client_id}")


def parse_id(value: str) -> uuid.UUID:
    """Parse an id from outside; anything malformed is simply 'not found' to the caller."""
    from chevet.core.errors import NotFound

    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError) as exc:
        raise NotFound("not_found") from exc

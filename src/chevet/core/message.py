"""Messages: the conversation log's entry kinds, flags and body rules."""

from __future__ import annotations

import re
import uuid
from enum import IntEnum, IntFlag

from chevet.core.errors import InvalidInput, TooLarge


class EntryKind(IntEnum):
    """Every change to a conversation is one entry of its log, numbered by ``seq``."""

    MESSAGE = 1
    EDIT = 2
    DELETE = 3
    MEMBER_ADDED = 4
    MEMBER_REMOVED = 5
    CREATED = 6


class MessageFlag(IntFlag):
    NONE = 0
    URGENT = 1
    EDITED = 2
    DELETED = 4
    ATTACHMENTS = 8  # files are attached (looked up only for the entries that have some)


MAX_CLIENT_ID = 64
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_MENTION = re.compile(r"@\[([0-9a-fA-F-]{36})\]")


def clean_body(body: str, max_bytes: int) -> str:
    if not isinstance(body, str):
        raise InvalidInput("body_required")
    if not body.strip():
        raise InvalidInput("body_required")
    if "\x00" in body:
        raise InvalidInput("body_invalid")
    if len(body.encode()) > max_bytes:
        raise TooLarge("message_too_large", max=max_bytes)
    return body


def clean_client_id(client_id: str) -> str:
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        raise InvalidInput("client_id_invalid")
    return client_id


def mentioned_ids(body: str) -> set[uuid.UUID]:
    """Mentions are written ``@[<user id>]`` by clients; names are resolved on display."""
    found: set[uuid.UUID] = set()
    for raw in _MENTION.findall(body):
        try:
            found.add(uuid.UUID(raw))
        except ValueError:
            continue
    return found

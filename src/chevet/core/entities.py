"""The domain's entities as plain, immutable records."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from chevet.core.conversation import ConversationKind
from chevet.core.message import EntryKind, MessageFlag
from chevet.core.roles import Role


class PersonStatus(StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


@dataclass(frozen=True, slots=True)
class Organisation:
    id: uuid.UUID
    slug: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Person:
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    name: str
    role: Role
    status: PersonStatus
    rpps: str | None
    language: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Credentials:
    """What signing in checks. The TOTP secret is sealed with an installation key."""

    person_id: uuid.UUID
    password_hash: str | None
    totp_sealed: bytes | None
    totp_last_step: int | None
    failed_logins: int
    locked_until: datetime | None


TEAM_NAME_MAX = 120


@dataclass(frozen=True, slots=True)
class Team:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Session:
    id: uuid.UUID
    person_id: uuid.UUID
    org_id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    user_agent: str
    ip: str | None
    method: str

    def active_at(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class Invitation:
    id: uuid.UUID
    person_id: uuid.UUID
    org_id: uuid.UUID
    expires_at: datetime
    used_at: datetime | None
    pending_password_hash: str | None
    pending_totp_sealed: bytes | None


@dataclass(frozen=True, slots=True)
class Conversation:
    id: uuid.UUID
    org_id: uuid.UUID
    kind: ConversationKind
    title_sealed: bytes | None
    ref_sealed: bytes | None
    team_id: uuid.UUID | None
    created_by: uuid.UUID | None
    created_at: datetime
    last_seq: int


@dataclass(frozen=True, slots=True)
class Membership:
    conversation_id: uuid.UUID
    person_id: uuid.UUID
    is_owner: bool
    visible_from_seq: int
    read_seq: int
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One line of a person's conversation list."""

    conversation: Conversation
    membership: Membership
    unread: int
    unread_mentions: int
    unread_urgent: int
    last_activity: datetime


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a conversation's log: a message, an edit, a deletion, a membership change."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    kind: EntryKind
    author_id: uuid.UUID | None
    created_at: datetime
    body_sealed: bytes | None
    flags: MessageFlag
    reply_to_seq: int | None
    target_seq: int | None
    subject_id: uuid.UUID | None
    edited_at: datetime | None


@dataclass(slots=True)
class RealtimeEvent:
    """An event for the live stream. Encoded once, then sent as is to every receiver.

    It goes to the members of ``conversation_id``; ``user_ids`` names people whose view of the
    conversation changes with it (added, removed), who receive it too."""

    org_id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int | None
    payload: dict[str, Any]
    user_ids: tuple[uuid.UUID, ...] = ()
    private: bool = False  # only for ``user_ids`` (e.g. one's own read cursor), not every member
    _encoded: bytes | None = field(default=None, repr=False)
    _text: str | None = field(default=None, repr=False, compare=False)

    @property
    def encoded(self) -> bytes:
        if self._encoded is None:
            self._encoded = orjson.dumps(self.payload)
        return self._encoded

    @property
    def text(self) -> str:
        """The encoded event as text, for WebSocket text frames (decoded once, not per receiver)."""
        if self._text is None:
            self._text = self.encoded.decode()
        return self._text


# A control event on the bus, never sent to a client: these sessions of one person ended
# (sign-out, revocation, deactivation, provider logout); every process closes their streams.
SESSION_ENDED = "session.ended"


def session_ended_event(org_id: uuid.UUID, person_id: uuid.UUID,
                        session_ids: Sequence[uuid.UUID]) -> RealtimeEvent:
    """Routed to the person only (``private``); ``conversation_id`` carries the person's id
    since the event belongs to no conversation."""
    return RealtimeEvent(org_id, person_id, None, {"type": SESSION_ENDED, "sessions": [s.hex for s in session_ids]},
                         user_ids=(person_id,), private=True)

"""How domain objects look from outside: the JSON shapes shared by the API responses and the
realtime events (built once here, encoded once, sent to every receiver)."""

from __future__ import annotations

import uuid
from typing import Any, NotRequired, cast

from typing_extensions import TypedDict

from chevet.app.attachments.views import AttachmentView
from chevet.core import envelope
from chevet.core.entities import (
    Conversation,
    ConversationSummary,
    Entry,
    Organisation,
    Person,
    RealtimeEvent,
    Session,
)
from chevet.core.envelope import DataKey
from chevet.core.message import EntryKind, MessageFlag, mentioned_ids

ENTRY_TYPES = {
    EntryKind.MESSAGE: "message",
    EntryKind.EDIT: "message.edited",
    EntryKind.DELETE: "message.deleted",
    EntryKind.MEMBER_ADDED: "member.added",
    EntryKind.MEMBER_REMOVED: "member.removed",
    EntryKind.CREATED: "conversation.created",
}


class OrganisationView(TypedDict):
    id: str
    slug: str
    name: str


class PersonView(TypedDict):
    id: str
    email: str
    name: str
    role: str
    status: str
    rpps: str | None
    language: str
    organisation: NotRequired[OrganisationView]


class SessionView(TypedDict):
    id: str
    created_at: str
    last_used_at: str
    expires_at: str
    revoked: bool
    user_agent: str
    ip: str | None
    method: str
    current: bool


class ConversationView(TypedDict):
    id: str
    kind: str
    title: str
    care_case_ref: str | None
    team_id: str | None
    created_by: str | None
    created_at: str
    last_seq: int


class ConversationSummaryView(ConversationView):
    """A conversation in the caller's list: what is unread, and when it last moved."""

    unread: int
    unread_mentions: int
    unread_urgent: int
    read_seq: int
    last_activity: str


class PreviewView(TypedDict):
    """The start of a conversation's last message, for its member's list. ``author`` is the
    sender's first name ("" for one's own message); ``files`` ("photo", "voice", "file") is
    set when the message has no text."""

    seq: int
    author: str
    mine: bool
    text: str
    files: str | None


class ConversationListView(TypedDict):
    """The web list: the conversations, and the previews of their last messages by conversation
    id (None: the organisation shows no previews; a conversation missing: nothing to show)."""

    conversations: list[ConversationSummaryView]
    previews: dict[str, PreviewView] | None


class ConversationMembersView(ConversationView):
    member_ids: list[str]


class ConversationDetailView(ConversationMembersView):
    read_seq: int
    owner_ids: list[str]


class MessageFields(TypedDict):
    id: str
    conversation_id: str
    seq: int
    author_id: str | None
    author_name: str | None
    created_at: str
    body: str | None
    urgent: bool
    edited: bool
    edited_at: str | None
    deleted: bool
    reply_to_seq: int | None
    mentions: list[str]


class MessageView(MessageFields):
    attachments: NotRequired[list[AttachmentView]]


class SearchHitView(MessageFields):
    conversation_title: str
    conversation_kind: str
    attachments: NotRequired[list[AttachmentView]]


class EntryPayload(TypedDict):
    """One log entry as the stream and the history show it; which members come along depends
    on ``type``."""

    type: str
    conversation_id: str
    seq: int
    at: str
    actor_id: str | None
    target_seq: NotRequired[int | None]
    message: NotRequired[MessageView]
    person_id: NotRequired[str | None]
    person_name: NotRequired[str | None]
    conversation: NotRequired[ConversationView]


def organisation_view(org: Organisation) -> OrganisationView:
    return {"id": str(org.id), "slug": org.slug, "name": org.name}


def person_view(p: Person, org: Organisation | None = None) -> PersonView:
    view: PersonView = {"id": str(p.id), "email": p.email, "name": p.name, "role": p.role.value,
                        "status": p.status.value, "rpps": p.rpps, "language": p.language}
    if org is not None:
        view["organisation"] = organisation_view(org)
    return view


def session_view(s: Session, current: uuid.UUID | None) -> SessionView:
    return {"id": str(s.id), "created_at": s.created_at.isoformat(), "last_used_at": s.last_used_at.isoformat(),
            "expires_at": s.expires_at.isoformat(), "revoked": s.revoked_at is not None,
            "user_agent": s.user_agent, "ip": s.ip, "method": s.method, "current": s.id == current}


def title_of(conv: Conversation, key: DataKey) -> str:
    if conv.title_sealed is None:
        return ""
    return key.open(conv.title_sealed, envelope.aad("title", conv.id)).decode()


def ref_of(conv: Conversation, key: DataKey) -> str | None:
    if conv.ref_sealed is None:
        return None
    return key.open(conv.ref_sealed, envelope.aad("ref", conv.id)).decode()


def conversation_view(conv: Conversation, key: DataKey, *, title: str | None = None) -> ConversationView:
    return {
        "id": str(conv.id), "kind": conv.kind.value, "title": title if title is not None else title_of(conv, key),
        "care_case_ref": ref_of(conv, key), "team_id": str(conv.team_id) if conv.team_id else None,
        "created_by": str(conv.created_by) if conv.created_by else None,
        "created_at": conv.created_at.isoformat(), "last_seq": conv.last_seq,
    }


def conversation_summary_view(conv: Conversation, key: DataKey, summary: ConversationSummary, *,
                              title: str | None = None) -> ConversationSummaryView:
    return {**conversation_view(conv, key, title=title), "unread": summary.unread,
            "unread_mentions": summary.unread_mentions, "unread_urgent": summary.unread_urgent,
            "read_seq": summary.membership.read_seq, "last_activity": summary.last_activity.isoformat()}


def conversation_members_view(conv: Conversation, key: DataKey, member_ids: list[uuid.UUID], *,
                              title: str | None = None) -> ConversationMembersView:
    return {**conversation_view(conv, key, title=title), "member_ids": [str(m) for m in member_ids]}


def body_of(conv_id: uuid.UUID, key: DataKey, e: Entry) -> str | None:
    if e.body_sealed is None:
        return None
    return key.open(e.body_sealed, envelope.aad("msg", conv_id, e.id)).decode()


def message_view(e: Entry, key: DataKey, names: dict[uuid.UUID, str]) -> MessageView:
    """A message in its current state (edits applied, deletion shown as a trace)."""
    body = body_of(e.conversation_id, key, e)
    deleted = bool(e.flags & MessageFlag.DELETED)
    return {
        "id": str(e.id), "conversation_id": str(e.conversation_id), "seq": e.seq,
        "author_id": str(e.author_id) if e.author_id else None,
        "author_name": names.get(e.author_id) if e.author_id else None,
        "created_at": e.created_at.isoformat(), "body": None if deleted else body,
        "urgent": bool(e.flags & MessageFlag.URGENT), "edited": bool(e.flags & MessageFlag.EDITED),
        "edited_at": e.edited_at.isoformat() if e.edited_at else None, "deleted": deleted,
        "reply_to_seq": e.reply_to_seq,
        "mentions": sorted(str(m) for m in mentioned_ids(body)) if body and not deleted else [],
    }


def entry_payload(conv: Conversation, key: DataKey, e: Entry, target: Entry | None,
                  names: dict[uuid.UUID, str]) -> EntryPayload:
    """The stream event for one log entry. For edits and deletions, the target message's
    current state travels along, so a client never needs a second request."""
    payload: EntryPayload = {"type": ENTRY_TYPES[e.kind], "conversation_id": str(conv.id), "seq": e.seq,
                               "at": e.created_at.isoformat(),
                               "actor_id": str(e.author_id) if e.author_id else None}
    if e.kind is EntryKind.MESSAGE:
        payload["message"] = message_view(e, key, names)
    elif e.kind in (EntryKind.EDIT, EntryKind.DELETE):
        payload["target_seq"] = e.target_seq
        if target is not None:
            payload["message"] = message_view(target, key, names)
    elif e.kind in (EntryKind.MEMBER_ADDED, EntryKind.MEMBER_REMOVED):
        payload["person_id"] = str(e.subject_id) if e.subject_id else None
        payload["person_name"] = names.get(e.subject_id) if e.subject_id else None
        payload["conversation"] = conversation_view(conv, key)
    elif e.kind is EntryKind.CREATED:
        payload["conversation"] = conversation_view(conv, key)
    return payload


def entry_event(conv: Conversation, key: DataKey, e: Entry, target: Entry | None, names: dict[uuid.UUID, str],
                user_ids: tuple[uuid.UUID, ...] = ()) -> RealtimeEvent:
    return RealtimeEvent(org_id=conv.org_id, conversation_id=conv.id, seq=e.seq,
                         payload=event_payload(entry_payload(conv, key, e, target, names)), user_ids=user_ids)


def event_payload(payload: EntryPayload) -> dict[str, Any]:
    """The payload as a realtime event carries it (the same object: views put in it until the
    event is encoded, after commit, travel along)."""
    return cast(dict[str, Any], payload)

"""Conversations and their membership (reached through ``app.access.conversation_access``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace

from chevet.app.access import Access, conversation_access
from chevet.app.care import duty
from chevet.app.messaging.previews import preview_of
from chevet.app.messaging.views import (
    ConversationDetailView,
    ConversationListView,
    ConversationMembersView,
    ConversationSummaryView,
    PreviewView,
    conversation_members_view,
    conversation_summary_view,
    entry_event,
    title_of,
)
from chevet.app.services import Actor, Services, Unit
from chevet.core import envelope
from chevet.core.conversation import (
    CREATE_PERMISSION,
    MAX_MEMBERS,
    ConversationKind,
    clean_care_case_ref,
    clean_title,
    parse_kind,
)
from chevet.core.entities import Conversation, Entry, Membership, PersonStatus
from chevet.core.envelope import DataKey
from chevet.core.errors import Forbidden, InvalidInput, NotFound
from chevet.core.ids import new_id
from chevet.core.message import EntryKind, MessageFlag
from chevet.core.roles import Permission, can
from chevet.ports import Transaction


def _may_manage(actor: Actor, a: Access) -> bool:
    return a.membership.is_owner or can(actor.person.role, Permission.MANAGE_ANY_CONVERSATION)


async def append_entry(u: Unit, conv: Conversation, key: DataKey, *, kind: EntryKind, author: uuid.UUID | None,
                       entry_id: uuid.UUID | None = None, body: str | None = None,
                       flags: MessageFlag = MessageFlag.NONE, reply_to_seq: int | None = None,
                       target_seq: int | None = None, subject_id: uuid.UUID | None = None,
                       terms: Sequence[int] = (), mentions: Sequence[uuid.UUID] = (),
                       seq: int | None = None) -> tuple[Conversation, Entry]:
    """Append one entry to a conversation's log at the next position (the write lock is held
    until commit, so entries become visible in ``seq`` order)."""
    now = u.services.clock.now()
    seq = seq if seq is not None else await u.tx.conversations.next_seq(conv.id, now)
    eid = entry_id or new_id()
    sealed = key.seal(body.encode(), envelope.aad("msg", conv.id, eid)) if body is not None else None
    e = Entry(id=eid, conversation_id=conv.id, seq=seq, kind=kind, author_id=author, created_at=now,
              body_sealed=sealed, flags=flags, reply_to_seq=reply_to_seq, target_seq=target_seq,
              subject_id=subject_id, edited_at=None)
    await u.tx.entries.add(e, terms, mentions)
    return replace(conv, last_seq=seq), e


async def create_conversation(services: Services, actor: Actor, *, kind: str, title: str | None,
                              member_ids: Sequence[uuid.UUID], care_case_ref: str | None = None,
                              team_id: uuid.UUID | None = None,
                              role_addresses: Sequence[str] = ()) -> tuple[ConversationMembersView, bool]:
    """Returns the conversation's view and whether it was created (an existing direct
    conversation between the same two people is returned instead of a duplicate). A role
    address (``garde``) among the recipients is whoever holds it now (app/care/duty.py)."""
    parsed = parse_kind(kind)
    if parsed is ConversationKind.EXTERNAL:
        raise InvalidInput("external_needs_mssante")  # opened by the MSSanté gateway, with its correspondents
    if not can(actor.person.role, CREATE_PERMISSION[parsed]):
        raise Forbidden("forbidden")
    clean = clean_title(title, parsed)
    ref = clean_care_case_ref(parsed, care_case_ref)
    others = list(dict.fromkeys(m for m in member_ids if m != actor.id))
    if parsed is not ConversationKind.TEAM and team_id is not None:
        raise InvalidInput("team_only_for_team_channel")
    now = services.clock.now()
    async with services.unit(actor.ip) as u:
        if role_addresses:
            others = await duty.with_holders(u.tx, actor.org_id, others, role_addresses[:10], now, actor.id)
        if len(others) + 1 > MAX_MEMBERS:
            raise InvalidInput("too_many_members", max=MAX_MEMBERS)
        if parsed is ConversationKind.DIRECT and len(others) != 1:
            raise InvalidInput("direct_needs_one_member")
        if team_id is not None:
            team = await u.tx.teams.get(actor.org_id, team_id)
            if team is None:
                raise NotFound("team_not_found")
            others = list(dict.fromkeys([*others, *(m for m in await u.tx.teams.member_ids(team_id)
                                                   if m != actor.id)]))
        people = await u.tx.people.many(actor.org_id, others)
        if len(people) != len(others) or any(p.status is PersonStatus.DEACTIVATED for p in people):
            raise InvalidInput("unknown_member")
        if parsed is ConversationKind.DIRECT:
            existing = await u.tx.conversations.direct_between(actor.org_id, actor.id, others[0])
            if existing is not None:
                wrapped = await u.tx.conversations.wrapped_key(existing.id)
                if wrapped is not None:
                    key = await services.unwrap_key(existing.org_id, existing.id, wrapped)
                    return conversation_members_view(existing, key, [actor.id, others[0]],
                                                     title=people[0].name), False
        conv_id = new_id()
        key, wrapped = await services.new_wrapped_key(actor.org_id, conv_id, u.tx)
        conv = Conversation(
            id=conv_id, org_id=actor.org_id, kind=parsed,
            title_sealed=key.seal(clean.encode(), envelope.aad("title", conv_id)) if clean else None,
            ref_sealed=key.seal(ref.encode(), envelope.aad("ref", conv_id)) if ref else None,
            team_id=team_id, created_by=actor.id, created_at=now, last_seq=0)
        pair = (actor.id, others[0]) if parsed is ConversationKind.DIRECT else None
        await u.tx.conversations.add(conv, wrapped, pair)
        conv, created = await append_entry(u, conv, key, kind=EntryKind.CREATED, author=actor.id)
        all_ids = [actor.id, *others]
        for pid in all_ids:
            await u.tx.conversations.add_member(Membership(conv.id, pid, is_owner=pid == actor.id,
                                                           visible_from_seq=1, read_seq=0, joined_at=now))
        await u.audit(actor.org_id, "conversation.created", actor.id, "conversation", conv.id,
                      kind=parsed.value, members=len(all_ids))
        names = {p.id: p.name for p in people} | {actor.id: actor.person.name}
        u.publish(entry_event(conv, key, created, None, names, user_ids=tuple(all_ids)))
        title_shown = people[0].name if parsed is ConversationKind.DIRECT else clean
        return conversation_members_view(conv, key, all_ids, title=title_shown), True


async def _direct_titles(tx: Transaction, actor: Actor, convs: Sequence[Conversation]) -> dict[uuid.UUID, str]:
    """A direct conversation is titled with the other person's name, for each viewer."""
    other: dict[uuid.UUID, uuid.UUID] = {}
    for c in convs:
        if c.kind is ConversationKind.DIRECT:
            for m in await tx.conversations.members(c.id):
                if m.person_id != actor.id:
                    other[c.id] = m.person_id
    names = {p.id: p.name for p in await tx.people.many(actor.org_id, list(set(other.values())))}
    return {cid: names.get(pid, "") for cid, pid in other.items()}


async def list_conversations(services: Services, actor: Actor) -> list[ConversationSummaryView]:
    return (await _listing(services, actor, previews=False))["conversations"]


async def conversation_list(services: Services, actor: Actor) -> ConversationListView:
    """The list with the start of each last message, unless the organisation turned previews
    off; showing a care case's message not read yet leaves an audit entry, as reading it does."""
    return await _listing(services, actor, previews=True)


async def _listing(services: Services, actor: Actor, *, previews: bool) -> ConversationListView:
    async with services.unit(actor.ip) as u:
        tx = u.tx
        summaries = await tx.conversations.summaries(actor.org_id, actor.id)
        titles = await _direct_titles(tx, actor, [s.conversation for s in summaries])
        shown: dict[str, PreviewView] | None = {} if previews and await tx.preferences.org_list_preview(
            actor.org_id) else None
        names: dict[uuid.UUID, str] = {actor.id: actor.person.name}
        out = []
        for s in summaries:
            wrapped = await tx.conversations.wrapped_key(s.conversation.id)
            if wrapped is None:
                continue
            key = await services.unwrap_key(s.conversation.org_id, s.conversation.id, wrapped)
            out.append(conversation_summary_view(s.conversation, key, s, title=titles.get(s.conversation.id)))
            if shown is not None:
                preview = await preview_of(tx, actor.id, s.conversation, key, s.membership, names)
                if preview is None:
                    continue
                shown[str(s.conversation.id)] = preview
                # A message already read was audited when it was; one not read yet is read here.
                if (s.conversation.kind is ConversationKind.CARE_CASE and not preview["mine"]
                        and preview["seq"] > s.membership.read_seq):
                    await u.audit(actor.org_id, "care_case.read", actor.id, "conversation", s.conversation.id,
                                  via="list_preview", seq=preview["seq"])
    return {"conversations": out, "previews": shown}


async def get_conversation(services: Services, actor: Actor, conversation_id: uuid.UUID) -> ConversationDetailView:
    async with services.unit(actor.ip) as u:
        tx = u.tx
        a = await conversation_access(services, tx, actor, conversation_id)
        if a.conversation.kind is ConversationKind.CARE_CASE:
            await u.audit(actor.org_id, "care_case.read", actor.id, "conversation", conversation_id, via="details")
        members = await tx.conversations.members(conversation_id)
        titles = await _direct_titles(tx, actor, [a.conversation])
        view: ConversationDetailView = {
            **conversation_members_view(a.conversation, a.key, [m.person_id for m in members],
                                        title=titles.get(a.conversation.id)),
            "read_seq": a.membership.read_seq, "owner_ids": [str(m.person_id) for m in members if m.is_owner]}
    return view


async def add_member(services: Services, actor: Actor, conversation_id: uuid.UUID, person_id: uuid.UUID,
                     *, share_history: bool = True) -> None:
    async with services.unit(actor.ip) as u:
        a = await conversation_access(services, u.tx, actor, conversation_id)
        if a.conversation.kind is ConversationKind.DIRECT:
            raise InvalidInput("direct_members_fixed")
        if not _may_manage(actor, a):
            raise Forbidden("forbidden")
        person = await u.tx.people.get(actor.org_id, person_id)
        if person is None or person.status is PersonStatus.DEACTIVATED:
            raise NotFound("person_not_found")
        if await u.tx.conversations.membership(conversation_id, person_id):
            raise InvalidInput("already_member")
        conv, e = await append_entry(u, a.conversation, a.key, kind=EntryKind.MEMBER_ADDED, author=actor.id,
                                     subject_id=person_id)
        await u.tx.conversations.add_member(Membership(
            conv.id, person_id, is_owner=False, visible_from_seq=1 if share_history else conv.last_seq,
            read_seq=0 if share_history else conv.last_seq, joined_at=services.clock.now()))
        await u.audit(actor.org_id, "conversation.member_added", actor.id, "conversation", conv.id,
                      person=str(person_id), history=share_history)
        names = {person.id: person.name, actor.id: actor.person.name}
        u.publish(entry_event(conv, a.key, e, None, names, user_ids=(person_id,)))


async def join_team_channels(services: Services, actor: Actor) -> int:
    """Join the actor to the channels of the teams she belongs to (an administrator may put
    someone in teams while inviting her): on her first sign-in her list already holds her
    teams' conversations. Returns how many she joined."""
    joined = 0
    async with services.unit(actor.ip) as u:
        team_ids = [t.id for t in await u.tx.teams.all(actor.org_id)
                    if actor.id in await u.tx.teams.member_ids(t.id)]
        for channel in await u.tx.conversations.team_channels(actor.org_id, team_ids):
            wrapped = await u.tx.conversations.wrapped_key(channel.id)
            if wrapped is None or await u.tx.conversations.membership(channel.id, actor.id):
                continue
            key = await services.unwrap_key(channel.org_id, channel.id, wrapped)
            conv, e = await append_entry(u, channel, key, kind=EntryKind.MEMBER_ADDED, author=actor.id,
                                         subject_id=actor.id)
            await u.tx.conversations.add_member(Membership(conv.id, actor.id, is_owner=False, visible_from_seq=1,
                                                           read_seq=0, joined_at=services.clock.now()))
            await u.audit(actor.org_id, "conversation.member_added", actor.id, "conversation", conv.id,
                          person=str(actor.id), history=True, via="team")
            u.publish(entry_event(conv, key, e, None, {actor.id: actor.person.name}, user_ids=(actor.id,)))
            joined += 1
    return joined


async def remove_member(services: Services, actor: Actor, conversation_id: uuid.UUID,
                        person_id: uuid.UUID) -> None:
    async with services.unit(actor.ip) as u:
        a = await conversation_access(services, u.tx, actor, conversation_id)
        if a.conversation.kind is ConversationKind.DIRECT:
            raise InvalidInput("direct_members_fixed")
        if person_id != actor.id and not _may_manage(actor, a):
            raise Forbidden("forbidden")
        if await u.tx.conversations.membership(conversation_id, person_id) is None:
            raise NotFound("person_not_found")
        conv, e = await append_entry(u, a.conversation, a.key, kind=EntryKind.MEMBER_REMOVED, author=actor.id,
                                     subject_id=person_id)
        await u.tx.conversations.remove_member(conversation_id, person_id)
        await u.audit(actor.org_id, "conversation.member_removed", actor.id, "conversation", conv.id,
                      person=str(person_id))
        person = await u.tx.people.get(actor.org_id, person_id)
        names = {actor.id: actor.person.name} | ({person.id: person.name} if person else {})
        u.publish(entry_event(conv, a.key, e, None, names, user_ids=(person_id,)))


async def mark_read(services: Services, actor: Actor, conversation_id: uuid.UUID, seq: int) -> int:
    from chevet.core.entities import RealtimeEvent

    if not isinstance(seq, int) or seq < 0:
        raise InvalidInput("seq_invalid")
    async with services.unit(actor.ip) as u:
        a = await conversation_access(services, u.tx, actor, conversation_id)
        seq = min(seq, a.conversation.last_seq)
        if seq > a.membership.read_seq:
            await u.tx.conversations.set_read(conversation_id, actor.id, seq)
            await u.audit(actor.org_id, "conversation.read_marked", actor.id, "conversation", conversation_id,
                          seq=seq)
            u.publish(RealtimeEvent(actor.org_id, conversation_id, None,
                                    {"type": "read", "conversation_id": str(conversation_id),
                                     "person_id": str(actor.id), "read_seq": seq},
                                    user_ids=(actor.id,), private=True))
        return max(seq, a.membership.read_seq)


async def conversation_title(services: Services, actor: Actor, conversation_id: uuid.UUID) -> str:
    async with services.db.transaction() as tx:
        a = await conversation_access(services, tx, actor, conversation_id)
        return title_of(a.conversation, a.key)


async def positions(services: Services, actor: Actor) -> dict[uuid.UUID, int]:
    """Where each of the actor's conversations stands now (its last ``seq``)."""
    async with services.db.transaction() as tx:
        return await tx.conversations.positions(actor.org_id, actor.id)

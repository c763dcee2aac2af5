"""Messages: send (idempotent), edit and delete with a visible trace, history, catch-up, search.

Every read of a care-case conversation leaves an audit entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from chevet.app.access import Access, conversation_access, conversation_accesses
from chevet.app.attachments import upload
from chevet.app.care import alerts as care_alerts
from chevet.app.care import duty
from chevet.app.messaging import message_files
from chevet.app.messaging.conversations import append_entry
from chevet.app.messaging.views import (
    EntryPayload,
    MessageView,
    SearchHitView,
    body_of,
    entry_payload,
    event_payload,
    message_view,
    title_of,
)
from chevet.app.services import Actor, Services, Unit
from chevet.core import blind_index, envelope
from chevet.core.audit import message_sent
from chevet.core.care.alert import AlertTarget
from chevet.core.conversation import ConversationKind
from chevet.core.entities import Entry, RealtimeEvent
from chevet.core.errors import ChevetError, Forbidden, InvalidInput, NotFound
from chevet.core.ids import message_id
from chevet.core.message import EntryKind, MessageFlag, clean_body, clean_client_id, mentioned_ids
from chevet.core.roles import Permission, can
from chevet.ports import Transaction

MAX_PAGE = 200
VISIBLE_KINDS = (EntryKind.MESSAGE, EntryKind.MEMBER_ADDED, EntryKind.MEMBER_REMOVED, EntryKind.CREATED)


async def _names(tx: Transaction, actor: Actor, entries: Sequence[Entry]) -> dict[uuid.UUID, str]:
    ids = {e.author_id for e in entries if e.author_id} | {e.subject_id for e in entries if e.subject_id}
    return {p.id: p.name for p in await tx.people.many(actor.org_id, list(ids))}


async def _audit_care_read(u: Unit, actor: Actor, a: Access, entries: Sequence[Entry], how: str) -> None:
    if a.conversation.kind is ConversationKind.CARE_CASE and entries:
        await u.audit(actor.org_id, "care_case.read", actor.id, "conversation", a.conversation.id,
                      via=how, from_seq=entries[0].seq, to_seq=entries[-1].seq, count=len(entries))


@dataclass(frozen=True, slots=True)
class Send:
    """One send waiting, in the group-commit queue of ``Services``, for its conversation's batch."""

    actor: Actor
    text: str
    mid: uuid.UUID
    urgent: bool
    reply_to: uuid.UUID | None
    attachment_ids: tuple[uuid.UUID, ...]
    alert: AlertTarget | None = None  # who must act: the message raises an alert (app/care/alerts.py)


SendResult = tuple[MessageView, bool]


async def send_message(services: Services, actor: Actor, conversation_id: uuid.UUID, *, body: str,
                       client_id: str, urgent: bool = False,
                       reply_to: uuid.UUID | None = None,
                       attachment_ids: Sequence[uuid.UUID] = (), alert_for: str | None = None) -> SendResult:
    """Returns the message and whether it was created now. The same ``client_id`` sent again by
    the same author returns the first message and creates nothing. ``attachment_ids`` are
    files the author uploaded to this conversation; a message with files may have no text.

    Sends to one conversation that arrive while an earlier one is being written are written
    together in the next transaction (see ``group_commit``); each is answered after its commit.

    ``alert_for`` names who must act (``person:<id>``, ``role:<address>``, ``on_call:<team id>``):
    the message is urgent and raises an alert in its own transaction."""
    target = care_alerts.parse_target(alert_for)
    text = "" if attachment_ids and isinstance(body, str) and not body.strip() \
        else clean_body(body, services.policy.max_message_bytes)
    send = Send(actor, text, message_id(conversation_id, actor.id, clean_client_id(client_id)),
                bool(urgent) or target is not None, reply_to, tuple(attachment_ids), target)
    result: SendResult = await services.sends.submit(conversation_id, send)
    return result


async def write_sends(services: Services, conversation_id: uuid.UUID,
                       sends: Sequence[Send]) -> list[SendResult | Exception]:
    """One transaction for a batch of sends to one conversation. A send that is refused gets its
    own error and takes nothing from the others; if the transaction itself fails, each send is
    tried again alone, so one send's failure is never another's."""
    try:
        return await _write_batch(services, conversation_id, sends)
    except Exception:
        if len(sends) == 1:
            raise
    return [await _write_alone(services, conversation_id, s) for s in sends]


async def _write_alone(services: Services, conversation_id: uuid.UUID, send: Send) -> SendResult | Exception:
    try:
        return (await _write_batch(services, conversation_id, [send]))[0]
    except Exception as exc:
        return exc


async def _write_batch(services: Services, conversation_id: uuid.UUID,
                       sends: Sequence[Send]) -> list[SendResult | Exception]:
    # The same send twice in one batch (a retry that caught up with the first): answered as a retry.
    firsts: dict[uuid.UUID, Send] = {}
    for s in sends:
        firsts.setdefault(s.mid, s)
    outcome: dict[uuid.UUID, SendResult | Exception] = {}
    async with services.unit() as u:
        may = await conversation_accesses(services, u.tx, [s.actor for s in firsts.values()], conversation_id)
        allowed: list[tuple[Send, Access]] = []
        for s in firsts.values():
            if (a := may.get(s.actor.id)) is not None:
                allowed.append((s, a))
            else:
                outcome[s.mid] = NotFound("conversation_not_found")
        if allowed:
            now = services.clock.now()
            # A retry is recognised under the conversation's lock, taken by reserving positions: a
            # retry sent to another server process may have just committed. Positions of sends
            # refused or already sent are given back before commit, so the log stays dense.
            last = await u.tx.conversations.next_seq(conversation_id, now, count=len(allowed))
            existing = {e.id: e for e in await u.tx.entries.many(conversation_id, [s.mid for s, _ in allowed])}
            alerting: list[tuple[Send, Access, Entry]] = []
            appended = await _append_sends(u, conversation_id, allowed, existing, outcome,
                                           first_seq=last - len(allowed) + 1, now=now, alerting=alerting)
            if (unused := len(allowed) - appended) > 0:
                await u.tx.conversations.release_seqs(conversation_id, unused)
            for s, a, e in alerting:  # after the positions are settled: an alert may bring people in
                assert s.alert is not None
                await care_alerts.raise_with(u, a, s.actor, e, s.alert)
    results: list[SendResult | Exception] = []
    answered: set[uuid.UUID] = set()
    for s in sends:
        result = outcome[s.mid]
        results.append((result[0], False) if s.mid in answered and isinstance(result, tuple) else result)
        answered.add(s.mid)
    return results


async def _append_sends(u: Unit, conversation_id: uuid.UUID, allowed: Sequence[tuple[Send, Access]],
                        existing: Mapping[uuid.UUID, Entry], outcome: dict[uuid.UUID, SendResult | Exception],
                        *, first_seq: int, now: datetime,
                        alerting: list[tuple[Send, Access, Entry]] | None = None) -> int:
    """Check and append the sends whose authors may write here, filling ``outcome``; returns how
    many were appended."""
    rows: list[tuple[Entry, Sequence[int], Sequence[uuid.UUID]]] = []
    made: list[tuple[Send, Access, Entry, list[uuid.UUID]]] = []
    claimed: set[uuid.UUID] = set()
    for s, a in allowed:
        if (already := existing.get(s.mid)) is not None:
            view = message_view(already, a.key, {s.actor.id: s.actor.person.name})
            await message_files.add_views(u.tx, a.key, conversation_id, [(already, view)])
            outcome[s.mid] = (view, False)
            continue
        try:
            reply_seq = await _reply_seq(u, a, s.reply_to)
            files = await upload.claim(u, s.actor, a, s.attachment_ids)
            if claimed.intersection(files):
                raise InvalidInput("attachment_not_available")
        except ChevetError as exc:
            outcome[s.mid] = exc
            continue
        claimed.update(files)
        named = mentioned_ids(s.text)
        # A role address (@garde) mentions whoever holds it now (app/care/duty.py).
        named |= {uuid.UUID(p) for p in await duty.named_holders(u.tx, s.actor.org_id, s.text, now)}
        # Most messages mention nobody: only then is the member list worth reading.
        member_ids = {m.person_id for m in await u.tx.conversations.members(conversation_id)} if named else set()
        mentions = sorted(m for m in named if m in member_ids and m != s.actor.id)
        flags = (MessageFlag.URGENT if s.urgent else MessageFlag.NONE) | \
            (MessageFlag.ATTACHMENTS if files else MessageFlag.NONE)
        e = Entry(id=s.mid, conversation_id=conversation_id, seq=first_seq + len(rows), kind=EntryKind.MESSAGE,
                  author_id=s.actor.id, created_at=now,
                  body_sealed=a.key.seal(s.text.encode(), envelope.aad("msg", conversation_id, s.mid)),
                  flags=flags, reply_to_seq=reply_seq, target_seq=None, subject_id=None, edited_at=None)
        rows.append((e, blind_index.terms(a.key.search_key, s.text), mentions))
        made.append((s, a, e, files))
        if s.alert is not None and alerting is not None:
            alerting.append((s, a, e))
    if not made:
        return 0
    # Each message's row holds its own place in the audit chain (one row per message). No
    # address: a person's is kept only, sealed, on the sign-in entry (app/identity/addresses.py).
    places = await u.tx.audit.reserve(made[0][0].actor.org_id, [
        (message_sent(e.id, conversation_id, s.actor.id, e.seq, s.urgent), now, None) for s, _, e, _ in made])
    await u.tx.entries.add_many(rows, places)
    for _, a, e, files in made:
        await upload.attach(u, a, files, e.id)
    views = []
    for s, a, e, _ in made:
        conv = replace(a.conversation, last_seq=e.seq)
        payload = entry_payload(conv, a.key, e, None, {s.actor.id: s.actor.person.name})
        views.append((e, payload["message"]))
        u.publish(RealtimeEvent(conv.org_id, conv.id, e.seq, event_payload(payload)))
        outcome[s.mid] = (payload["message"], True)
    await message_files.add_views(u.tx, made[0][1].key, conversation_id, views)
    return len(made)


async def _reply_seq(u: Unit, a: Access, reply_to: uuid.UUID | None) -> int | None:
    if reply_to is None:
        return None
    target = await u.tx.entries.get(a.conversation.id, reply_to)
    if target is None or target.kind is not EntryKind.MESSAGE or target.seq < a.membership.visible_from_seq:
        raise NotFound("message_not_found")
    return target.seq


async def _own_message(u: Unit, actor: Actor, a: Access, mid: uuid.UUID, *, moderation: bool) -> Entry:
    target = await u.tx.entries.get(a.conversation.id, mid)
    if target is None or target.kind is not EntryKind.MESSAGE or target.seq < a.membership.visible_from_seq:
        raise NotFound("message_not_found")
    if target.flags & MessageFlag.DELETED:
        raise InvalidInput("message_deleted")
    if target.author_id != actor.id and not (moderation and can(actor.person.role,
                                                                 Permission.MANAGE_ANY_CONVERSATION)):
        raise Forbidden("not_your_message")
    return target


async def edit_message(services: Services, actor: Actor, conversation_id: uuid.UUID, mid: uuid.UUID,
                       body: str) -> MessageView:
    """The new text replaces the old one for readers; the previous version is kept in the
    edit entry, so the change is traceable."""
    text = clean_body(body, services.policy.max_message_bytes)
    async with services.unit(actor.ip) as u:
        a = await conversation_access(services, u.tx, actor, conversation_id)
        target = await _own_message(u, actor, a, mid, moderation=False)
        previous = body_of(conversation_id, a.key, target)
        conv, e = await append_entry(u, a.conversation, a.key, kind=EntryKind.EDIT, author=actor.id,
                                     body=previous, target_seq=target.seq)
        now = services.clock.now()
        flags = target.flags | MessageFlag.EDITED
        sealed = a.key.seal(text.encode(), envelope.aad("msg", conversation_id, target.id))
        await u.tx.entries.update_body(conversation_id, target.seq, sealed, flags,
                                       blind_index.terms(a.key.search_key, text), now)
        updated = replace(target, body_sealed=sealed, flags=flags, edited_at=now)
        await u.audit(actor.org_id, "message.edited", actor.id, "message", target.id, conversation=str(conv.id),
                      seq=target.seq)
        names = await _names(u.tx, actor, [updated, e])
        payload = entry_payload(conv, a.key, e, updated, names)
        await message_files.add_views(u.tx, a.key, conv.id, [(updated, payload["message"])])
        u.publish(RealtimeEvent(conv.org_id, conv.id, e.seq, event_payload(payload)))
        return payload["message"]


async def delete_message(services: Services, actor: Actor, conversation_id: uuid.UUID, mid: uuid.UUID) -> None:
    """The text is erased (with its earlier versions); a trace 'message deleted' remains."""
    async with services.unit(actor.ip) as u:
        a = await conversation_access(services, u.tx, actor, conversation_id)
        target = await _own_message(u, actor, a, mid, moderation=True)
        conv, e = await append_entry(u, a.conversation, a.key, kind=EntryKind.DELETE, author=actor.id,
                                     target_seq=target.seq)
        flags = target.flags | MessageFlag.DELETED
        await u.tx.entries.update_body(conversation_id, target.seq, None, flags, [], target.edited_at)
        await u.tx.entries.erase_bodies_of(conversation_id, target.seq)
        files_gone = await upload.remove_for_entry(u, conversation_id, target)
        await u.audit(actor.org_id, "message.deleted", actor.id, "message", target.id, conversation=str(conv.id),
                      seq=target.seq)
        updated = replace(target, body_sealed=None, flags=flags)
        names = await _names(u.tx, actor, [updated, e])
        u.publish(RealtimeEvent(conv.org_id, conv.id, e.seq,
                                event_payload(entry_payload(conv, a.key, e, updated, names))))
    await upload.delete_files(services, files_gone)


async def history(services: Services, actor: Actor, conversation_id: uuid.UUID, *, after_seq: int | None = None,
                  before_seq: int | None = None, limit: int = 50) -> list[MessageView | EntryPayload]:
    """A page of the conversation as people see it: messages in their current state and
    membership changes. Without a bound, the latest page."""
    limit = max(1, min(limit, MAX_PAGE))
    async with services.unit(actor.ip) as u:
        a = await conversation_access(services, u.tx, actor, conversation_id)
        floor = a.membership.visible_from_seq
        if after_seq is not None:
            entries = await u.tx.entries.after(conversation_id, max(after_seq, floor - 1), limit,
                                               kinds=[int(k) for k in VISIBLE_KINDS])
        else:
            bound = before_seq if before_seq is not None else a.conversation.last_seq + 1
            entries = [e for e in await u.tx.entries.before(conversation_id, bound, floor, limit * 2)
                       if e.kind in VISIBLE_KINDS][-limit:]
        await _audit_care_read(u, actor, a, entries, "history")
        names = await _names(u.tx, actor, entries)
        out: list[MessageView | EntryPayload] = []
        messages: list[tuple[Entry, MessageView | SearchHitView]] = []
        for e in entries:
            payload = entry_payload(a.conversation, a.key, e, None, names)
            out.append(payload["message"] if e.kind is EntryKind.MESSAGE else payload)
            if e.kind is EntryKind.MESSAGE:
                messages.append((e, payload["message"]))
        await message_files.add_views(u.tx, a.key, conversation_id, messages)
        return out


async def catch_up(services: Services, actor: Actor, cursors: Mapping[uuid.UUID, int],
                   limit_per_conversation: int = 500) -> tuple[list[RealtimeEvent], dict[uuid.UUID, int]]:
    """The stream's resume: every log entry after each cursor, in order, per conversation the
    actor belongs to. Conversations missing from ``cursors`` are new to the client and are sent
    from their start. Returns the events and the conversations too far behind to replay, with
    where each stands (the client reloads those through the history API)."""
    events: list[RealtimeEvent] = []
    too_far: dict[uuid.UUID, int] = {}
    async with services.unit(actor.ip) as u:
        for conv_id in await u.tx.conversations.ids_for(actor.org_id, actor.id):
            a = await conversation_access(services, u.tx, actor, conv_id)
            after = max(cursors.get(conv_id, 0), a.membership.visible_from_seq - 1)
            if a.conversation.last_seq <= after:
                continue
            entries = await u.tx.entries.after(conv_id, after, limit_per_conversation + 1)
            if len(entries) > limit_per_conversation:
                too_far[conv_id] = a.conversation.last_seq
                continue
            events.extend(await _events_for(u, actor, a, entries))
    return events, too_far


async def entries_between(services: Services, actor: Actor, conversation_id: uuid.UUID, after_seq: int,
                          up_to_seq: int) -> list[RealtimeEvent]:
    """Fill a gap the live stream noticed (events published out of commit order)."""
    async with services.unit(actor.ip) as u:
        a = await conversation_access(services, u.tx, actor, conversation_id)
        after = max(after_seq, a.membership.visible_from_seq - 1)
        entries = [e for e in await u.tx.entries.after(conversation_id, after, max(0, up_to_seq - after))
                   if e.seq <= up_to_seq]
        return await _events_for(u, actor, a, entries)


async def _events_for(u: Unit, actor: Actor, a: Access, entries: Sequence[Entry]) -> list[RealtimeEvent]:
    await _audit_care_read(u, actor, a, [e for e in entries if e.kind is EntryKind.MESSAGE], "stream")
    targets: dict[int, Entry] = {}
    for e in entries:
        if e.target_seq is not None and e.target_seq not in targets:
            t = await u.tx.entries.at_seq(a.conversation.id, e.target_seq)
            if t is not None:
                targets[e.target_seq] = t
    names = await _names(u.tx, actor, [*entries, *targets.values()])
    events = []
    shown = []
    for e in entries:
        target = targets.get(e.target_seq or -1)
        payload = entry_payload(a.conversation, a.key, e, target, names)
        if "message" in payload:
            shown.append((e if e.kind is EntryKind.MESSAGE else target or e, payload["message"]))
        events.append(RealtimeEvent(a.conversation.org_id, a.conversation.id, e.seq, event_payload(payload)))
    await message_files.add_views(u.tx, a.key, a.conversation.id, shown)
    return events


async def note_live_read(services: Services, actor: Actor, conversation_id: uuid.UUID, seq: int) -> None:
    """A care case's messages reached this device live: traced once per stream session and
    conversation (the stream calls it on the first live delivery), not once per message."""
    async with services.unit(actor.ip) as u:
        a = await conversation_access(services, u.tx, actor, conversation_id)
        if a.conversation.kind is ConversationKind.CARE_CASE:
            await u.audit(actor.org_id, "care_case.read", actor.id, "conversation", conversation_id,
                          via="stream_live", from_seq=seq, session=str(actor.session_id))


SEARCH_SCAN = 1000  # candidates opened at most for one search, in pages of 3 × limit


async def search(services: Services, actor: Actor, query: str, limit: int = 50) -> list[SearchHitView]:
    """Blind-index search over the conversations the actor belongs to; never the others. A query
    word of 3 letters or more finds the words that begin with it; shorter ones alone are refused."""
    query = (query or "").strip()[:200]
    refused = blind_index.refusal(query)
    if refused is not None:
        raise InvalidInput(refused)
    parsed = blind_index.parse(query)
    limit = max(1, min(limit, 100))
    async with services.unit(actor.ip) as u:
        accesses: dict[uuid.UUID, Access] = {}
        wanted: dict[uuid.UUID, tuple[int, list[list[int]]]] = {}
        for conv_id in await u.tx.conversations.ids_for(actor.org_id, actor.id):
            a = await conversation_access(services, u.tx, actor, conv_id)
            accesses[conv_id] = a
            wanted[conv_id] = (a.membership.visible_from_seq, parsed.alternatives(a.key.search_key))
        hits: list[tuple[Access, Entry]] = []
        # A beginning is looked up by its first 3 or 5 letters: candidates that only share those
        # are opened and dropped, so more pages may be needed (bounded by SEARCH_SCAN).
        page, scanned = limit * 3, 0
        while len(hits) < limit and scanned < SEARCH_SCAN:
            candidates = await u.tx.entries.search(wanted, page, scanned)
            scanned += page
            for e in candidates:
                a = accesses[e.conversation_id]
                text = body_of(e.conversation_id, a.key, e)
                if text is not None and blind_index.matches(parsed, text):
                    hits.append((a, e))
                if len(hits) >= limit:
                    break
            if len(candidates) < page:
                break
        names = await _names(u.tx, actor, [e for _, e in hits])
        results: list[SearchHitView] = []
        for a, e in hits:
            view: SearchHitView = {**message_view(e, a.key, names),
                                   "conversation_title": title_of(a.conversation, a.key),
                                   "conversation_kind": a.conversation.kind.value}
            await message_files.add_views(u.tx, a.key, e.conversation_id, [(e, view)])
            results.append(view)
        care = {a.conversation.id: a for a, _ in hits if a.conversation.kind is ConversationKind.CARE_CASE}
        for a in care.values():
            await _audit_care_read(u, actor, a, [e for b, e in hits if b is a], "search")
        await u.audit(actor.org_id, "search.performed", actor.id, "person", actor.id, results=len(results))
        return results

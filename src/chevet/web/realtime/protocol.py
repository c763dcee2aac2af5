"""The realtime stream's protocol state, without I/O (in the manner of h11 and wsproto).

One ``StreamState`` per connection decides, for every event offered to it, whether it goes to
the client, is a repeat to drop, or reveals a gap that must first be filled (from the queue or
the database). The WebSocket module (``stream.py``) only reads frames, queries and writes.

The promise it keeps (DESIGN.md §4, §7): per conversation, every entry committed after the
connection opened reaches the client exactly once and in order, whatever the client sends, and
nothing is delivered once the session has ended.

Positions are taken when the connection opens, before the client says anything. The first
frame may move them back (a resume), never forward past what the server has not sent: a client
that stays silent, or says something else, is served from its opening position.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Protocol

from chevet.core.entities import RealtimeEvent

QUEUE_LIMIT = 2000

# Control events travel on the bus like the others but are never sent to a client.
SESSION_ENDED = "session.ended"
_JOINS = ("member.added", "conversation.created")


class Subscriptions(Protocol):
    """Where the connection's conversations are routed from (the process's hub)."""

    def subscribe(self, conversation_id: uuid.UUID) -> None: ...
    def unsubscribe(self, conversation_id: uuid.UUID) -> None: ...


class Verdict(Enum):
    SEND = "send"
    DROP = "drop"
    GAP = "gap"  # entries between ``last_sent(ev.conversation_id)`` and ``ev.seq`` come first


class StreamState:
    """Ordering, gap-filling, resume and the end of one connection's stream."""

    __slots__ = ("conversations", "ended", "joined_live", "pending", "person_id", "sent", "subscriptions",
                 "too_slow", "traced")

    def __init__(self, person_id: uuid.UUID, subscriptions: Subscriptions) -> None:
        self.person_id = person_id
        self.subscriptions = subscriptions
        self.conversations: set[uuid.UUID] = set()
        # Per conversation, the last seq the client has (sent to it, or held at the opening).
        self.sent: dict[uuid.UUID, int] = {}
        self.traced: set[uuid.UUID] = set()  # conversations whose live reads are already audited
        self.pending: deque[RealtimeEvent] = deque()
        self.too_slow = False
        self.ended = False
        # Conversations joined through a live event: later entries may have been published
        # before it, when this connection was not yet routed their events.
        self.joined_live: set[uuid.UUID] = set()

    # --- opening -----------------------------------------------------------------------------
    def open(self, positions: Mapping[uuid.UUID, int]) -> None:
        """The connection opened with the actor's conversations where they stand now. Events
        committed from here on are queued (subscribed) until the catch-up has been sent."""
        for cid, seq in positions.items():
            self._join(cid, seq)

    def resume(self, cursors: Mapping[uuid.UUID, int] | None) -> dict[uuid.UUID, int]:
        """The client's first word: its cursors, or None (no resume, or something else). Returns
        where the catch-up reads from, per conversation. A conversation the resume does not list
        is read from its start; without a resume, from the opening position. A cursor beyond the
        opening position is held to it (the client cannot skip what it has not received)."""
        if cursors is not None:
            self.sent = {cid: min(cursors.get(cid, 0), seq) for cid, seq in self.sent.items()}
        return dict(self.sent)

    def cursors(self) -> dict[str, int]:
        """What the client has, for the ``ready`` frame: exactly what was delivered or held."""
        return {str(cid): seq for cid, seq in self.sent.items()}

    # --- the queue ---------------------------------------------------------------------------
    def offer(self, ev: RealtimeEvent) -> bool:
        """Queue an event routed to this connection; False when the stream is over (ended or
        too slow) and the event was dropped."""
        if self.ended or self.too_slow:
            return False
        if len(self.pending) >= QUEUE_LIMIT:
            # Too slow a reader: it is closed and resumes from its cursors on reconnect.
            self.too_slow = True
            self.pending.clear()
            return False
        self.pending.append(ev)
        return True

    def queued_between(self, cid: uuid.UUID, after: int, before: int) -> list[RealtimeEvent]:
        """The queued events of ``cid`` numbered strictly between ``after`` and ``before``, in
        order, if every one of them is queued; otherwise an empty list."""
        found = {e.seq: e for e in self.pending
                 if e.conversation_id == cid and e.seq is not None and after < e.seq < before}
        if len(found) != before - after - 1:
            return []
        return [found[seq] for seq in range(after + 1, before)]

    def end(self) -> None:
        """The session ended: nothing more is delivered, whatever is queued."""
        self.ended = True
        self.pending.clear()

    def ends_with(self, ev: RealtimeEvent, session_id: uuid.UUID | None) -> bool:
        """Whether ``ev`` ends this connection's session."""
        if ev.payload.get("type") != SESSION_ENDED or self.person_id not in ev.user_ids:
            return False
        sessions = ev.payload.get("sessions")
        return session_id is not None and isinstance(sessions, list) and session_id.hex in sessions

    # --- delivery ----------------------------------------------------------------------------
    def last_sent(self, cid: uuid.UUID) -> int:
        return self.sent.get(cid, 0)

    def admit(self, ev: RealtimeEvent, *, authoritative: bool = False) -> Verdict:
        """Whether ``ev`` goes to the client now. ``authoritative``: the event was read from
        the database for this actor (a catch-up or a gap filled), so it is visible to them and
        any gap before it is one they may not see."""
        if self.ended or ev.payload.get("type") == SESSION_ENDED:
            return Verdict.DROP
        if ev.seq is None:
            return Verdict.SEND
        cid = ev.conversation_id
        if cid not in self.conversations:
            joins = ev.payload.get("type") in _JOINS and self.person_id in ev.user_ids
            if not (joins or authoritative):
                return Verdict.DROP
            self._join(cid, ev.seq - 1)
            if not authoritative:
                self.joined_live.add(cid)
        last = self.sent.get(cid, ev.seq - 1)
        if ev.seq <= last:
            return Verdict.DROP
        if ev.seq > last + 1 and not authoritative:
            return Verdict.GAP
        return Verdict.SEND

    def first_live_message(self, ev: RealtimeEvent) -> bool:
        """True once per conversation, for the first message delivered (its read is audited)."""
        if ev.payload.get("type") != "message" or ev.seq is None or ev.conversation_id in self.traced:
            return False
        self.traced.add(ev.conversation_id)
        return True

    def leaves(self, ev: RealtimeEvent) -> bool:
        """Whether ``ev`` removes this connection's person from its conversation."""
        return ev.payload.get("type") == "member.removed" and self.person_id in ev.user_ids

    def resolve(self, ev: RealtimeEvent, missing: Sequence[RealtimeEvent]) -> list[RealtimeEvent]:
        """What to write, in order, for ``ev`` admitted with a gap, given the entries found for
        that gap (in the queue or the database): those still missing, then ``ev``. What the
        database does not give (entries no longer visible to the actor) stays unsent, and so does
        what follows her removal until she is added back."""
        cid, last = ev.conversation_id, self.last_sent(ev.conversation_id)
        assert ev.seq is not None
        found = {m.seq: m for m in missing if m.conversation_id == cid and m.seq is not None and last < m.seq < ev.seq}
        # Queued entries are what the bus routed, not what the person may see: after her removal,
        # nothing is hers again until an entry that brings her back.
        out: list[RealtimeEvent] = []
        member = True
        for m in [found[seq] for seq in sorted(found)] + [ev]:
            if not member and m.payload.get("type") in _JOINS and self.person_id in m.user_ids:
                member = True
            if member:
                out.append(m)
            if self.leaves(m):
                member = False
        return out

    def delivered(self, ev: RealtimeEvent) -> bool:
        """``ev`` (admitted) has been written to the client. True when the entries after it
        must be read from the database: it joined the conversation live, and what followed
        may have been published before it."""
        if ev.seq is None:
            return False
        cid = ev.conversation_id
        self.sent[cid] = max(ev.seq, self.sent.get(cid, 0))
        if self.leaves(ev):
            self.conversations.discard(cid)
            self.sent.pop(cid, None)
            self.joined_live.discard(cid)
            self.subscriptions.unsubscribe(cid)
            return False
        if cid in self.joined_live:
            self.joined_live.discard(cid)
            return True
        return False

    def skip_to(self, cid: uuid.UUID, seq: int) -> None:
        """The entries up to ``seq`` are not for this client (too far behind: it reloads them
        through the history API, or they are not visible to it)."""
        if cid in self.conversations:
            self.sent[cid] = max(seq, self.sent.get(cid, 0))

    def _join(self, cid: uuid.UUID, seq: int) -> None:
        if cid not in self.conversations:
            self.conversations.add(cid)
            self.subscriptions.subscribe(cid)
        self.sent.setdefault(cid, seq)

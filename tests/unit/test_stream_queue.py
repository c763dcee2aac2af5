"""A stream connection's queue: events published out of order are put back in order from the
queue, and a reader too slow to keep up is marked for closing."""

from __future__ import annotations

import uuid

from chevet.core.entities import RealtimeEvent
from chevet.web.realtime import protocol
from chevet.web.realtime.protocol import StreamState

ORG, CONV, OTHER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


class _NoRoutes:
    def subscribe(self, conversation_id: uuid.UUID) -> None:
        pass

    def unsubscribe(self, conversation_id: uuid.UUID) -> None:
        pass


def _ev(conv: uuid.UUID, seq: int | None) -> RealtimeEvent:
    return RealtimeEvent(ORG, conv, seq, {"type": "message", "seq": seq})


def test_missing_events_are_found_in_the_queue_only_when_all_are_there() -> None:
    state = StreamState(uuid.uuid4(), _NoRoutes())
    for ev in (_ev(CONV, 13), _ev(OTHER, 11), _ev(CONV, 11), _ev(CONV, None), _ev(CONV, 12)):
        state.offer(ev)
    assert [e.seq for e in state.queued_between(CONV, 10, 14)] == [11, 12, 13]
    assert [e.seq for e in state.queued_between(CONV, 10, 13)] == [11, 12]
    assert state.queued_between(CONV, 9, 14) == []  # 10 is not queued: the database fills the gap
    assert state.queued_between(OTHER, 9, 12) == []


def test_a_reader_too_slow_is_marked_and_its_queue_dropped() -> None:
    state = StreamState(uuid.uuid4(), _NoRoutes())
    for seq in range(protocol.QUEUE_LIMIT + 1):
        state.offer(_ev(CONV, seq))
    assert state.too_slow and not state.pending
    state.offer(_ev(CONV, 1))
    assert not state.pending

"""A stream connection's queue: events published out of order are put back in order from the
queue, and a reader too slow to keep up is marked for closing."""

from __future__ import annotations

import uuid

from chevet.core.entities import RealtimeEvent
from chevet.web import stream
from chevet.web.stream import Connection, _queued_between

ORG, CONV, OTHER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def _ev(conv: uuid.UUID, seq: int | None) -> RealtimeEvent:
    return RealtimeEvent(ORG, conv, seq, {"type": "message", "seq": seq})


def test_missing_events_are_found_in_the_queue_only_when_all_are_there() -> None:
    conn = Connection(None)  # type: ignore[arg-type]  # the queue does not look at the actor
    for ev in (_ev(CONV, 13), _ev(OTHER, 11), _ev(CONV, 11), _ev(CONV, None), _ev(CONV, 12)):
        conn.offer(ev)
    assert [e.seq for e in _queued_between(conn, CONV, 10, 14)] == [11, 12, 13]
    assert [e.seq for e in _queued_between(conn, CONV, 10, 13)] == [11, 12]
    assert _queued_between(conn, CONV, 9, 14) == []  # 10 is not queued: the database fills the gap
    assert _queued_between(conn, OTHER, 9, 12) == []


def test_a_reader_too_slow_is_marked_and_its_queue_dropped() -> None:
    conn = Connection(None)  # type: ignore[arg-type]
    for seq in range(stream.QUEUE_LIMIT + 1):
        conn.offer(_ev(CONV, seq))
    assert conn.too_slow and not conn.pending
    conn.offer(_ev(CONV, 1))
    assert not conn.pending

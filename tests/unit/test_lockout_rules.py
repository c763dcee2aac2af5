"""The lock-out rules, sans I/O: a source's count per account, locked at its threshold,
forgotten after its window or its lock, and waits said in whole minutes."""

from __future__ import annotations

from chevet.core.lockout import LockoutPolicy, SourceCount, after_failure, current, minutes_of, refused_for

POLICY = LockoutPolicy(source_threshold=5, source_seconds=900, account_threshold=30, account_seconds=900)


def _fail(count: SourceCount | None, times: int, start: float) -> SourceCount | None:
    for i in range(times):
        count = after_failure(POLICY, count, start + i)
    return count


def test_a_source_is_refused_after_its_threshold() -> None:
    count: SourceCount | None = None
    locks = []
    for i in range(5):
        count = after_failure(POLICY, count, 1000.0 + i)
        locks.append(count.locked_until is not None)
    assert locks == [False, False, False, False, True]
    assert refused_for(POLICY, count, 1010.0) == 1004.0 + 900 - 1010.0
    assert refused_for(POLICY, None, 1010.0) == 0  # another source, or another account: no count
    assert refused_for(POLICY, count, 1904.0) == 0  # the lock ended
    assert current(POLICY, count, 1904.0) is None  # and the count is forgotten


def test_failures_are_forgotten_after_the_window() -> None:
    count = _fail(None, 4, 0.0)
    assert count is not None and count.ends(POLICY) == 900.0
    again = after_failure(POLICY, count, 901.0)  # a new window: one failure
    assert (again.failures, again.since, again.locked_until) == (1, 901.0, None)
    assert refused_for(POLICY, _fail(again, 3, 902.0), 910.0) == 0  # four in this window: not locked


def test_waits_in_whole_minutes() -> None:
    assert [minutes_of(s) for s in (1, 59, 60, 61, 899, 900, 901)] == [1, 1, 1, 2, 15, 15, 16]

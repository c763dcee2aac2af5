"""The lock-out rules, sans I/O: per account and source, forgotten after their window, bounded
in memory, and waits said in whole minutes."""

from __future__ import annotations

import uuid

from chevet.core.lockout import LockoutPolicy, SourceFailures, minutes_of

POLICY = LockoutPolicy(source_threshold=5, source_seconds=900, account_threshold=30, account_seconds=900)


def test_a_source_is_refused_after_its_threshold_for_this_account_only() -> None:
    failures, nurse, colleague = SourceFailures(), uuid.uuid4(), uuid.uuid4()
    locks = [failures.failed(POLICY, nurse, "address:198.51.100.7", 1000.0 + i) for i in range(5)]
    assert locks == [False, False, False, False, True]
    assert failures.refused_for(POLICY, nurse, "address:198.51.100.7", 1010.0) == 1004.0 + 900 - 1010.0
    assert failures.refused_for(POLICY, nurse, "device:abc", 1010.0) == 0  # her own phone
    assert failures.refused_for(POLICY, colleague, "address:198.51.100.7", 1010.0) == 0  # another account
    assert failures.refused_for(POLICY, nurse, "address:198.51.100.7", 1904.0) == 0  # the lock ended


def test_failures_are_forgotten_after_the_window_and_after_a_success() -> None:
    failures, nurse = SourceFailures(), uuid.uuid4()
    for i in range(4):
        failures.failed(POLICY, nurse, "address:a", float(i))
    assert not failures.failed(POLICY, nurse, "address:a", 901.0)  # a new window: one failure
    for i in range(3):
        failures.failed(POLICY, nurse, "address:a", 902.0 + i)
    failures.succeeded(nurse, "address:a")
    assert not failures.failed(POLICY, nurse, "address:a", 910.0)


def test_memory_stays_bounded_under_a_flood_of_sources() -> None:
    failures, nurse = SourceFailures(max_entries=100), uuid.uuid4()
    for i in range(1000):
        failures.failed(POLICY, nurse, f"address:{i}", float(i) / 1000)
    assert len(failures._counts) <= 100


def test_waits_in_whole_minutes() -> None:
    assert [minutes_of(s) for s in (1, 59, 60, 61, 899, 900, 901)] == [1, 1, 1, 2, 15, 15, 16]

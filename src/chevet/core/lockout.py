"""Who is refused after failed sign-ins: the source of the failures first, the account last.

A care team shares a ward's network (one public address behind the router) and sometimes a
ward's phone. If five typos locked the account itself, a colleague typing the wrong e-mail, or
anyone who knows a nurse's address, could keep her out of the messaging she needs for care.
So failures are counted per *source*: the sign-in's known device (a device cookie that this
account already signed in from) or, without one, the client address. A source that fails
``source_threshold`` times is refused for ``source_duration``; the account's own counter
(``Credentials.failed_logins``, in the database, shared by every server process) only takes the
failures that a source was still allowed to make, so it reaches ``account_threshold`` only with
many failures from many sources. The account lock then refuses every unknown device, but the
owner's known device can still sign in: she proves who she is with both factors, as always.

Sans I/O: the caller passes the policy and the time (its clock's, in seconds) and keeps one
``SourceFailures`` per process.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from math import ceil


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    source_threshold: int = 5
    source_seconds: float = 15 * 60
    account_threshold: int = 30
    account_seconds: float = 15 * 60


def minutes_of(seconds: float) -> int:
    """A wait as people say it: whole minutes, rounded up, at least one."""
    return max(1, ceil(seconds / 60))


@dataclass(slots=True)
class _Count:
    failures: int
    since: float
    locked_until: float | None = None


@dataclass
class SourceFailures:
    """Failed sign-ins per (account, source) in this process, bounded in memory. A count is
    forgotten ``source_seconds`` after its first failure (or after its lock ends)."""

    max_entries: int = 100_000
    _counts: dict[tuple[uuid.UUID, str], _Count] = field(default_factory=dict)

    def refused_for(self, policy: LockoutPolicy, person_id: uuid.UUID, source: str, now: float) -> float:
        """Seconds this source must still wait before trying this account again (0: it may)."""
        count = self._current(policy, person_id, source, now)
        if count is None or count.locked_until is None:
            return 0.0
        return count.locked_until - now

    def failed(self, policy: LockoutPolicy, person_id: uuid.UUID, source: str, now: float) -> bool:
        """Record one failure; True when it locks this source out of this account."""
        count = self._current(policy, person_id, source, now)
        if count is None:
            if len(self._counts) >= self.max_entries:
                self._forget_expired(policy, now)
            count = self._counts[(person_id, source)] = _Count(0, now)
        count.failures += 1
        if count.failures >= policy.source_threshold:
            count.locked_until = now + policy.source_seconds
            return True
        return False

    def succeeded(self, person_id: uuid.UUID, source: str) -> None:
        self._counts.pop((person_id, source), None)

    def _current(self, policy: LockoutPolicy, person_id: uuid.UUID, source: str, now: float) -> _Count | None:
        count = self._counts.get((person_id, source))
        if count is None:
            return None
        ends = count.locked_until if count.locked_until is not None else count.since + policy.source_seconds
        if now >= ends:
            del self._counts[(person_id, source)]
            return None
        return count

    def _forget_expired(self, policy: LockoutPolicy, now: float) -> None:
        for key in list(self._counts):
            self._current(policy, key[0], key[1], now)
        if len(self._counts) >= self.max_entries:  # a flood of sources: forget the oldest half
            for key in sorted(self._counts, key=lambda k: self._counts[k].since)[: self.max_entries // 2]:
                del self._counts[key]

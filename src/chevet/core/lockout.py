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

Sans I/O: the caller passes the policy, the time (its clock's, in seconds) and the source's
``SourceCount``, which it keeps in the database (``sign_in_failure``), so that every server
process counts the same failures and a restart forgets none.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class SourceCount:
    """One source's failures on one account: how many since ``since``, and the end of its lock."""

    failures: int
    since: float
    locked_until: float | None = None

    def ends(self, policy: LockoutPolicy) -> float:
        """When this count is forgotten: its lock's end, else its window's."""
        return self.locked_until if self.locked_until is not None else self.since + policy.source_seconds


def current(policy: LockoutPolicy, count: SourceCount | None, now: float) -> SourceCount | None:
    """The count as it stands at ``now``: None once forgotten."""
    return None if count is None or now >= count.ends(policy) else count


def refused_for(policy: LockoutPolicy, count: SourceCount | None, now: float) -> float:
    """Seconds this source must still wait before trying this account again (0: it may)."""
    count = current(policy, count, now)
    if count is None or count.locked_until is None:
        return 0.0
    return count.locked_until - now


def after_failure(policy: LockoutPolicy, count: SourceCount | None, now: float) -> SourceCount:
    """The count after one more failure; ``locked_until`` is set when it locks the source out."""
    count = current(policy, count, now) or SourceCount(0, now)
    failures = count.failures + 1
    if failures >= policy.source_threshold:
        return SourceCount(failures, count.since, now + policy.source_seconds)
    return SourceCount(failures, count.since)

"""What adapters raise for the state of what they reach."""

from __future__ import annotations


class PortError(Exception):
    """Base of the errors adapters raise for the state of what they reach, not for the request:
    the web layer maps them to HTTP answers, the application lets them pass."""


class DependencyUnavailable(PortError):
    """The database, the bus or the blob store does not answer (stopped, unreachable, locked
    beyond its timeout, disk full). Nothing the request asked for was done, unless the caller
    knows better (a commit that succeeded before a publish failed); trying again later may work.
    ``dependency`` names the part (``database``, ``bus``, ``blob_store``); never a host name."""

    def __init__(self, dependency: str, retry_after: int = 5) -> None:
        self.dependency = dependency
        self.retry_after = retry_after
        super().__init__(f"{dependency} unavailable")

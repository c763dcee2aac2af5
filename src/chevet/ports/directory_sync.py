"""The LDAP directory or Active Directory that people and teams are synchronised from."""

from __future__ import annotations

from typing import Protocol

from chevet.core.directory_sync import DirectoryRecord


class DirectoryUnavailable(Exception):
    """The directory could not be reached or refused the search; ``reason`` is a stable key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PeopleDirectory(Protocol):
    async def people(self) -> list[DirectoryRecord]:
        """Every person the configured filter selects, with the groups they belong to.
        Raises DirectoryUnavailable when the directory cannot answer in full."""
        ...

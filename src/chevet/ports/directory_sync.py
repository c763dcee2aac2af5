"""The LDAP directory or Active Directory that people and teams are synchronised from."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
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


@dataclass(frozen=True, slots=True)
class SyncRun:
    """One synchronisation as the console shows it: when, applied or a preview, what changed."""

    id: uuid.UUID
    org_id: uuid.UUID
    at: datetime
    applied: bool
    outcome: str  # done, stopped (safety stop), failed
    created: int
    updated: int
    deactivated: int
    reason: str | None


class DirectorySyncStore(Protocol):
    async def accounts(self, org_id: uuid.UUID) -> dict[uuid.UUID, str]:
        """Person id → DN of the people this organisation's directory manages."""
        ...
    async def adopt(self, org_id: uuid.UUID, person_id: uuid.UUID, dn: str) -> None: ...
    async def rename(self, org_id: uuid.UUID, person_id: uuid.UUID, name: str) -> None:
        """The directory's name for a person it manages."""
        ...
    async def record(self, run: SyncRun) -> None: ...
    async def last(self, org_id: uuid.UUID) -> SyncRun | None: ...
    async def claim(self, org_id: uuid.UUID, holder: str, now: datetime, until: datetime) -> bool:
        """Whether ``holder`` runs the organisation's scheduled sync now (no other holder's lease
        is still running); it then holds it until ``until``."""
        ...

"""The audit trail in memory: one hash chain per organisation, as the real one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from chevet.core.audit import GENESIS, AuditEntry, AuditEvent, entry_hash
from tests.fakes.tables import Tables


class FakeAuditLog:
    """Like ``SqlAuditLog``, with the same hashes (``verify_chain`` accepts what it writes).
    ``query`` returns newest first, as the real one. Unlike it, details are kept as given, not
    read back from JSON (a tuple stays a tuple)."""

    def __init__(self, t: Tables) -> None:
        self._t = t

    async def append(self, chain: uuid.UUID, event: AuditEvent, at: datetime, ip: str | None) -> AuditEntry:
        return (await self.append_many(chain, [(event, at, ip)]))[0]

    async def append_many(self, chain: uuid.UUID,
                          items: Sequence[tuple[AuditEvent, datetime, str | None]]) -> list[AuditEntry]:
        log = self._t.audit.setdefault(chain, [])
        made = []
        for event, at, ip in items:
            seq, prev = len(log) + 1, log[-1].hash if log else GENESIS
            h = entry_hash(prev, chain, seq, at, event.action, event.actor_id, event.object_type,
                           event.object_id, ip, event.detail)
            log.append(AuditEntry(chain, seq, at, event.action, event.actor_id, event.object_type,
                                  event.object_id, ip, dict(event.detail), h))
            made.append(log[-1])
        return made

    async def reserve(self, chain: uuid.UUID,
                      items: Sequence[tuple[AuditEvent, datetime, str | None]]) -> list[AuditEntry]:
        return await self.append_many(chain, items)  # in memory, the chain keeps them itself

    async def chains(self) -> list[uuid.UUID]:
        return sorted(self._t.audit)

    async def entries(self, chain: uuid.UUID) -> AsyncIterator[AuditEntry]:
        for e in list(self._t.audit.get(chain, [])):
            yield e

    async def head(self, chain: uuid.UUID) -> tuple[int, bytes] | None:
        log = self._t.audit.get(chain)
        return (log[-1].seq, log[-1].hash) if log else None

    async def query(self, chain: uuid.UUID, *, object_id: uuid.UUID | None = None,
                    actor_id: uuid.UUID | None = None, limit: int = 100) -> list[AuditEntry]:
        found = [e for e in reversed(self._t.audit.get(chain, []))
                 if (object_id is None or e.object_id == object_id) and (actor_id is None or e.actor_id == actor_id)]
        return found[:limit]

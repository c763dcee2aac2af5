"""Readiness: whether this process can serve requests now, part by part.

Liveness (the process answers) is a different question: a server whose database is down is
alive, and restarting it would not help; it is not ready, and a load balancer should send
requests elsewhere until it is."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from chevet.app.services import Services
from chevet.ports import DependencyUnavailable

CHECK_TIMEOUT = 5.0  # seconds one part may take to answer before it counts as not ready


@dataclass(frozen=True, slots=True)
class Readiness:
    database: bool
    bus: bool
    blob_store: bool

    @property
    def ready(self) -> bool:
        return self.database and self.bus and self.blob_store


async def _answers(ping: Callable[[], Awaitable[None]]) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await ping()
    except (DependencyUnavailable, TimeoutError):
        return False
    return True


async def readiness(services: Services) -> Readiness:
    """Each part checked at the same time; a part that does not answer in time is not ready.
    An installation without attachments has no blob store to wait for."""
    blobs = services.attachments.blobs.ping if services.attachments is not None else None
    database, bus, blob_store = await asyncio.gather(
        _answers(services.db.ping), _answers(services.bus.ping),
        _answers(blobs) if blobs is not None else asyncio.sleep(0, True))
    return Readiness(database=database, bus=bus, blob_store=blob_store)

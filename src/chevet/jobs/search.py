"""Search re-indexing, run by the server itself: older messages get the terms of word
beginnings (app/messaging/search_index.py), a batch at a time with a pause between batches so
that sends are never kept waiting; it stops looking once the queue is empty."""

from __future__ import annotations

import asyncio
import logging

from chevet.app.messaging import search_index
from chevet.bootstrap import Installation
from chevet.ports import DependencyUnavailable

log = logging.getLogger("chevet.jobs")
PAUSE = 0.2  # seconds between two batches
RETRY = 300.0  # seconds after a failed round


async def periodic(installation: Installation) -> None:
    while True:
        try:
            await search_index.reindex(installation.services, pause=PAUSE)
            installation.services.metrics.job_succeeded("search_reindex")
            return
        except asyncio.CancelledError:
            raise
        except DependencyUnavailable as exc:  # an outage: tried again later
            log.warning("search re-index postponed", extra={"dependency": exc.dependency})
        except Exception as exc:  # a failed round is retried later; the server stays up
            log.error("search re-index failed", extra={"error": type(exc).__name__})
        await asyncio.sleep(RETRY)

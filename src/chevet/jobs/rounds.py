"""One loop for the server's periodic rounds (alert escalation, late handovers, signalement
reminders): run a round, say what it did, wait, again. An outage postpones a round and a bug
fails it; neither stops the loop or the server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from chevet.ports import DependencyUnavailable
from chevet.ports.metrics import Metrics

log = logging.getLogger("chevet.jobs")


async def every(interval: float, job: str, one_round: Callable[[], Awaitable[int]],
                metrics: Metrics | None = None) -> None:
    """Run ``one_round`` now and every ``interval`` seconds; it returns how many things it did.
    ``metrics`` is told of each round that ends without error."""
    while True:
        try:
            done = await one_round()
            if metrics is not None:
                metrics.job_succeeded(job)
            if done:
                log.info("round done", extra={"job": job, "count": done})
        except asyncio.CancelledError:
            raise
        except DependencyUnavailable as exc:  # an outage, not a bug: tried again at the next round
            log.warning("round postponed", extra={"job": job, "dependency": exc.dependency})
        except Exception as exc:  # a failed round is tried again at the next one; the server stays up
            log.error("round failed", extra={"job": job, "error": type(exc).__name__})
        await asyncio.sleep(interval)

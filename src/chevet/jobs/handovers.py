"""Late handovers: every few minutes, the notes nobody confirmed an hour after their shift
started are flagged to the nurse managers. Run by the server itself; several processes may run
it at once, each note is flagged once (a conditional update in the database)."""

from __future__ import annotations

import asyncio
import logging

from chevet.app.care import handovers
from chevet.bootstrap import Installation
from chevet.ports import DependencyUnavailable

log = logging.getLogger("chevet.jobs")
FLAG_INTERVAL = 120.0


async def periodic(installation: Installation) -> None:
    while True:
        try:
            flagged = await handovers.flag_overdue(installation.services)
            if flagged:
                log.info("late handovers flagged", extra={"count": flagged})
        except asyncio.CancelledError:
            raise
        except DependencyUnavailable as exc:  # an outage, not a bug: tried again at the next tick
            log.warning("handover flagging postponed", extra={"dependency": exc.dependency})
        except Exception as exc:  # a failed round is retried at the next one; the server stays up
            log.error("handover flagging failed", extra={"error": type(exc).__name__})
        await asyncio.sleep(FLAG_INTERVAL)

"""Late handovers: every few minutes, the notes nobody confirmed an hour after their shift
started are flagged to the nurse managers. Run by the server itself; several processes may run
it at once, each note is flagged once (a conditional update in the database)."""

from __future__ import annotations

from chevet.app.care import handovers
from chevet.bootstrap import Installation
from chevet.jobs.rounds import every

FLAG_INTERVAL = 120.0


async def periodic(installation: Installation) -> None:
    await every(FLAG_INTERVAL, "handovers", lambda: handovers.flag_overdue(installation.services),
                installation.services.metrics)

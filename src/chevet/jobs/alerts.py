"""Urgent alerts' escalation, run by every server process: every ``INTERVAL`` seconds, each
alert whose delay ran out goes to its ladder's next step (``app/care/alerts.escalate_due``).
The state is in the database, so a restarted server carries on where it stopped, and several
processes escalate each step once: the one whose write lands first wins, the others change
nothing. The first round runs at start-up: an alert that fell due while no server ran is not
left waiting."""

from __future__ import annotations

from chevet.app.care import alerts
from chevet.bootstrap import Installation
from chevet.jobs.rounds import every

INTERVAL = 10.0  # seconds: the latest an escalation happens after its due time


async def run_once(installation: Installation) -> int:
    return await alerts.escalate_due(installation.services)


async def periodic(installation: Installation) -> None:
    await every(INTERVAL, "alerts", lambda: run_once(installation), installation.services.metrics)

"""Signalement deadline reminders, run by the server itself so that a single-process
installation needs no timer; each stage of each deadline is notified once (the database
remembers it, so several processes do not notify twice). The same round appends the audit
entries of the anonymous filings made since the last one."""

from __future__ import annotations

from chevet.app.signalement import filing, forms
from chevet.bootstrap import Installation
from chevet.jobs.rounds import every

REMINDER_INTERVAL = 300.0


async def _round(installation: Installation) -> int:
    await filing.record_anonymous_filings(installation.services)
    return await forms.send_reminders(installation.services)


async def periodic(installation: Installation) -> None:
    await every(REMINDER_INTERVAL, "signalement", lambda: _round(installation), installation.services.metrics)

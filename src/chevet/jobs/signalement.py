"""Signalement deadline reminders, run by the server itself so that a single-process
installation needs no timer; each stage of each deadline is notified once (the database
remembers it, so several processes do not notify twice). The same round appends the audit
entries of the anonymous filings made since the last one."""

from __future__ import annotations

import asyncio
import logging

from chevet.app.signalement import filing, forms
from chevet.bootstrap import Installation
from chevet.ports import DependencyUnavailable

log = logging.getLogger("chevet.jobs")
REMINDER_INTERVAL = 300.0


async def periodic(installation: Installation) -> None:
    while True:
        try:
            await filing.record_anonymous_filings(installation.services)
            sent = await forms.send_reminders(installation.services)
            if sent:
                log.info("signalement reminders sent", extra={"count": sent})
        except asyncio.CancelledError:
            raise
        except DependencyUnavailable as exc:  # an outage, not a bug: tried again at the next tick
            log.warning("signalement reminders postponed", extra={"dependency": exc.dependency})
        except Exception as exc:  # a failed round is retried at the next one; the server stays up
            log.error("signalement reminders failed", extra={"error": type(exc).__name__})
        await asyncio.sleep(REMINDER_INTERVAL)

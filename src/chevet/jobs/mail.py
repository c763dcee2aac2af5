"""The transactional mail outbox (invitations), delivered by the server itself: every few
seconds, whatever is due goes to the installation's SMTP relay (``app/identity/mail_outbox.py``).
Several server processes may run it at once: each mail is leased to one of them."""

from __future__ import annotations

import asyncio
import logging

from chevet.app.identity import mail_outbox
from chevet.bootstrap import Installation
from chevet.ports import DependencyUnavailable

log = logging.getLogger("chevet.jobs")
INTERVAL = 5.0  # seconds between two looks at the outbox


async def periodic(installation: Installation) -> None:
    if installation.services.mail_relay is None:
        return
    while True:
        try:
            await mail_outbox.deliver_all_due(installation.services)
            installation.services.metrics.job_succeeded("mail_outbox")
        except asyncio.CancelledError:
            raise
        except DependencyUnavailable as exc:  # an outage: tried again at the next round
            log.warning("mail outbox postponed", extra={"dependency": exc.dependency})
        except Exception as exc:  # a failed round is tried again; the server stays up
            log.error("mail outbox failed", extra={"error": type(exc).__name__})
        await asyncio.sleep(INTERVAL)

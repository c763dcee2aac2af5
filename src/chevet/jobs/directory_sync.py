"""The scheduled LDAP / Active Directory synchronisation (``[directory_sync] schedule_minutes``).
Several server processes may run this loop; a lease in the database lets one of them sync."""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import timedelta

from chevet.app.identity import directory_sync
from chevet.app.identity.organisations import organisation_by_slug
from chevet.bootstrap import Installation
from chevet.bootstrap.directory_sync import directory_from, options_from
from chevet.ports import DependencyUnavailable
from chevet.web.invitation_mail import invitation_mail

log = logging.getLogger("chevet.jobs")


async def periodic(installation: Installation) -> None:
    settings = installation.settings
    directory = directory_from(settings)
    minutes = settings.directory_sync.schedule_minutes
    slug = settings.directory_sync.organisation
    if directory is None or not minutes or slug is None:
        return
    holder = secrets.token_hex(8)
    period = timedelta(minutes=minutes)
    while True:
        try:
            svc = installation.services
            org = await organisation_by_slug(svc, slug)
            days = max(1, round(svc.policy.invitation_lifetime.total_seconds() / 86400))
            report = await directory_sync.scheduled(svc, org, directory, options_from(settings), holder,
                                                    period - timedelta(seconds=1),
                                                    invitation_mail(settings.origin, org.name, days))
            svc.metrics.job_succeeded("directory_sync")
            if report is not None:
                log.info("directory sync", extra={"outcome": report.outcome, "reason": report.reason,
                                                  "created": report.created, "updated": report.updated,
                                                  "deactivated": report.deactivated})
        except asyncio.CancelledError:
            raise
        except DependencyUnavailable as exc:
            log.warning("directory sync postponed", extra={"dependency": exc.dependency})
        except Exception as exc:  # a failed round is tried again; the server stays up
            log.error("directory sync failed", extra={"error": type(exc).__name__})
        await asyncio.sleep(period.total_seconds())

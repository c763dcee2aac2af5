"""Governance jobs the server runs: audit checkpoints (hourly by default) and, daily, the
retention purge, audit pruning and the refresh of the key backup when one is configured."""

from __future__ import annotations

import asyncio
import logging
import time

from chevet.app.governance import audit, audit_trail, retention
from chevet.bootstrap import Installation, write_key_backup
from chevet.ports import DependencyUnavailable

log = logging.getLogger("chevet.jobs")
FIRST_RUN_DELAY = 60.0


async def run_retention_once(installation: Installation) -> None:
    services = installation.services
    report = await retention.purge(services)
    pruned = await audit_trail.prune(services)
    log.info("retention applied", extra={"shredded": len(report.shredded),
                                         "trimmed": len(report.expired_messages), "held": len(report.held),
                                         "audit_chains_pruned": len(pruned)})
    target = installation.settings.keys.backup_file
    if target is not None:
        await write_key_backup(installation, target)
        await audit.record_installation_act(services, "key.backup_written", scheduled=True)


async def final_checkpoint(installation: Installation) -> None:
    """At shutdown: sign and witness what moved since the last periodic checkpoint."""
    if installation.services.signer is None:
        return
    try:
        await audit_trail.checkpoint_all(installation.services)
    except DependencyUnavailable as exc:
        log.warning("final audit checkpoint not taken", extra={"dependency": exc.dependency})
    except Exception as exc:  # shutting down: say so, never hang or crash the stop
        log.error("final audit checkpoint failed", extra={"error": type(exc).__name__})


async def periodic(installation: Installation) -> None:
    settings = installation.settings
    checkpoint_every = settings.audit.checkpoint_minutes * 60
    retention_every = settings.retention.interval_hours * 3600
    await asyncio.sleep(FIRST_RUN_DELAY)
    next_checkpoint = next_retention = time.monotonic()
    while True:
        now = time.monotonic()
        try:
            if now >= next_retention:
                next_retention = now + retention_every
                await run_retention_once(installation)
                installation.services.metrics.job_succeeded("retention")
            if now >= next_checkpoint:
                next_checkpoint = now + checkpoint_every
                if installation.services.signer is not None:
                    await audit_trail.checkpoint_all(installation.services)
                    installation.services.metrics.job_succeeded("audit_checkpoint")
        except asyncio.CancelledError:
            raise
        except DependencyUnavailable as exc:  # an outage, not a bug: tried again at the next tick
            log.warning("governance job postponed", extra={"dependency": exc.dependency})
        except Exception as exc:  # a failed run is retried at the next tick; the server stays up
            log.error("governance job failed", extra={"error": type(exc).__name__})
        await asyncio.sleep(max(1.0, min(next_checkpoint, next_retention) - time.monotonic()))

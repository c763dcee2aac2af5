"""Checking the audit trail: every chain, entry by entry, against its recorded head."""

from __future__ import annotations

from dataclasses import dataclass

from chevet.app.services import Services
from chevet.core.audit import ChainBreak


@dataclass(frozen=True, slots=True)
class ChainReport:
    chain: str
    entries: int
    broken: ChainBreak | None


async def verify_audit(services: Services) -> list[ChainReport]:
    """Every chain from its genesis or, once pruned, from its signed anchor; with the signed
    checkpoints (see ``audit_trail.verify_all``)."""
    from chevet.app.governance.audit_trail import verify_all

    return [ChainReport(str(v.chain), v.entries, v.broken) for v in await verify_all(services)]

"""Checking the audit trail: every chain, entry by entry, against its recorded head; and the
operator's acts on the installation, recorded in the installation's chain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


async def record_installation_act(services: Services, action: str, **detail: Any) -> None:
    """What the operator (command line) or the installation itself did outside any
    organisation — a backup written, the audit key exported — in the installation's chain."""
    async with services.unit() as u:
        await u.audit(None, action, None, "installation", None, **detail)


"""Checking the audit trail: every chain, entry by entry, against its recorded head."""

from __future__ import annotations

from dataclasses import dataclass

from chevet.app.services import Services
from chevet.core.audit import ChainBreak, verify_chain


@dataclass(frozen=True, slots=True)
class ChainReport:
    chain: str
    entries: int
    broken: ChainBreak | None


async def verify_audit(services: Services) -> list[ChainReport]:
    reports = []
    async with services.db.transaction() as tx:
        for chain in await tx.audit.chains():
            head = await tx.audit.head(chain)
            entries = [e async for e in tx.audit.entries(chain)]
            broken = verify_chain(entries, head[0] if head else None, head[1] if head else None)
            reports.append(ChainReport(str(chain), len(entries), broken))
    return reports

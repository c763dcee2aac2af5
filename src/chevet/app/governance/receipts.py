"""Signed audit receipts: issued to a DPO from the console, checked against the trail later.

Issuing signs the organisation's chain at its head now (a checkpoint, witnessed like any other)
and wraps it in a receipt signed with the audit key (core.receipt). Checking asks the database
whether the chain still reaches each checkpoint of the receipt with the same hash there; once
retention pruned the entries up to a signed anchor past it, the receipt's position can no longer
be compared, which is said, not hidden.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from chevet.app.access import require
from chevet.app.governance.audit_trail import checkpoint_all
from chevet.app.services import Actor, Services
from chevet.core import receipt as receipts
from chevet.core.errors import InvalidInput, NotFound
from chevet.core.roles import Permission


@dataclass(frozen=True, slots=True)
class IssuedReceipt:
    file_name: str
    content: bytes
    entries: int
    at: datetime


async def issue(services: Services, actor: Actor, summary: Callable[[str, int, datetime], str]) -> IssuedReceipt:
    """A receipt of the actor's organisation's trail as it is now. ``summary(organisation, entries, at)`` is
    the sentence the person reads in the file, in her language (the page words it)."""
    require(actor, Permission.VIEW_AUDIT)
    signer = services.signer
    if signer is None:
        raise InvalidInput("audit_key_missing")
    async with services.unit(actor.ip) as u:  # the request itself is in the trail the receipt covers
        await u.audit(actor.org_id, "audit.receipt_issued", actor.id, "audit", actor.org_id)
    await checkpoint_all(services, only=actor.org_id)
    async with services.db.transaction() as tx:
        cp = await tx.audit_trail.latest_checkpoint(actor.org_id)
        org = await tx.organisations.get(actor.org_id)
    if cp is None or org is None:  # the receipt_issued entry above leaves the chain never empty
        raise NotFound("organisation_not_found")
    at = services.clock.now()
    content = receipts.encode(receipts.Receipt(org.id, org.name, at, summary(org.name, cp.seq, at), (cp,),
                                               signer.public_key, signer.key_id), signer.sign)
    return IssuedReceipt(f"chevet-recu-audit-{org.slug}-{at:%Y%m%d-%H%M%S}.json", content, cp.seq, at)


Problem = Literal["receipt_chain_missing", "receipt_chain_shorter", "receipt_entry_rewritten"]


@dataclass(frozen=True, slots=True)
class ReceiptFinding:
    chain: uuid.UUID
    seq: int
    problem: Problem | None  # None: the trail holds it
    found_seq: int = 0
    pruned_past: bool = False  # retention removed the entries up to a later signed anchor


async def check(services: Services, receipt: receipts.Receipt) -> list[ReceiptFinding]:
    """For each checkpoint of the receipt: does the trail still hold it?"""
    out: list[ReceiptFinding] = []
    async with services.db.transaction() as tx:
        for cp in receipt.checkpoints:
            anchor = await tx.audit_trail.anchor(cp.chain) or 0
            last = await tx.audit_trail.last_seq(cp.chain)
            entry = await tx.audit_trail.entry_at(cp.chain, cp.seq)
            if entry is not None:
                out.append(ReceiptFinding(cp.chain, cp.seq, None if entry.hash == cp.head_hash
                                          else "receipt_entry_rewritten", last))
            elif anchor >= cp.seq:
                out.append(ReceiptFinding(cp.chain, cp.seq, None, last, pruned_past=True))
            else:
                out.append(ReceiptFinding(cp.chain, cp.seq, "receipt_chain_shorter" if last or anchor
                                          else "receipt_chain_missing", last))
    return out

"""The audit trail against its witness: starting the witness, witnessing each round of signed
checkpoints before the database stores them, and the full check an auditor runs.

Order matters: a round is written to the witness first, then to the database. A checkpoint
the database holds but the witness does not therefore means the witness lost its end (or was
unreachable, which the server logs); a witnessed checkpoint the database lost is exactly what a
database administrator acting alone cannot hide.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from cryptography import x509

from chevet.app.services import Services
from chevet.core.audit import INSTALLATION_CHAIN, ChainBreak
from chevet.core.checkpoint import ChainVerdict, Checkpoint, signed_checkpoint, verify_chain_with_checkpoints
from chevet.core.timestamp import check_token
from chevet.core.witness import ChainNow, TrailFinding, WitnessFinding, against_database, read_witness

log = logging.getLogger("chevet.audit")


async def start_witness(services: Services) -> bool:
    """Begin the witness if there is none (``chevet init``), then witness every chain's head.
    Never done by the server on its own: a witness that disappears must be noticed, not replaced."""
    if services.signer is None or services.witness is None:
        return False
    if not await services.witness.start(services.clock.now(), services.signer.sign):
        return False
    async with services.unit() as u:
        await u.audit(None, "audit.witness_started", None, "installation", INSTALLATION_CHAIN)
    from chevet.app.governance.audit_trail import checkpoint_all

    await checkpoint_all(services)
    return True


async def after_restore(services: Services) -> str:
    """After ``chevet restore``: the witness learns the restored heads (a ``restored`` record),
    or is started when the installation has none. Returns "restored" or "started"."""
    if services.signer is None or services.witness is None:
        return "none"
    if await services.witness.lines() is None:
        await start_witness(services)
        return "started"
    signer, at = services.signer, services.clock.now()
    async with services.unit() as u:
        made = [signed_checkpoint(chain, head, at, signer.key_id, signer.sign) for chain in await u.tx.audit.chains()
                if (head := await u.tx.audit.head(chain)) is not None and head[0] > 0]
        await services.witness.witness(made, at, signer.sign, kind="restored")
        for cp in made:
            await u.tx.audit_trail.add_checkpoint(cp)
    return "restored"


async def witness_round(services: Services, made: Sequence[Checkpoint]) -> None:
    """Append a round of checkpoints to the witness. An unreachable witness does not stop the
    checkpoints: ``verify`` will name each one the witness lacks."""
    if not made or services.witness is None or services.signer is None:
        return
    try:
        await services.witness.witness(made, services.clock.now(), services.signer.sign)
    except OSError as exc:
        log.error("audit witness unavailable", extra={"error": type(exc).__name__, "checkpoints": len(made)})


@dataclass(frozen=True, slots=True)
class TimestampFinding:
    record: int
    reason: str | None


@dataclass(slots=True)
class TrailReport:
    """Everything ``chevet audit verify`` says: each chain, the witness, and what the database lost."""

    chains: list[ChainVerdict] = field(default_factory=list)
    witness: list[WitnessFinding] = field(default_factory=list)
    missing: list[TrailFinding] = field(default_factory=list)
    timestamps_bad: list[TimestampFinding] = field(default_factory=list)
    witness_records: int = 0
    timestamps_checked: int = 0
    timestamps_unchecked: int = 0

    @property
    def broken(self) -> bool:
        return bool(self.witness or self.missing or self.timestamps_bad or any(v.broken for v in self.chains))


async def verify_trail(services: Services, *, public_key: bytes | None = None, witness_lines: list[bytes] | None
                       = None, use_witness_file: bool = True,
                       tsa_anchors: list[x509.Certificate] | None = None) -> TrailReport:
    """Check every chain and its checkpoints, then compare with the witness (the installation's
    file, or ``witness_lines`` an auditor brings). ``public_key``: an auditor's own copy."""
    key = public_key if public_key is not None else (services.signer.public_key if services.signer else None)
    if witness_lines is None and use_witness_file and services.witness is not None:
        witness_lines = await services.witness.lines()
    reading = read_witness(witness_lines, key)
    report = TrailReport(witness=reading.findings, witness_records=len(reading.records))
    latest = reading.latest()
    now: dict[uuid.UUID, ChainNow] = {}
    stored: list[Checkpoint] = []
    async with services.db.transaction() as tx:
        chains = sorted(set(await tx.audit.chains()) | set(await tx.audit_trail.checkpoint_chains())
                        | set(await tx.audit_trail.entry_chains()), key=lambda c: c.hex)
        for chain in chains:
            entries = [e async for e in tx.audit.entries(chain)]
            checkpoints = await tx.audit_trail.checkpoints(chain)
            anchor = await tx.audit_trail.anchor(chain) or 0
            head = await tx.audit.head(chain)
            verdict = verify_chain_with_checkpoints(chain, entries, head, checkpoints, key, anchor)
            if head is None and entries and verdict.broken is None:  # the next entry would collide
                verdict = replace(verdict, broken=ChainBreak(chain, entries[-1].seq, "head_missing"))
            report.chains.append(verdict)
            stored += checkpoints
            witnessed = latest.get(chain)
            at_witnessed = next((e.hash for e in entries if witnessed and e.seq == witnessed.seq), None)
            now[chain] = ChainNow(verdict.last_seq if entries else anchor, anchor, at_witnessed)
        organisations = [o.id for o in await tx.organisations.all()]
    report.missing = against_database(reading, now, [INSTALLATION_CHAIN, *organisations], stored)
    for record in reading.records:
        if record.timestamp_token is None:
            continue
        if not tsa_anchors:
            report.timestamps_unchecked += 1
            continue
        check = check_token(record.timestamp_token, record.hash, tsa_anchors)
        report.timestamps_checked += 1
        if not check.valid:
            report.timestamps_bad.append(TimestampFinding(record.n, check.reason))
    return report

"""Signed checkpoints of the audit trail, and the checks an auditor runs on a chain.

The hash chain alone shows that entries were not rewritten *relative to the recorded head*;
someone able to write to the database could still cut the tail and move the head back, or
rebuild the whole chain. A checkpoint is the head (chain, seq, hash, time) signed with the
installation's Ed25519 audit key, whose private half never enters the database. A checkpoint
that names a sequence number beyond the chain's last entry proves truncation; one whose hash
differs from the entry at its position proves a rewrite. Exported checkpoints, kept by an
auditor, keep proving it even if the database and its checkpoints are later replaced.

Pruning old entries keeps the chain verifiable: the chain then starts after a checkpoint
(the *anchor*), whose signed hash replaces the genesis value.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from chevet.core.audit import GENESIS, AuditEntry, ChainBreak, entry_hash

_LABEL = b"chevet-audit-checkpoint-v1|"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    chain: uuid.UUID
    seq: int
    head_hash: bytes
    at: datetime
    key_id: str
    signature: bytes


def micros(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def signed_message(chain: uuid.UUID, seq: int, head_hash: bytes, at: datetime) -> bytes:
    """The exact bytes that are signed: documented in docs/governance.md for auditors."""
    return _LABEL + chain.bytes + seq.to_bytes(8, "big") + head_hash + micros(at).to_bytes(8, "big", signed=True)


def signed_checkpoint(chain: uuid.UUID, head: tuple[int, bytes], at: datetime, key: str,
                      sign: Callable[[bytes], bytes]) -> Checkpoint:
    """The checkpoint of a chain's head, signed with the audit key (``sign``, ``key`` its id)."""
    return Checkpoint(chain, head[0], head[1], at, key, sign(signed_message(chain, head[0], head[1], at)))


def key_id(public_raw: bytes) -> str:
    return sha256(public_raw).hexdigest()[:16]


def signature_valid(public_raw: bytes, cp: Checkpoint) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(
            cp.signature, signed_message(cp.chain, cp.seq, cp.head_hash, cp.at))
    except (InvalidSignature, ValueError):
        return False
    return cp.key_id == key_id(public_raw)


def verify_segment(entries: Iterable[AuditEntry], start_seq: int = 0, start_hash: bytes = GENESIS,
                   keep: frozenset[int] = frozenset()) -> tuple[ChainBreak | None, int, bytes, dict[int, bytes]]:
    """Check consecutive entries starting right after (start_seq, start_hash).

    Returns the first break (or None), the last seq and hash reached, and the hashes of the
    sequence numbers in ``keep`` (the checkpoints' positions)."""
    prev, expected = start_hash, start_seq + 1
    seen: dict[int, bytes] = {}
    for e in entries:
        if e.seq != expected:
            return ChainBreak(e.chain, expected, "missing" if e.seq > expected else "out_of_order"), \
                expected - 1, prev, seen
        if entry_hash(prev, e.chain, e.seq, e.at, e.action, e.actor_id, e.object_type, e.object_id, e.ip,
                      e.detail) != e.hash:
            return ChainBreak(e.chain, e.seq, "altered"), expected - 1, prev, seen
        prev = e.hash
        if e.seq in keep:
            seen[e.seq] = e.hash
        expected += 1
    return None, expected - 1, prev, seen


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    chain: uuid.UUID
    entries: int
    first_seq: int
    last_seq: int
    checkpoints: int
    broken: ChainBreak | None


def verify_chain_with_checkpoints(chain: uuid.UUID, entries: Sequence[AuditEntry], head: tuple[int, bytes] | None,
                                  checkpoints: Sequence[Checkpoint], public_raw: bytes | None,
                                  anchor_seq: int | None = None,
                                  start: tuple[int, bytes] | None = None) -> ChainVerdict:
    """Everything an auditor checks on one chain: signatures, the anchor, every entry's hash,
    the recorded head, and that every checkpoint still matches the entry at its position.
    ``start`` (seq, hash) checks a segment that begins after that entry (an export of a period)."""
    def verdict(broken: ChainBreak | None) -> ChainVerdict:
        return ChainVerdict(chain, len(entries), entries[0].seq if entries else 0,
                            entries[-1].seq if entries else 0, len(checkpoints), broken)

    for cp in checkpoints:
        if public_raw is None or not signature_valid(public_raw, cp):
            return verdict(ChainBreak(chain, cp.seq, "checkpoint_signature_invalid"))
    start_seq, start_hash = start if start is not None else (0, GENESIS)
    if start is None and anchor_seq is not None and anchor_seq > 0:
        anchor = next((cp for cp in checkpoints if cp.seq == anchor_seq), None)
        if anchor is None:
            return verdict(ChainBreak(chain, anchor_seq, "anchor_without_checkpoint"))
        start_seq, start_hash = anchor.seq, anchor.head_hash
    broken, last_seq, last_hash, seen = verify_segment(entries, start_seq, start_hash,
                                                       frozenset(cp.seq for cp in checkpoints))
    if broken is not None:
        return verdict(broken)
    if head is not None and (head[0] != last_seq or head[1] != last_hash):
        return verdict(ChainBreak(chain, last_seq + 1, "truncated" if head[0] > last_seq else "head_mismatch"))
    for cp in checkpoints:
        if cp.seq > last_seq:
            return verdict(ChainBreak(chain, last_seq + 1, "truncated"))
        if cp.seq > start_seq and seen.get(cp.seq) != cp.head_hash:
            return verdict(ChainBreak(chain, cp.seq, "rewritten_since_checkpoint"))
    return verdict(None)

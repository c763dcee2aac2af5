"""The audit witness: an append-only record, kept outside the database, of every signed checkpoint.

The database holds the audit chains, their heads and their checkpoints; whoever can write to it
can cut a chain's tail and erase the checkpoints that would show it. The witness lives where the
database administrator has no hand (another volume or host, syslog, a remote service), so a
chain that is now shorter than a witnessed checkpoint, a witnessed chain that is gone, or a
rewritten witnessed head, is named by ``chevet audit verify``.

The witness is itself a chain: each line (a *record*) holds the hash of the previous one and is
signed with the installation audit key, so removing, reordering or editing lines breaks it, and
a record cannot be forged without the key. Optionally each record carries an RFC 3161
time-stamp token over its hash, from an outside time-stamping authority.

A record is one JSON object on one line::

    {"v": 1, "n": 7, "prev": "<hex>", "at_us": 1764700000000000, "kind": "checkpoints",
     "checkpoints": [{"chain": "<hex>", "seq": 42, "head_hash": "<hex>", "at_us": …,
                      "key_id": "…", "signature": "<base64>"}],
     "sig": "<base64 Ed25519>", "tst": "<base64 DER TimeStampToken>"}

``hash`` of a record = SHA-256 of its canonical JSON (sorted keys, no spaces) without ``sig`` and
``tst``; ``sig`` signs ``b"chevet-audit-witness-v1|" + hash``. The first record (n = 1, ``prev``
all zeros) has kind ``opened``: a witness whose first line is not that was cut at its start.
A ``restored`` record (written by ``chevet restore``) holds the heads of the chains as the
restored backup has them: from it on, the chains are expected to reach those heads, since what
was written after the backup is lost by the restore, knowingly.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any, Literal

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from chevet.core.checkpoint import Checkpoint, micros, signature_valid

FORMAT_VERSION = 1
_LABEL = b"chevet-audit-witness-v1|"
ZERO = b"\x00" * 32
Kind = Literal["opened", "checkpoints", "restored"]


@dataclass(frozen=True, slots=True)
class WitnessRecord:
    n: int
    prev: bytes
    at: datetime
    kind: Kind
    checkpoints: tuple[Checkpoint, ...]
    signature: bytes = b""
    timestamp_token: bytes | None = None

    def body(self) -> dict[str, Any]:
        return {"v": FORMAT_VERSION, "n": self.n, "prev": self.prev.hex(), "at_us": micros(self.at),
                "kind": self.kind, "checkpoints": [_checkpoint_json(cp) for cp in self.checkpoints]}

    @property
    def hash(self) -> bytes:
        return sha256(orjson.dumps(self.body(), option=orjson.OPT_SORT_KEYS)).digest()

    def line(self) -> bytes:
        out = self.body()
        out["sig"] = base64.b64encode(self.signature).decode()
        if self.timestamp_token is not None:
            out["tst"] = base64.b64encode(self.timestamp_token).decode()
        return orjson.dumps(out, option=orjson.OPT_SORT_KEYS)


def signed_message(record_hash: bytes) -> bytes:
    return _LABEL + record_hash


def _checkpoint_json(cp: Checkpoint) -> dict[str, Any]:
    return {"chain": cp.chain.hex, "seq": cp.seq, "head_hash": cp.head_hash.hex(), "at_us": micros(cp.at),
            "key_id": cp.key_id, "signature": base64.b64encode(cp.signature).decode()}


def _at(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC)


def next_record(last: WitnessRecord | None, kind: Kind, checkpoints: Sequence[Checkpoint], at: datetime,
                sign: Callable[[bytes], bytes]) -> WitnessRecord:
    """The record that follows ``last`` (None: the witness's first record), signed."""
    unsigned = WitnessRecord(last.n + 1 if last else 1, last.hash if last else ZERO, at, kind, tuple(checkpoints))
    return WitnessRecord(unsigned.n, unsigned.prev, at, kind, unsigned.checkpoints,
                         sign(signed_message(unsigned.hash)))


def with_timestamp(record: WitnessRecord, token: bytes) -> WitnessRecord:
    return WitnessRecord(record.n, record.prev, record.at, record.kind, record.checkpoints, record.signature, token)


def parse_line(raw: bytes) -> WitnessRecord:
    """One line as a record; ValueError when it is not one."""
    try:
        obj = orjson.loads(raw)
        if not isinstance(obj, dict) or obj.get("v") != FORMAT_VERSION or obj.get("kind") not in (
                "opened", "checkpoints", "restored"):
            raise ValueError("not a witness record")
        cps = tuple(Checkpoint(uuid.UUID(hex=c["chain"]), int(c["seq"]), bytes.fromhex(c["head_hash"]),
                               _at(int(c["at_us"])), str(c["key_id"]), base64.b64decode(c["signature"], validate=True))
                    for c in obj["checkpoints"])
        tst = obj.get("tst")
        return WitnessRecord(int(obj["n"]), bytes.fromhex(obj["prev"]), _at(int(obj["at_us"])), obj["kind"], cps,
                             base64.b64decode(obj["sig"], validate=True),
                             base64.b64decode(tst, validate=True) if isinstance(tst, str) else None)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise ValueError("not a witness record") from exc


Problem = Literal["witness_absent", "witness_empty", "witness_line_unreadable", "witness_start_cut",
                  "witness_lines_missing", "witness_signature_invalid", "witness_checkpoint_invalid"]


@dataclass(frozen=True, slots=True)
class WitnessFinding:
    problem: Problem
    record: int  # the record's number (line number for unreadable lines)


@dataclass(slots=True)
class WitnessReading:
    """What a witness proves: its sound records and, per chain, its last witnessed checkpoint."""

    records: list[WitnessRecord] = field(default_factory=list)
    findings: list[WitnessFinding] = field(default_factory=list)

    @property
    def opened_at(self) -> datetime | None:
        return self.records[0].at if self.records and self.records[0].kind == "opened" else None

    def current(self) -> list[WitnessRecord]:
        """The records since the last restore (all of them when there was none)."""
        starts = [i for i, r in enumerate(self.records) if r.kind == "restored"]
        return self.records[starts[-1]:] if starts else self.records

    def latest(self) -> dict[uuid.UUID, Checkpoint]:
        out: dict[uuid.UUID, Checkpoint] = {}
        for r in self.current():
            for cp in r.checkpoints:
                if cp.chain not in out or cp.seq >= out[cp.chain].seq:
                    out[cp.chain] = cp
        return out

    def holds(self, cp: Checkpoint) -> bool:
        return any(w.chain == cp.chain and w.seq == cp.seq and w.head_hash == cp.head_hash
                   for r in self.records for w in r.checkpoints)


def read_witness(lines: Iterable[bytes] | None, public_raw: bytes | None) -> WitnessReading:
    """Check the witness's own chain and signatures. ``None`` lines: there is no witness file."""
    reading = WitnessReading()
    if lines is None:
        reading.findings.append(WitnessFinding("witness_absent", 0))
        return reading
    last: WitnessRecord | None = None
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = parse_line(raw)
        except ValueError:
            reading.findings.append(WitnessFinding("witness_line_unreadable", number))
            continue
        if last is None and (record.n != 1 or record.kind != "opened" or record.prev != ZERO):
            reading.findings.append(WitnessFinding("witness_start_cut", record.n))
        elif last is not None and (record.n != last.n + 1 or record.prev != last.hash):
            reading.findings.append(WitnessFinding("witness_lines_missing", last.n + 1))
        if public_raw is None or not _signed(public_raw, record):
            reading.findings.append(WitnessFinding("witness_signature_invalid", record.n))
        elif any(not signature_valid(public_raw, cp) for cp in record.checkpoints):
            reading.findings.append(WitnessFinding("witness_checkpoint_invalid", record.n))
        else:
            reading.records.append(record)
        last = record
    if last is None:
        reading.findings.append(WitnessFinding("witness_empty", 0))
    return reading


def _signed(public_raw: bytes, record: WitnessRecord) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(record.signature, signed_message(record.hash))
    except (InvalidSignature, ValueError):
        return False
    return True


TrailProblem = Literal["witnessed_chain_missing", "shorter_than_witnessed", "rewritten_since_witnessed",
                       "organisation_without_chain", "checkpoint_not_witnessed", "checkpoint_erased"]


@dataclass(frozen=True, slots=True)
class TrailFinding:
    """Something the database no longer holds although the witness (or the organisation list) says it must."""

    problem: TrailProblem
    chain: uuid.UUID
    seq: int = 0          # the witnessed (or unwitnessed) position
    found_seq: int = 0    # how far the chain goes now


@dataclass(frozen=True, slots=True)
class ChainNow:
    """One chain as the database has it: its last position and the hash of the witnessed one."""

    last_seq: int
    anchor_seq: int
    hash_at_witnessed: bytes | None


def against_database(reading: WitnessReading, chains: dict[uuid.UUID, ChainNow],
                     organisations: Iterable[uuid.UUID], stored: Iterable[Checkpoint]) -> list[TrailFinding]:
    """Compare the witness with the database: every witnessed chain must still exist and reach
    its last witnessed position with the same hash there (unless pruning removed that entry);
    every organisation must have a chain; every checkpoint stored since the witness opened
    must be in it (otherwise the witness lost its end), and every witnessed checkpoint past a
    chain's pruning anchor must still be in the database."""
    found: list[TrailFinding] = []
    stored = list(stored)
    kept = {(cp.chain, cp.seq, cp.head_hash) for cp in stored}
    for chain, cp in sorted(reading.latest().items(), key=lambda kv: kv[0].hex):
        now = chains.get(chain)
        if now is None:
            found.append(TrailFinding("witnessed_chain_missing", chain, cp.seq))
        elif max(now.last_seq, now.anchor_seq) < cp.seq:
            found.append(TrailFinding("shorter_than_witnessed", chain, cp.seq, now.last_seq))
        elif now.anchor_seq < cp.seq and now.hash_at_witnessed != cp.head_hash:
            found.append(TrailFinding("rewritten_since_witnessed", chain, cp.seq, now.last_seq))
    erased = sorted({(w.chain, w.seq) for r in reading.current() for w in r.checkpoints
                     if w.chain in chains and w.seq > chains[w.chain].anchor_seq
                     and (w.chain, w.seq, w.head_hash) not in kept}, key=lambda k: (k[0].hex, k[1]))
    found += [TrailFinding("checkpoint_erased", chain, seq) for chain, seq in erased]
    for org in sorted(set(organisations) - set(chains), key=lambda u: u.hex):
        found.append(TrailFinding("organisation_without_chain", org))
    opened = reading.opened_at
    if opened is not None:
        for cp in stored:
            if cp.at >= opened and not reading.holds(cp):
                found.append(TrailFinding("checkpoint_not_witnessed", cp.chain, cp.seq))
    return found

"""Audit receipts: what the DPO downloads and keeps, away from the installation.

A receipt holds the signed checkpoint of each chain of one organisation at one time, and is
itself signed with the installation audit key. Kept by the DPO (or sent to the CNIL, an auditor,
a court), it later proves, with ``chevet audit verify --receipt FILE``, that the trail still
holds every entry up to those checkpoints, unchanged, whatever happened to the database and to
the witness since.

The file is JSON (UTF-8); ``signature`` signs ``b"chevet-audit-receipt-v1|"`` followed by the
SHA-256 of the canonical JSON (sorted keys, no spaces) of every other field.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from chevet.core.checkpoint import Checkpoint, micros, signature_valid

FORMAT = "chevet-audit-receipt-1"
_LABEL = b"chevet-audit-receipt-v1|"
MAX_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Receipt:
    organisation_id: uuid.UUID
    organisation_name: str
    issued_at: datetime
    summary: str
    checkpoints: tuple[Checkpoint, ...]
    public_key: bytes
    key_id: str


def _body(r: Receipt) -> dict[str, Any]:
    return {"format": FORMAT, "organisation": {"id": str(r.organisation_id), "name": r.organisation_name},
            "issued_at": r.issued_at.isoformat(), "issued_at_us": micros(r.issued_at), "summary": r.summary,
            "checkpoints": [{"chain": str(cp.chain), "seq": cp.seq, "head_hash": cp.head_hash.hex(),
                             "at_us": micros(cp.at), "key_id": cp.key_id,
                             "signature": base64.b64encode(cp.signature).decode()} for cp in r.checkpoints],
            "public_key_ed25519": base64.b64encode(r.public_key).decode(), "key_id": r.key_id}


def signed_message(body: dict[str, Any]) -> bytes:
    return _LABEL + sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).digest()


def encode(r: Receipt, sign: Any) -> bytes:
    """The receipt file: its fields and its signature (``sign`` is the audit key's)."""
    body = _body(r)
    body["signature"] = base64.b64encode(sign(signed_message(body))).decode()
    return orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


class ReceiptUnreadable(ValueError):
    pass


def decode(data: bytes, public_raw: bytes | None) -> Receipt:
    """The receipt, once its signature and every checkpoint's are checked with ``public_raw``
    (the auditor's own copy of the public key; None: the key the receipt names)."""
    if len(data) > MAX_BYTES:
        raise ReceiptUnreadable("too_large")
    try:
        obj = orjson.loads(data)
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise ReceiptUnreadable("not_a_receipt")
        signature = base64.b64decode(obj.pop("signature"), validate=True)
        key = public_raw if public_raw is not None else base64.b64decode(obj["public_key_ed25519"], validate=True)
        receipt = Receipt(
            uuid.UUID(obj["organisation"]["id"]), str(obj["organisation"]["name"]),
            datetime.fromtimestamp(int(obj["issued_at_us"]) / 1_000_000, tz=UTC), str(obj["summary"]),
            tuple(Checkpoint(uuid.UUID(c["chain"]), int(c["seq"]), bytes.fromhex(c["head_hash"]),
                             datetime.fromtimestamp(int(c["at_us"]) / 1_000_000, tz=UTC), str(c["key_id"]),
                             base64.b64decode(c["signature"], validate=True)) for c in obj["checkpoints"]),
            base64.b64decode(obj["public_key_ed25519"], validate=True), str(obj["key_id"]))
    except ReceiptUnreadable:
        raise
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise ReceiptUnreadable("not_a_receipt") from exc
    if _body(receipt) != obj:
        raise ReceiptUnreadable("not_a_receipt")  # extra or reformatted fields: not what was signed
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, signed_message(obj))
    except (InvalidSignature, ValueError) as exc:
        raise ReceiptUnreadable("signature_invalid") from exc
    if any(not signature_valid(key, cp) for cp in receipt.checkpoints):
        raise ReceiptUnreadable("checkpoint_signature_invalid")
    return receipt

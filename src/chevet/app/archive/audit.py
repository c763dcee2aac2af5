"""The audit trail as it leaves the installation: JSON Lines records of its entries and
signed checkpoints, and the public key that verifies them. The archive's ``audit/`` folder
and the auditor's export (``governance.audit_trail``) write the same records."""

from __future__ import annotations

import base64
from typing import Any

from chevet.app.services import Services
from chevet.core.audit import AuditEntry
from chevet.core.checkpoint import Checkpoint, micros


def public_key_b64(services: Services) -> str | None:
    return base64.b64encode(services.signer.public_key).decode() if services.signer else None


def entry_json(e: AuditEntry, prev_hash: bytes | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "entry", "chain": str(e.chain), "seq": e.seq, "at": e.at.isoformat(),
                           "at_us": micros(e.at), "action": e.action,
                           "actor_id": str(e.actor_id) if e.actor_id else None, "object_type": e.object_type,
                           "object_id": str(e.object_id) if e.object_id else None, "ip": e.ip,
                           "detail": e.detail, "hash": e.hash.hex()}
    if prev_hash is not None:
        out["prev_hash"] = prev_hash.hex()
    return out


def checkpoint_json(cp: Checkpoint) -> dict[str, Any]:
    return {"type": "checkpoint", "chain": str(cp.chain), "seq": cp.seq, "head_hash": cp.head_hash.hex(),
            "at": cp.at.isoformat(), "at_us": micros(cp.at), "key_id": cp.key_id,
            "signature": base64.b64encode(cp.signature).decode()}

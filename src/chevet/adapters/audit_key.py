"""The installation audit key: an Ed25519 key pair in a file beside the master key (0600).

It signs the audit trail's checkpoints. Only its public half is ever exported; an auditor who
keeps that public key and the exported checkpoints can later prove that the trail was neither
cut nor rewritten, without trusting the database.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chevet.adapters.private_file import read_private
from chevet.core.checkpoint import key_id

_HEADER = "chevet-audit-key-v1"


class AuditKeyError(Exception):
    pass


def create_audit_key(path: Path) -> bool:
    """Create the audit key file if missing. Returns whether it was created."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists():
        return False
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{_HEADER}\n{base64.b64encode(seed).decode()}\n")
        fh.flush()
        os.fsync(fh.fileno())
    return True


class AuditKeyFile:
    def __init__(self, path: Path) -> None:
        lines = read_private(path, "audit key file", AuditKeyError).split()
        if len(lines) != 2 or lines[0] != _HEADER:
            raise AuditKeyError(f"audit key file {path} is not a Chevet audit key file")
        try:
            self._key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(lines[1]))
        except ValueError as exc:
            raise AuditKeyError(f"audit key file {path} is damaged") from exc
        self.public_key = self._key.public_key().public_bytes_raw()
        self.key_id = key_id(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

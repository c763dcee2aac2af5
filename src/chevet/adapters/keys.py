"""The installation master key, kept in a file outside the database (mode 0600).

It only wraps and unwraps data keys and derives purpose keys; it never seals content itself.
The same interface can later be served by a KMS or an HSM.
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

from chevet.core import envelope

_HEADER = "chevet-master-key-v1"


class KeyFileError(Exception):
    pass


def create_key_file(path: Path) -> bool:
    """Create the master key file if missing. Returns whether it was created."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists():
        return False
    key = base64.b64encode(envelope.random_key()).decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{_HEADER}\n{key}\n")
        fh.flush()
        os.fsync(fh.fileno())
    return True


class KeyFile:
    def __init__(self, path: Path) -> None:
        try:
            mode = path.stat().st_mode
            text = path.read_text()
        except FileNotFoundError as exc:
            raise KeyFileError(f"master key file not found: {path} (run `chevet init`)") from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(f"master key file {path} is readable by others: chmod 600 it")
        lines = text.split()
        if len(lines) != 2 or lines[0] != _HEADER:
            raise KeyFileError(f"master key file {path} is not a Chevet key file")
        key = base64.b64decode(lines[1])
        if len(key) != envelope.KEY_BYTES:
            raise KeyFileError(f"master key file {path} is damaged")
        self._wrapping = envelope.derive_key(key, "wrap")
        self._root = key

    def wrap(self, data_key: bytes, associated: bytes) -> bytes:
        return envelope.seal(self._wrapping, data_key, associated)

    def unwrap(self, wrapped: bytes, associated: bytes) -> bytes:
        return envelope.open_sealed(self._wrapping, wrapped, associated)

    def derive(self, purpose: str) -> bytes:
        return envelope.derive_key(self._root, purpose)

"""The installation master key, kept in a file outside the database (mode 0600).

It only wraps and unwraps data keys and derives purpose keys; it never seals content itself.
The same interface can later be served by a KMS or an HSM.

Rotation without downtime: the file holds several numbered keys and names the current one.
Every wrapped blob starts with the number of the key that wrapped it, so a process can unwrap
blobs of any key the file still holds while new blobs are wrapped with the current key. Running
processes notice a rewritten file within ``RELOAD_EVERY`` seconds (and at once when they meet a
key number they do not know). The old key leaves the file only after everything was re-wrapped.

File format (v2)::

    chevet-master-key-v2
    current 2
    key 1 <base64>
    key 2 <base64>

A v1 file (header then one base64 line) is read as key 1; blobs written before key numbers
existed (first byte 0x01, the envelope version) belong to key 1.
"""

from __future__ import annotations

import base64
import os
import struct
import threading
import time
from pathlib import Path

from chevet.adapters.private_file import read_private
from chevet.core import envelope
from chevet.core.errors import IntegrityError

_HEADER_V1 = "chevet-master-key-v1"
_HEADER = "chevet-master-key-v2"
_NUMBERED = 0x02  # first byte of a wrapped blob that names its key
RELOAD_EVERY = 2.0


class KeyFileError(Exception):
    pass


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _render(keys: dict[int, bytes], current: int) -> str:
    lines = [_HEADER, f"current {current}"]
    lines += [f"key {kid} {base64.b64encode(material).decode()}" for kid, material in sorted(keys.items())]
    return "\n".join(lines) + "\n"


def create_key_file(path: Path) -> bool:
    """Create the master key file if missing. Returns whether it was created."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists():
        return False
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(_render({1: envelope.random_key()}, 1))
        fh.flush()
        os.fsync(fh.fileno())
    return True


def read_key_file(path: Path) -> tuple[dict[int, bytes], int]:
    """The numbered keys and the current key's number."""
    lines = read_private(path, "master key file", KeyFileError).split("\n")
    keys: dict[int, bytes] = {}
    current = 0
    try:
        if lines[0] == _HEADER_V1:
            keys[1] = base64.b64decode(lines[1].strip(), validate=True)
            current = 1
        elif lines[0] == _HEADER:
            for line in lines[1:]:
                parts = line.split()
                if not parts:
                    continue
                if parts[0] == "current" and len(parts) == 2:
                    current = int(parts[1])
                elif parts[0] == "key" and len(parts) == 3:
                    keys[int(parts[1])] = base64.b64decode(parts[2], validate=True)
                else:
                    raise ValueError(line)
        else:
            raise ValueError("header")
    except (ValueError, IndexError) as exc:
        raise KeyFileError(f"master key file {path} is not a Chevet key file") from exc
    if current not in keys or any(len(k) != envelope.KEY_BYTES or n < 1 for n, k in keys.items()):
        raise KeyFileError(f"master key file {path} is damaged")
    return keys, current


def add_key(path: Path) -> tuple[int, int]:
    """Add a fresh key and make it current. Returns (previous current, new current)."""
    keys, current = read_key_file(path)
    new = max(keys) + 1
    keys[new] = envelope.random_key()
    _write_atomically(path, _render(keys, new))
    return current, new


def retire_keys(path: Path, numbers: set[int]) -> list[int]:
    """Remove keys (never the current one) once nothing is wrapped with them any more."""
    keys, current = read_key_file(path)
    gone = sorted(n for n in numbers if n in keys and n != current)
    for n in gone:
        del keys[n]
    if gone:
        _write_atomically(path, _render(keys, current))
    return gone


class KeyFile:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] = (0, 0)
        self._checked = 0.0
        self._load()

    def _load(self) -> None:
        keys, current = read_key_file(self._path)
        st = self._path.stat()
        self._keys = keys
        self._wrapping = {n: envelope.derive_key(k, "wrap") for n, k in keys.items()}
        self._current = current
        self._stamp = (st.st_mtime_ns, st.st_ino)
        self._checked = time.monotonic()

    def reload(self, *, force: bool = False) -> None:
        """Pick up a rewritten key file (another process rotated the key)."""
        now = time.monotonic()
        if not force and now - self._checked < RELOAD_EVERY:
            return
        with self._lock:
            self._checked = now
            try:
                st = self._path.stat()
            except FileNotFoundError:
                return
            if force or (st.st_mtime_ns, st.st_ino) != self._stamp:
                self._load()

    def current_key_id(self) -> int:
        self.reload()
        return self._current

    def key_ids(self) -> list[int]:
        self.reload()
        return sorted(self._keys)

    def key_id_of(self, wrapped: bytes) -> int:
        if wrapped[:1] == bytes([_NUMBERED]) and len(wrapped) > 5:
            return int(struct.unpack(">I", wrapped[1:5])[0])
        return 1

    def wrap(self, data_key: bytes, associated: bytes) -> bytes:
        self.reload()
        current = self._current
        return bytes([_NUMBERED]) + struct.pack(">I", current) + envelope.seal(self._wrapping[current], data_key,
                                                                                associated)

    def unwrap(self, wrapped: bytes, associated: bytes) -> bytes:
        self.reload()
        number = self.key_id_of(wrapped)
        body = wrapped[5:] if wrapped[:1] == bytes([_NUMBERED]) else wrapped
        if number not in self._wrapping:
            self.reload(force=True)
        key = self._wrapping.get(number)
        if key is None:
            raise IntegrityError("ciphertext_invalid")
        return envelope.open_sealed(key, body, associated)

    def derive(self, purpose: str) -> bytes:
        self.reload()
        return envelope.derive_key(self._keys[self._current], purpose)

    def derive_all(self, purpose: str) -> list[bytes]:
        """The purpose key under every key the file holds, current first: what was sealed
        before a rotation still opens until it is re-sealed."""
        self.reload()
        order = [self._current] + [n for n in sorted(self._keys, reverse=True) if n != self._current]
        return [envelope.derive_key(self._keys[n], purpose) for n in order]

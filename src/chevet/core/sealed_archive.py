"""The encrypted container of exports (organisation archives, subject access archives).

An archive file is a header followed by AES-256-GCM chunks (docs/governance.md documents the
layout byte by byte, so that the data can be read without Chevet):

    magic  "CHEVET-ARCHIVE-1\\n"                      17 bytes
    mode   1 = passphrase (scrypt), 2 = X25519 recipient key
    mode 1: salt (16), log2(N) (1), r (1), p (1)
    mode 2: the sender's ephemeral X25519 public key (32)
    chunk  final flag (1), length (4, big endian), ciphertext+tag (length)   repeated

Each chunk is sealed with nonce = chunk index (12 bytes, big endian) and associated data =
header || index (8) || final flag, so that chunks cannot be reordered, dropped or moved to
another archive, and a cut file (no final chunk) is refused. The key is unique per archive
(random salt or ephemeral key), so counter nonces never repeat under one key.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from chevet.core.errors import InvalidInput

MAGIC = b"CHEVET-ARCHIVE-1\n"
PASSPHRASE, RECIPIENT = 1, 2
CHUNK = 1 << 20
MAX_CHUNK = 1 << 24
DEFAULT_LOG2_N = 17  # scrypt N = 131072, r = 8: 128 MiB and a fraction of a second per archive
MIN_PASSPHRASE = 12


class ArchiveError(InvalidInput):
    """An archive that cannot be opened: wrong secret, damaged or cut."""


def _scrypt(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=1 << log2_n, r=r, p=p).derive(passphrase.encode())


def _x25519_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient,
                info=b"chevet/archive").derive(shared)


def passphrase_header(passphrase: str, log2_n: int = DEFAULT_LOG2_N) -> tuple[bytes, bytes]:
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInput("passphrase_too_short", min=MIN_PASSPHRASE)
    salt = os.urandom(16)
    header = MAGIC + bytes([PASSPHRASE]) + salt + bytes([log2_n, 8, 1])
    return header, _scrypt(passphrase, salt, log2_n, 8, 1)


def recipient_header(recipient_public: bytes) -> tuple[bytes, bytes]:
    try:
        recipient = X25519PublicKey.from_public_bytes(recipient_public)
    except ValueError as exc:
        raise InvalidInput("recipient_key_invalid") from exc
    ephemeral = X25519PrivateKey.generate()
    eph_pub = ephemeral.public_key().public_bytes_raw()
    key = _x25519_key(ephemeral.exchange(recipient), eph_pub, recipient_public)
    return MAGIC + bytes([RECIPIENT]) + eph_pub, key


class SealedWriter:
    """Encrypts a byte stream into ``out`` chunk by chunk; ``close`` writes the final chunk."""

    def __init__(self, out: BinaryIO, header: bytes, key: bytes, chunk: int = CHUNK) -> None:
        self._out, self._header, self._aead, self._chunk = out, header, AESGCM(key), chunk
        self._buf = bytearray()
        self._index = 0
        out.write(header)

    def _emit(self, data: bytes, final: bool) -> None:
        flag = 1 if final else 0
        nonce = self._index.to_bytes(12, "big")
        sealed = self._aead.encrypt(nonce, data, self._header + self._index.to_bytes(8, "big") + bytes([flag]))
        self._out.write(bytes([flag]) + len(sealed).to_bytes(4, "big") + sealed)
        self._index += 1

    def write(self, data: bytes) -> int:
        self._buf += data
        while len(self._buf) > self._chunk:
            self._emit(bytes(self._buf[:self._chunk]), False)
            del self._buf[:self._chunk]
        return len(data)

    def close(self) -> None:
        self._emit(bytes(self._buf), True)
        self._buf.clear()


def _read_exact(src: BinaryIO, n: int) -> bytes:
    data = src.read(n)
    if len(data) != n:
        raise ArchiveError("archive_truncated")
    return data


def open_header(src: BinaryIO, *, passphrase: str | None = None,
                identity: X25519PrivateKey | None = None) -> tuple[bytes, bytes]:
    """Read the header and derive the archive key from the secret the operator gave."""
    if src.read(len(MAGIC)) != MAGIC:
        raise ArchiveError("archive_not_chevet")
    mode = _read_exact(src, 1)[0]
    if mode == PASSPHRASE:
        salt = _read_exact(src, 16)
        log2_n, r, p = _read_exact(src, 3)
        if passphrase is None:
            raise ArchiveError("archive_needs_passphrase")
        if not (10 <= log2_n <= 22 and 1 <= r <= 32 and 1 <= p <= 16):
            raise ArchiveError("archive_corrupted")
        header = MAGIC + bytes([mode]) + salt + bytes([log2_n, r, p])
        return header, _scrypt(passphrase, salt, log2_n, r, p)
    if mode == RECIPIENT:
        eph = _read_exact(src, 32)
        if identity is None:
            raise ArchiveError("archive_needs_identity")
        mine = identity.public_key().public_bytes_raw()
        try:
            shared = identity.exchange(X25519PublicKey.from_public_bytes(eph))
        except ValueError as exc:
            raise ArchiveError("archive_corrupted") from exc
        return MAGIC + bytes([mode]) + eph, _x25519_key(shared, eph, mine)
    raise ArchiveError("archive_corrupted")


def decrypt_chunks(src: BinaryIO, *, passphrase: str | None = None,
                   identity: X25519PrivateKey | None = None) -> Iterator[bytes]:
    """Yield the plaintext chunk by chunk; raise ``ArchiveError`` on the first problem. The
    caller must not act on the data before the iteration ends without error."""
    header, key = open_header(src, passphrase=passphrase, identity=identity)
    aead = AESGCM(key)
    index = 0
    while True:
        head = src.read(5)
        if len(head) == 0:
            raise ArchiveError("archive_truncated")
        if len(head) != 5 or head[0] not in (0, 1):
            raise ArchiveError("archive_corrupted")
        final, length = head[0], int.from_bytes(head[1:], "big")
        if length < 16 or length > MAX_CHUNK + 16:
            raise ArchiveError("archive_corrupted")
        sealed = _read_exact(src, length)
        try:
            plain = aead.decrypt(index.to_bytes(12, "big"), sealed,
                                 header + index.to_bytes(8, "big") + bytes([final]))
        except InvalidTag as exc:
            raise ArchiveError("archive_wrong_secret" if index == 0 else "archive_corrupted") from exc
        yield plain
        index += 1
        if final:
            if src.read(1):
                raise ArchiveError("archive_corrupted")
            return

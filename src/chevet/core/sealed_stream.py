"""Chunked authenticated encryption for files (attachment contents in the blob store).

A photo or a PDF is sealed in chunks so that it can be written and read back without holding
all of it in memory twice, and so that a download can start before the whole file is opened.
Each chunk is AES-256-GCM with its own nonce (a random per-file prefix and the chunk index);
the associated data names what the file belongs to, the chunk index and whether the chunk is
the last one. A chunk moved, dropped, repeated or a file cut short fails to open.

Format (version 1)::

    b"CHB" 0x01 | chunk size (4 bytes, big endian) | nonce prefix (8 bytes)
    then chunks: ciphertext + 16-byte tag, every chunk ``chunk size`` bytes of plaintext
    except the last (which may be empty and is always present).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chevet.core.errors import IntegrityError

MAGIC = b"CHB\x01"
HEADER = struct.Struct(">4sI8s")
TAG = 16
DEFAULT_CHUNK = 64 * 1024
MAX_CHUNK = 16 * 1024 * 1024


def _chunk_aad(associated: bytes, index: int, final: bool) -> bytes:
    return associated + b"|" + struct.pack(">IB", index, 1 if final else 0)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def sealed_size(plain_size: int, chunk: int = DEFAULT_CHUNK) -> int:
    """The size on disk of ``plain_size`` bytes once sealed (quota checks happen before writing)."""
    chunks = plain_size // chunk + 1
    return HEADER.size + plain_size + chunks * TAG


def seal(key: bytes, associated: bytes, data: bytes, chunk: int = DEFAULT_CHUNK) -> Iterator[bytes]:
    """Yield the sealed file piece by piece: the header, then one sealed chunk at a time."""
    if not 0 < chunk <= MAX_CHUNK:
        raise ValueError("chunk size out of range")
    aead = AESGCM(key)
    prefix = os.urandom(8)
    yield HEADER.pack(MAGIC, chunk, prefix)
    view = memoryview(data)
    count = len(data) // chunk + 1
    for index in range(count):
        piece = bytes(view[index * chunk:(index + 1) * chunk])
        final = index == count - 1
        yield aead.encrypt(_nonce(prefix, index), piece, _chunk_aad(associated, index, final))


class Opener:
    """Opens a sealed file fed in arbitrary pieces (as read from disk or the network).

    ``feed`` returns the plaintext that is complete and authenticated so far; ``close`` checks
    that the final chunk was seen. Nothing unauthenticated is ever returned."""

    def __init__(self, key: bytes, associated: bytes) -> None:
        self._aead = AESGCM(key)
        self._associated = associated
        self._buffer = bytearray()
        self._chunk = 0
        self._prefix = b""
        self._index = 0
        self._done = False

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out = bytearray()
        if not self._chunk:
            if len(self._buffer) < HEADER.size:
                return b""
            magic, chunk, prefix = HEADER.unpack(bytes(self._buffer[:HEADER.size]))
            if magic != MAGIC or not 0 < chunk <= MAX_CHUNK:
                raise IntegrityError("ciphertext_invalid")
            self._chunk, self._prefix = chunk, prefix
            del self._buffer[:HEADER.size]
        full = self._chunk + TAG
        # Keep one full chunk back: only the end of the stream tells whether it is the last.
        while len(self._buffer) > full:
            out += self._open(bytes(self._buffer[:full]), final=False)
            del self._buffer[:full]
        return bytes(out)

    def close(self) -> bytes:
        if self._done:
            return b""
        if not self._chunk or len(self._buffer) < TAG:
            raise IntegrityError("ciphertext_invalid")
        last = self._open(bytes(self._buffer), final=True)
        self._buffer.clear()
        self._done = True
        return last

    def _open(self, piece: bytes, *, final: bool) -> bytes:
        if self._done:
            raise IntegrityError("ciphertext_invalid")
        try:
            plain = self._aead.decrypt(_nonce(self._prefix, self._index), piece,
                                       _chunk_aad(self._associated, self._index, final))
        except InvalidTag as exc:
            raise IntegrityError("ciphertext_invalid") from exc
        self._index += 1
        return plain


def open_all(key: bytes, associated: bytes, pieces: Iterable[bytes]) -> bytes:
    opener = Opener(key, associated)
    out = bytearray()
    for piece in pieces:
        out += opener.feed(piece)
    out += opener.close()
    return bytes(out)


def plain_size(sealed: int, chunk: int = DEFAULT_CHUNK) -> int:
    """The plaintext size of a file sealed with ``chunk``-byte chunks (for Content-Length)."""
    body = sealed - HEADER.size
    if body < TAG:
        return 0
    chunks = -(-body // (chunk + TAG))
    return body - chunks * TAG


def chunk_span(plain: int, start: int, end: int, chunk: int = DEFAULT_CHUNK) -> tuple[int, int, int, int]:
    """For plaintext bytes ``start``..``end`` (inclusive) of a ``plain``-byte file: the first
    chunk index, the offset and length of the sealed bytes holding them, and where ``start``
    falls in the first chunk's plaintext (ranged downloads read only those chunks)."""
    if not 0 <= start <= end < plain:
        raise ValueError("range outside the file")
    first, last = start // chunk, end // chunk
    offset = HEADER.size + first * (chunk + TAG)
    length = min(sealed_size(plain, chunk), offset + (last - first + 1) * (chunk + TAG)) - offset
    return first, offset, length, start - first * chunk


class RangeOpener(Opener):
    """Opens chunks read from the middle of a sealed file, starting at chunk ``first``; the
    header (chunk size, nonce prefix) is read separately and given here."""

    def __init__(self, key: bytes, associated: bytes, header: bytes, first: int, chunks_total: int) -> None:
        super().__init__(key, associated)
        magic, chunk, prefix = HEADER.unpack(header)
        if magic != MAGIC or not 0 < chunk <= MAX_CHUNK:
            raise IntegrityError("ciphertext_invalid")
        self._chunk, self._prefix, self._index = chunk, prefix, first
        self._total = chunks_total

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out = bytearray()
        full = self._chunk + TAG
        while len(self._buffer) >= full:
            out += self._open(bytes(self._buffer[:full]), final=self._index == self._total - 1)
            del self._buffer[:full]
        return bytes(out)

    def close(self) -> bytes:
        if not self._buffer:
            return b""
        if self._index != self._total - 1:
            raise IntegrityError("ciphertext_invalid")
        last = self._open(bytes(self._buffer), final=True)
        self._buffer.clear()
        return last

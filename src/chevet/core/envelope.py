"""Envelope encryption: the sealing of care content at rest.

An installation master key (held outside the database) wraps one data key per conversation.
Content is sealed with AES-256-GCM under the data key, with the ids it belongs to as
associated data, so that a ciphertext copied to another row or conversation fails to open.
Destroying the wrapped data key (crypto-shredding) makes every copy of the content, including
those in old database backups, unrecoverable.

Sealed format: one version byte, a 96-bit random nonce, then ciphertext and 128-bit tag.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chevet.core.errors import IntegrityError

VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
OVERHEAD = 1 + NONCE_BYTES + 16


def random_key() -> bytes:
    return os.urandom(KEY_BYTES)


def derive_key(key: bytes, purpose: str) -> bytes:
    """A sub-key for one purpose, so one secret never serves two uses directly."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                info=b"chevet/" + purpose.encode()).derive(key)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return bytes([VERSION]) + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < OVERHEAD or sealed[0] != VERSION:
        raise IntegrityError("ciphertext_invalid")
    try:
        return AESGCM(key).decrypt(sealed[1:1 + NONCE_BYTES], sealed[1 + NONCE_BYTES:], aad)
    except InvalidTag as exc:
        raise IntegrityError("ciphertext_invalid") from exc


def aad(label: str, *ids: uuid.UUID) -> bytes:
    """Associated data naming what a ciphertext belongs to."""
    return label.encode() + b"|" + b"".join(i.bytes for i in ids)


@dataclass(frozen=True, slots=True)
class DataKey:
    """A conversation's (or a report's) unwrapped data key, and the keys derived from it."""

    material: bytes

    @property
    def search_key(self) -> bytes:
        return derive_key(self.material, "search")

    def seal(self, plaintext: bytes, associated: bytes) -> bytes:
        return seal(self.material, plaintext, associated)

    def open(self, sealed: bytes, associated: bytes) -> bytes:
        return open_sealed(self.material, sealed, associated)

    def __repr__(self) -> str:  # never print key material
        return "DataKey(<hidden>)"

"""The archive container: what goes in comes out, and any damage, cut or wrong secret is refused."""

from __future__ import annotations

import io
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from chevet.core.sealed_archive import (
    ArchiveError,
    SealedWriter,
    decrypt_chunks,
    passphrase_header,
    recipient_header,
)

PASS = "une phrase de passe solide"


def _seal(data: bytes, chunk: int = 64, log2_n: int = 10) -> bytes:
    out = io.BytesIO()
    header, key = passphrase_header(PASS, log2_n=log2_n)
    w = SealedWriter(out, header, key, chunk=chunk)
    w.write(data)
    w.close()
    return out.getvalue()


def _open(blob: bytes, passphrase: str = PASS) -> bytes:
    return b"".join(decrypt_chunks(io.BytesIO(blob), passphrase=passphrase))


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=600))
def test_round_trip(data: bytes) -> None:
    assert _open(_seal(data)) == data


def test_every_cut_is_refused() -> None:
    blob = _seal(os.urandom(300))
    for cut in [*range(1, 40), *range(40, len(blob), 5)]:
        with pytest.raises(ArchiveError):
            _open(blob[:cut])


def test_a_flipped_byte_anywhere_is_refused() -> None:
    blob = _seal(os.urandom(300))
    for pos in [*range(0, 40), *range(40, len(blob), 3)]:
        damaged = bytearray(blob)
        damaged[pos] ^= 0x01
        with pytest.raises(ArchiveError):
            _open(bytes(damaged))


def test_wrong_passphrase_and_trailing_garbage() -> None:
    blob = _seal(b"contenu")
    with pytest.raises(ArchiveError) as exc:
        _open(blob, "une autre phrase de passe")
    assert exc.value.code == "archive_wrong_secret"
    with pytest.raises(ArchiveError):
        _open(blob + b"x")


def test_recipient_key() -> None:
    me = X25519PrivateKey.generate()
    out = io.BytesIO()
    header, key = recipient_header(me.public_key().public_bytes_raw())
    w = SealedWriter(out, header, key)
    w.write(b"pour le destinataire")
    w.close()
    assert b"".join(decrypt_chunks(io.BytesIO(out.getvalue()), identity=me)) == b"pour le destinataire"
    with pytest.raises(ArchiveError):
        b"".join(decrypt_chunks(io.BytesIO(out.getvalue()), identity=X25519PrivateKey.generate()))


def test_short_passphrase_refused() -> None:
    with pytest.raises(Exception) as exc:
        passphrase_header("court")
    assert getattr(exc.value, "code", None) == "passphrase_too_short"

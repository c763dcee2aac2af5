"""Web Push message encryption (RFC 8291) decrypts with the receiver's keys only, and the
gateway refuses endpoints outside the administrator's list."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chevet.adapters.push import allowed, encrypt


def _receiver() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    return key, key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _decrypt(body: bytes, key: ec.EllipticCurvePrivateKey, public: bytes, auth: bytes) -> bytes:
    salt, rs, idlen = body[:16], int.from_bytes(body[16:20], "big"), body[20]
    assert rs == 4096 and idlen == 65
    sender = body[21:86]
    shared = key.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender))

    def h(k: bytes, d: bytes) -> bytes:
        return hmac.new(k, d, hashlib.sha256).digest()

    prk = h(salt, h(h(auth, shared), b"WebPush: info\x00" + public + sender + b"\x01"))
    plain = AESGCM(h(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]).decrypt(
        h(prk, b"Content-Encoding: nonce\x00\x01")[:12], body[86:], None)
    assert plain.endswith(b"\x02")
    return plain[:-1]


def test_round_trip_and_wrong_receiver() -> None:
    key, public = _receiver()
    auth = os.urandom(16)
    body = encrypt(b'{"body":"Nouveau message"}', public, auth)
    assert _decrypt(body, key, public, auth) == b'{"body":"Nouveau message"}'
    other, _ = _receiver()
    with pytest.raises((InvalidTag, ValueError)):
        _decrypt(body, other, public, auth)
    with pytest.raises(InvalidTag):
        _decrypt(body, key, public, os.urandom(16))


def test_only_listed_push_services() -> None:
    listed = ("https://fcm.googleapis.com", "http://127.0.0.1:9999")
    assert allowed("https://fcm.googleapis.com/fcm/send/abc", listed)
    assert allowed("http://127.0.0.1:9999/push/1", listed)
    assert not allowed("https://fcm.googleapis.com.evil.example/x", listed)
    assert not allowed("http://fcm.googleapis.com/fcm/send/abc", listed)
    assert not allowed("https://user:pw@fcm.googleapis.com/x", listed)
    assert not allowed("http://127.0.0.1:5432/", listed)
    assert not allowed("file:///etc/passwd", listed)

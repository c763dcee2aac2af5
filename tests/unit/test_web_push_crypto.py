"""Web Push message encryption (RFC 8291) decrypts with the receiver's keys only, and the
gateway refuses endpoints outside the administrator's list."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chevet.adapters.push import PADDED_LENGTH, allowed, encrypt


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# RFC 8291 Appendix A: the specification's own example (published test data, not credentials).
RFC_PLAINTEXT = b"When I grow up, I want to be a watermelon"
RFC_AS_PRIVATE = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
RFC_UA_PRIVATE = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
RFC_UA_PUBLIC = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
RFC_SALT = "DGv6ra1nlYgDCS1FRnbzlw"
RFC_AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
RFC_BODY = ("DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6Tlz"
            "AC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN")


def _rfc_key(b64: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(_b64(b64), "big"), ec.SECP256R1())


def test_the_rfc_8291_example_byte_for_byte() -> None:
    body = encrypt(RFC_PLAINTEXT, _b64(RFC_UA_PUBLIC), _b64(RFC_AUTH), salt=_b64(RFC_SALT),
                   server_key=_rfc_key(RFC_AS_PRIVATE), padded_length=0)
    assert body == _b64(RFC_BODY)
    assert _decrypt(body, _rfc_key(RFC_UA_PRIVATE), _b64(RFC_UA_PUBLIC), _b64(RFC_AUTH)) == RFC_PLAINTEXT


def test_every_notification_has_the_same_size_whatever_it_names() -> None:
    """What a push service sees of a payload is its length: padded, a team's name (short or long)
    or the kind of notification does not show in it."""
    key, public = _receiver()
    auth = os.urandom(16)
    long_name = ('{"body":"Nouveau message dans ' + "Unité de soins " * 20 + '"}').encode()
    payloads = [b'{"body":"Nouveau message"}', long_name, b"x" * (PADDED_LENGTH - 1)]
    bodies = [encrypt(p, public, auth) for p in payloads]
    assert {len(b) for b in bodies} == {86 + PADDED_LENGTH + 16}
    assert [_decrypt(b, key, public, auth) for b in bodies] == payloads
    longer = encrypt(b"y" * PADDED_LENGTH, public, auth)  # beyond one block: the next whole block
    assert len(longer) == 86 + 2 * PADDED_LENGTH + 16 and _decrypt(longer, key, public, auth) == b"y" * PADDED_LENGTH


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
    unpadded = plain.rstrip(b"\x00")  # RFC 8188 §2: the delimiter, then any zeros of padding
    assert unpadded.endswith(b"\x02")
    return unpadded[:-1]


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

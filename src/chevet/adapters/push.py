"""Web Push (RFC 8030) with message encryption (RFC 8291, aes128gcm) and VAPID (RFC 8292).

The installation's VAPID key is created by ``chevet init`` in the data folder (mode 0600). A
notification is sent only to the push service a browser registered, and only if its origin is
one the administrator listed in ``push_services``: Chevet contacts nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chevet.core.notification import PushSubscription, push_service_allowed

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("chevet.push")
RECORD_SIZE = 4096
# Every payload is padded to a whole number of these (one, for every notification sent today).
PADDED_LENGTH = 1024


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def create_vapid_key(path: Path) -> bool:
    """Create the VAPID private key file if missing. Returns whether it was created."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists():
        return False
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    return True


def _public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def encrypt(payload: bytes, p256dh: bytes, auth: bytes, *, salt: bytes | None = None,
            server_key: ec.EllipticCurvePrivateKey | None = None, padded_length: int = PADDED_LENGTH) -> bytes:
    """The aes128gcm body for one subscription (RFC 8291 §3-4), in a single record. The
    plaintext is padded (RFC 8188 §2: the delimiter, then zeros) to a whole number of
    ``padded_length`` blocks, so that the push service, which sees only the body's length,
    cannot tell a short team name from a long one or one kind of notification from another.
    ``padded_length=0``: no padding (the RFC's own example)."""
    receiver = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    server_key = server_key or ec.generate_private_key(ec.SECP256R1())
    server_public = _public_bytes(server_key.public_key())
    shared = server_key.exchange(ec.ECDH(), receiver)
    ikm = _hmac(_hmac(auth, shared), b"WebPush: info\x00" + p256dh + server_public + b"\x01")
    salt = salt or os.urandom(16)
    prk = _hmac(salt, ikm)
    cek = _hmac(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
    nonce = _hmac(prk, b"Content-Encoding: nonce\x00\x01")[:12]
    plain = payload + b"\x02"
    if padded_length:
        plain += b"\x00" * (-len(plain) % padded_length)
    if len(plain) + 16 + 86 > RECORD_SIZE:
        raise ValueError("push payload too large")
    sealed = AESGCM(cek).encrypt(nonce, plain, None)
    return salt + struct.pack("!IB", RECORD_SIZE, len(server_public)) + server_public + sealed


def allowed(endpoint: str, services: tuple[str, ...]) -> bool:
    """Whether ``endpoint`` belongs to one of the push services the administrator allowed."""
    return push_service_allowed(endpoint, services)


class WebPush:
    """The push gateway: signs (VAPID) and encrypts, then posts to the registered endpoint."""

    def __init__(self, key_file: Path, services: tuple[str, ...], contact: str) -> None:
        loaded = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_file} is not an EC private key")
        self._key = loaded
        self._public = b64url(_public_bytes(loaded.public_key()))
        self.services = services
        self.contact = contact
        self._client: httpx.AsyncClient | None = None

    @property
    def public_key(self) -> str:
        return self._public

    def _jwt(self, audience: str) -> str:
        header = b64url(json.dumps({"typ": "JWT", "alg": "ES256"}).encode())
        claims = b64url(json.dumps({"aud": audience, "exp": int(time.time()) + 12 * 3600,
                                    "sub": self.contact}).encode())
        signing_input = f"{header}.{claims}".encode()
        r, s = decode_dss_signature(self._key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return f"{header}.{claims}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    async def send(self, subscription: PushSubscription, payload: bytes, *, ttl: int, urgent: bool) -> int:
        import httpx  # loaded with the first push (5 MiB), not in every server process at start-up

        if not allowed(subscription.endpoint, self.services):
            log.warning("push endpoint not allowed", extra={"subscription": str(subscription.id)})
            return 0
        parts = urlsplit(subscription.endpoint)
        body = encrypt(payload, subscription.p256dh, subscription.auth)
        headers = {"TTL": str(ttl), "Urgency": "high" if urgent else "normal", "Content-Encoding": "aes128gcm",
                   "Content-Type": "application/octet-stream",
                   "Authorization": f"vapid t={self._jwt(f'{parts.scheme}://{parts.netloc}')}, k={self._public}"}
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=10, follow_redirects=False, trust_env=False)
        try:
            response = await self._client.post(subscription.endpoint, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("push service unreachable", extra={"error": type(exc).__name__})
            return 0
        return response.status_code

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

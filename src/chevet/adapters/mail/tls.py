"""TLS for talking to the MSSanté operator: TLS 1.2 at least, the operator's certificate
checked against the configured trust anchor only (never the system store: IGC-Santé is not in
public stores, and no other CA is allowed), optional client certificate (PEM or PKCS#12)."""

from __future__ import annotations

import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    path: Path
    key_path: Path | None = None
    password: bytes | None = None


def operator_context(trust_anchor: Path, client: ClientCertificate | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(trust_anchor))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    if client is not None:
        load_client_certificate(ctx, client)
    return ctx


def load_client_certificate(ctx: ssl.SSLContext, client: ClientCertificate) -> None:
    data = client.path.read_bytes()
    if b"-----BEGIN" in data:
        ctx.load_cert_chain(str(client.path), str(client.key_path) if client.key_path else None,
                            password=client.password)
        return
    # PKCS#12: the ssl module only reads PEM files, so the key goes through a private
    # temporary file that exists only for the time of loading.
    key, cert, chain = pkcs12.load_key_and_certificates(data, client.password)
    if key is None or cert is None:
        raise ValueError("the PKCS#12 file holds no key or no certificate")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    pem += cert.public_bytes(serialization.Encoding.PEM)
    pem += b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain or [])
    fd, name = tempfile.mkstemp(prefix="chevet-cc-", suffix=".pem")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, pem)
        os.close(fd)
        ctx.load_cert_chain(name)
    finally:
        os.unlink(name)

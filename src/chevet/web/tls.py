"""TLS for the built-in server, following ANSSI's recommendations for TLS (guide
"Recommandations de sécurité relatives à TLS"): TLS 1.3, and TLS 1.2 only with ECDHE key
exchange and AEAD suites; no compression, no renegotiation, server preference, no session
tickets (their keys would live for the process's lifetime). The TLS 1.2 suites are the
``tls_ciphers`` setting (ECDHE with AES-GCM or ChaCha20-Poly1305 by default); TLS 1.3 suites
are all AEAD and keep OpenSSL's order. docs/hardening.md explains each choice; the reverse
proxy of that page stays the recommended set-up."""

from __future__ import annotations

import os
import ssl
import stat
from pathlib import Path

from chevet.settings import Settings, SettingsError


def _readable(path: Path, what: str, *, private: bool) -> None:
    try:
        mode = path.stat().st_mode
        with path.open("rb"):
            pass
    except OSError as exc:
        raise SettingsError(f"{what} {path}: cannot be read ({exc.strerror})") from exc
    if private and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SettingsError(f"{what} {path}: readable by other users; run chmod 600 {path}")


def server_context(settings: Settings) -> ssl.SSLContext:
    """The SSL context of ``chevet serve`` when ``tls_cert_file`` and ``tls_key_file`` are set.
    Errors are sentences naming the setting, raised before the server listens."""
    assert settings.tls.cert_file is not None and settings.tls.key_file is not None
    _readable(settings.tls.cert_file, "tls_cert_file", private=False)
    _readable(settings.tls.key_file, "tls_key_file", private=os.name == "posix")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= (ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
                    | ssl.OP_NO_TICKET)
    try:
        ctx.set_ciphers(settings.tls.ciphers)
    except ssl.SSLError as exc:
        raise SettingsError(f"tls_ciphers: OpenSSL accepts none of these suites ({settings.tls.ciphers})") from exc
    try:
        ctx.load_cert_chain(str(settings.tls.cert_file), str(settings.tls.key_file))
    except ssl.SSLError as exc:
        raise SettingsError(f"tls_cert_file / tls_key_file: not a certificate chain and its private key "
                            f"in PEM ({exc.reason or exc})") from exc
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx

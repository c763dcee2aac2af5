"""The built-in server's TLS, checked from outside with ``openssl s_client``: TLS 1.3 and TLS 1.2
with ECDHE + AEAD suites are accepted; TLS 1.1, CBC suites and RSA key exchange are refused;
answers carry HSTS and the session cookie is ``Secure``; a bad configuration stops
``chevet serve`` with a sentence naming the setting."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chevet.bootstrap import initialise
from chevet.settings import Settings
from tests.mss_pki import TestCA, write_pem
from tests.support import Server, new_member, new_org

pytestmark = pytest.mark.skipif(subprocess.run(["openssl", "version"], capture_output=True).returncode != 0,
                                reason="openssl is not installed")


def _pki(tmp: Path) -> tuple[Path, dict[str, str]]:
    ca = TestCA("AC TEST TLS")
    leaf = ca.issue("localhost", dns=["localhost"], server=True)
    ca_file = write_pem(tmp / "ca.pem", ca.pem())
    cert = write_pem(tmp / "server.pem", leaf.pem(), ca.pem())
    key = write_pem(tmp / "server.key", leaf.key_pem())
    return ca_file, {"CHEVET_TLS_CERT_FILE": str(cert), "CHEVET_TLS_KEY_FILE": str(key)}


@pytest.fixture
async def tls_server(sqlite_settings: Settings, tmp_path: Path) -> Iterator[Server]:
    await initialise(sqlite_settings)
    ca_file, env = _pki(tmp_path)
    server = Server(sqlite_settings, env=env, tls_ca=ca_file)
    try:
        yield server
    finally:
        server.stop()


def handshake(server: Server, *flags: str) -> tuple[bool, str]:
    """One ``openssl s_client`` handshake; (succeeded, what it printed)."""
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", "-servername", "localhost",
                        "-CAfile", str(server.ca_file), "-verify_return_error", "-brief", *flags],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    return r.returncode == 0, r.stdout + r.stderr


def test_protocols_and_suites_follow_anssi(tls_server: Server) -> None:
    ok, out = handshake(tls_server, "-tls1_3")
    assert ok and "TLSv1.3" in out, out
    for suite in ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"):
        ok, out = handshake(tls_server, "-tls1_2", "-cipher", suite)
        assert ok and suite in out, (suite, out)
    # Offered by the client (security level 0 lets OpenSSL offer them), refused by the server.
    for refused in (["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256:@SECLEVEL=0"],   # CBC
                    ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"],      # CBC, SHA-1
                    ["-tls1_2", "-cipher", "AES128-GCM-SHA256:@SECLEVEL=0"],         # RSA key exchange
                    ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
                    ["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"]):
        ok, out = handshake(tls_server, *refused)
        assert not ok, (refused, out)


async def test_https_answers_carry_hsts_and_secure_cookies(tls_server: Server) -> None:
    from chevet.bootstrap import open_installation

    inst = open_installation(tls_server.settings)
    try:
        org = await new_org(inst.services, "ehpad-tls")
        nurse = await new_member(inst.services, org, "nurse", "Inès Durand")
    finally:
        await inst.close()
    with httpx.Client(base_url=tls_server.url, verify=tls_server.verify) as client:
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.headers["strict-transport-security"].startswith("max-age=")
        page = client.get("/login")
        form = {"email": nurse.email, "password": nurse.password, "otp": nurse.otp(), "next": "/",
                "csrf": _csrf(page.text)}
        signed = client.post("/login", data=form)
        assert signed.status_code == 303, signed.text
        cookie = next(v for k, v in signed.headers.multi_items() if k == "set-cookie" and "chevet_session=" in v)
        assert "secure" in cookie.lower() and "httponly" in cookie.lower()
    # Plain HTTP on the TLS port gets no answer from the application.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{tls_server.port}/healthz", timeout=3)


def _csrf(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


def _serve(settings: Settings, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "chevet.cli.main", "serve", "--data-dir", str(settings.data_dir),
                           "--port", "1"], env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


async def test_bad_tls_settings_stop_the_server_with_a_sentence(sqlite_settings: Settings, tmp_path: Path) -> None:
    await initialise(sqlite_settings)
    _, env = _pki(tmp_path)
    only_cert = _serve(sqlite_settings, {"CHEVET_TLS_CERT_FILE": env["CHEVET_TLS_CERT_FILE"]})
    assert only_cert.returncode == 2 and "tls_cert_file and tls_key_file go together" in only_cert.stderr

    Path(env["CHEVET_TLS_KEY_FILE"]).chmod(0o644)
    shared_key = _serve(sqlite_settings, env)
    assert shared_key.returncode == 2 and "readable by other users" in shared_key.stderr, shared_key.stderr
    Path(env["CHEVET_TLS_KEY_FILE"]).chmod(0o600)

    garbage = write_pem(tmp_path / "garbage.pem",
                        b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    not_pem = _serve(sqlite_settings, {**env, "CHEVET_TLS_CERT_FILE": str(garbage)})
    assert not_pem.returncode == 2 and "tls_cert_file / tls_key_file" in not_pem.stderr, not_pem.stderr

    missing = _serve(sqlite_settings, {**env, "CHEVET_TLS_KEY_FILE": str(tmp_path / "nowhere.key")})
    assert missing.returncode == 2 and "cannot be read" in missing.stderr, missing.stderr

    weak = _serve(sqlite_settings, {**env, "CHEVET_TLS_CIPHERS": "NO-SUCH-SUITE"})
    assert weak.returncode == 2 and "tls_ciphers" in weak.stderr, weak.stderr

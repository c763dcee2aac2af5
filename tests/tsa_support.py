"""A local RFC 3161 time-stamping authority for the tests: OpenSSL's own TSA (``openssl ts
-reply``) answers every request; a small HTTP front only carries the DER request to it and the
DER answer back (RFC 3161 §3.4, ``application/timestamp-query`` / ``-reply``). The CA and the
TSA certificate (extended key usage timeStamping, critical) are made with ``openssl`` too."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_CONFIG = """\
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = placeholder
[ ca_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ tsa_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/ca.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.250.1.999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _openssl(*args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


@dataclass
class Tsa:
    url: str
    ca_file: Path
    folder: Path
    requests: int = 0


def make_authority(folder: Path, name: str = "TSA de test") -> None:
    """A CA and a TSA certificate it issued, in ``folder``."""
    cnf = folder / "openssl.cnf"
    cnf.write_text(_CONFIG.format(dir=folder))
    (folder / "serial").write_text("01\n")
    _openssl("req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / "ca.key"),
             "-out", str(folder / "ca.pem"), "-days", "3650", "-subj", "/CN=AC horodatage de test",
             "-config", str(cnf), "-extensions", "ca_ext")
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / "tsa.key"),
             "-out", str(folder / "tsa.csr"), "-subj", f"/CN={name}", "-config", str(cnf))
    _openssl("x509", "-req", "-in", str(folder / "tsa.csr"), "-CA", str(folder / "ca.pem"),
             "-CAkey", str(folder / "ca.key"), "-CAcreateserial", "-out", str(folder / "tsa.pem"),
             "-days", "3650", "-extfile", str(cnf), "-extensions", "tsa_ext")


def reply(folder: Path, query: bytes) -> bytes:
    """OpenSSL's TSA answers one DER TimeStampReq."""
    with tempfile.TemporaryDirectory() as tmp:
        q = Path(tmp) / "q.tsq"
        q.write_bytes(query)
        return _openssl("ts", "-reply", "-config", str(folder / "openssl.cnf"), "-queryfile", str(q))


@contextmanager
def local_tsa(folder: Path) -> Iterator[Tsa]:
    folder.mkdir(parents=True, exist_ok=True)
    make_authority(folder)
    holder: list[Tsa] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self.send_error(415)
                return
            try:
                answer = reply(folder, body)
            except subprocess.CalledProcessError:
                self.send_error(400)
                return
            holder[0].requests += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Tsa(f"http://127.0.0.1:{server.server_address[1]}/tsa", folder / "ca.pem", folder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()


def openssl_verifies(folder: Path, token: bytes, digest: bytes) -> subprocess.CompletedProcess[str]:
    """The independent check: ``openssl ts -verify`` of a token for a digest against the test CA."""
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp) / "token.der"
        t.write_bytes(token)
        return subprocess.run(["openssl", "ts", "-verify", "-digest", digest.hex(), "-in", str(t), "-token_in",
                               "-CAfile", str(folder / "ca.pem"), "-untrusted", str(folder / "tsa.pem")],
                              capture_output=True, text=True)

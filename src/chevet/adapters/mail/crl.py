"""Certificate revocation lists on disk: the files and folder an administrator configured,
read again when they change, and the optional download of CRLs from addresses the
administrator configured (CRLs are signed by their CA, so plain http is acceptable for them,
as CAs publish them; a file that does not load as a CRL never replaces a good one)."""

from __future__ import annotations

import hashlib
import logging
import os
import ssl
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509

from chevet.core.mssante.revocation import RevocationPolicy, load_crls

log = logging.getLogger("chevet.mssante.crl")
MAX_CRL_BYTES = 64 * 1024 * 1024
CHECK_EVERY = 60.0   # seconds between looks at the files' modification times


class CrlFiles:
    """The CRLs in force: files, plus every ``*.crl`` / ``*.pem`` of a folder."""

    def __init__(self, files: Sequence[Path], folder: Path | None, required: bool) -> None:
        self.files, self.folder, self.required = list(files), folder, required
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, float, int], ...] | None = None
        self._checked = 0.0
        self._policy = RevocationPolicy(required=required)
        self.reload(force=True)

    def _paths(self) -> list[Path]:
        paths = [p for p in self.files if p.is_file()]
        if self.folder is not None and self.folder.is_dir():
            paths += sorted(p for p in self.folder.iterdir() if p.suffix.lower() in (".crl", ".pem", ".der")
                            and p.is_file())
        return paths

    def reload(self, force: bool = False) -> None:
        with self._lock:
            paths = self._paths()
            stamp = tuple((str(p), p.stat().st_mtime, p.stat().st_size) for p in paths)
            if not force and stamp == self._stamp:
                return
            crls: list[x509.CertificateRevocationList] = []
            for p in paths:
                try:
                    crls.extend(load_crls(p.read_bytes()))
                except (ValueError, OSError):
                    log.warning("crl file unreadable", extra={"file": p.name})
            self._policy = RevocationPolicy(tuple(crls), self.required)
            self._stamp = stamp

    def policy(self) -> RevocationPolicy:
        now = time.monotonic()
        if now - self._checked > CHECK_EVERY:
            self._checked = now
            self.reload()
        return self._policy


def download_crls(urls: Sequence[str], folder: Path, timeout: float = 60) -> int:
    """Fetch each configured CRL into ``folder`` (replacing the previous copy only with a file
    that loads as a CRL). Returns how many were refreshed; failures are logged and kept old."""
    folder.mkdir(parents=True, exist_ok=True)
    done = 0
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    for url in urls:
        if not url.startswith(("http://", "https://")):
            continue
        target = folder / (hashlib.sha256(url.encode()).hexdigest()[:16] + ".crl")
        tmp = target.with_suffix(".part")
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "Chevet CRL refresh"})  # noqa: S310
            with urllib.request.urlopen(request, context=ctx, timeout=timeout) as response:  # noqa: S310
                data = response.read(MAX_CRL_BYTES + 1)
            if len(data) > MAX_CRL_BYTES:
                raise ValueError("too large")
            load_crls(data)
            tmp.write_bytes(data)
            os.replace(tmp, target)
            done += 1
        except (OSError, ValueError) as exc:
            tmp.unlink(missing_ok=True)
            log.warning("crl download failed", extra={"error": type(exc).__name__})
    return done

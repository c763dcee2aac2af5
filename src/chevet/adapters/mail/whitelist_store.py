"""The trust space's list of domains kept on disk (the document as received), and fetched from
its configured source (a local file, or https with the configured trust anchor)."""

from __future__ import annotations

import os
import ssl
import tempfile
import urllib.request
from pathlib import Path

from chevet.core.mssante.whitelist import MAX_BYTES, WhitelistRefused

CHUNK = 64 * 1024


class WhitelistFile:
    """``<data>/mss/whitelist/liste-blanche.xml``, replaced atomically (a crash leaves the old list)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "liste-blanche.xml"

    def read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def stamp(self) -> object:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def write(self, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".liste-blanche-", delete=False) as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, self.path)


def fetch_whitelist(source: str, trust_anchor: Path | None, timeout: float = 60) -> bytes:
    """The list's bytes from its source (blocking), bounded in size. ``WhitelistRefused`` when it
    cannot be had (never the source's answer in the reason)."""
    if source.startswith("https://"):
        ctx = ssl.create_default_context(cafile=str(trust_anchor) if trust_anchor else None)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        request = urllib.request.Request(source, headers={"User-Agent": "Chevet whitelist refresh"})  # noqa: S310
        out = bytearray()
        try:
            with urllib.request.urlopen(request, context=ctx, timeout=timeout) as response:  # noqa: S310
                while chunk := response.read(CHUNK):
                    out += chunk
                    if len(out) > MAX_BYTES:
                        raise WhitelistRefused("too_large")
        except (OSError, ValueError) as exc:
            raise WhitelistRefused("source_unreachable") from exc
        return bytes(out)
    if source.startswith(("http://", "ftp://", "file:")):
        raise WhitelistRefused("source_scheme")
    path = Path(source)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise WhitelistRefused("too_large")
        return path.read_bytes()
    except OSError as exc:
        raise WhitelistRefused("source_missing") from exc

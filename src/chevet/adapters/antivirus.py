"""ClamAV over clamd's socket (INSTREAM), for installations that run an antivirus.

The file is streamed to clamd in chunks; clamd answers ``stream: OK`` or
``stream: <signature> FOUND``. Anything else (no daemon, a time-out, a size-limit error) means
the file could not be scanned, and the upload is refused: an antivirus that is configured but
not answering never lets files through unscanned.
"""

from __future__ import annotations

import asyncio
import logging
import struct

from chevet.core.errors import Unavailable

log = logging.getLogger("chevet.antivirus")

CHUNK = 64 * 1024


class ClamdScanner:
    """``address`` is a Unix socket path, or ``tcp://host:port``."""

    def __init__(self, address: str, timeout: float = 60.0) -> None:
        self.address = address
        self.timeout = timeout

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.address.startswith("tcp://"):
            host, _, port = self.address.removeprefix("tcp://").rpartition(":")
            return await asyncio.open_connection(host.strip("[]"), int(port))
        return await asyncio.open_unix_connection(self.address)

    async def _scan(self, data: bytes) -> str | None:
        reader, writer = await self._connect()
        try:
            writer.write(b"zINSTREAM\0")
            for start in range(0, len(data), CHUNK):
                piece = data[start:start + CHUNK]
                writer.write(struct.pack(">I", len(piece)) + piece)
                await writer.drain()
            writer.write(struct.pack(">I", 0))
            await writer.drain()
            reply = (await reader.readuntil(b"\0")).rstrip(b"\0").decode("utf-8", "replace")
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
        verdict = reply.removeprefix("stream:").strip()
        if verdict == "OK":
            return None
        if verdict.endswith(" FOUND"):
            return verdict.removesuffix(" FOUND").strip() or "unknown"
        log.warning("clamd could not scan", extra={"reply": reply[:120]})
        raise Unavailable("antivirus_unavailable")

    async def scan(self, data: bytes) -> str | None:
        """None when clean, the signature name when infected; ``Unavailable`` otherwise."""
        try:
            return await asyncio.wait_for(self._scan(data), self.timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            log.warning("clamd unreachable", extra={"error": type(exc).__name__})
            raise Unavailable("antivirus_unavailable") from exc

    async def ping(self) -> bool:
        try:
            reader, writer = await asyncio.wait_for(self._connect(), 5)
            writer.write(b"zPING\0")
            await writer.drain()
            reply = await asyncio.wait_for(reader.readuntil(b"\0"), 5)
            writer.close()
            return reply.startswith(b"PONG")
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return False

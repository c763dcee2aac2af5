"""The audit witness on disk, and where its records are forwarded (core.witness says what a record is).

The file is append-only in use: each record is written at its end in one ``write`` under an
exclusive ``flock`` (several server processes share it), then flushed to disk. It belongs on
another volume or host than the database (an NFS or SMB share the database administrator cannot
write, a disk of the log host). Each record may also go to syslog (one line per checkpoint, for
a central log service), to a remote witness over HTTPS (the record's JSON, POSTed), and be
time-stamped first by an RFC 3161 authority. Forwarding failures are logged and never stop the
checkpoint: the file remains the witness that ``chevet audit verify`` reads.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import logging.handlers
import os
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import httpx

from chevet.core import timestamp
from chevet.core.checkpoint import Checkpoint
from chevet.core.witness import Kind, WitnessRecord, next_record, parse_line, with_timestamp

log = logging.getLogger("chevet.audit")
_TAIL = 1 << 16
_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class WitnessForwarding:
    """Where records go besides the file; empty strings turn each off."""

    syslog: str = ""        # "/dev/log", or "host:port" (UDP)
    https_url: str = ""     # a remote witness that accepts POSTed records
    https_ca_file: Path | None = None
    tsa_url: str = ""       # an RFC 3161 time-stamping authority (HTTP POST)
    tsa_ca_file: Path | None = None


class FileWitness:
    def __init__(self, path: Path, forwarding: WitnessForwarding = WitnessForwarding()) -> None:
        self.path = path
        self._forwarding = forwarding

    async def start(self, at: datetime, sign: Callable[[bytes], bytes]) -> bool:
        return await asyncio.to_thread(self._start, at, sign)

    async def witness(self, checkpoints: Sequence[Checkpoint], at: datetime,
                      sign: Callable[[bytes], bytes], kind: Kind = "checkpoints") -> WitnessRecord:
        record = await asyncio.to_thread(self._append, kind, checkpoints, at, sign)
        await self._forward(record)
        return record

    async def lines(self) -> list[bytes] | None:
        return await asyncio.to_thread(self._lines)

    # -- the file -----------------------------------------------------------------------------------

    def _lines(self) -> list[bytes] | None:
        try:
            return self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return None

    def _start(self, at: datetime, sign: Callable[[bytes], bytes]) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "ab") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            self._write(fh, self._stamped(next_record(None, "opened", (), at, sign)))
        return True

    def _append(self, kind: Kind, checkpoints: Sequence[Checkpoint], at: datetime,
                sign: Callable[[bytes], bytes]) -> WitnessRecord:
        # Never create the file here: a missing witness is something verify must name, not hide.
        with self.path.open("r+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            record = self._stamped(next_record(_last_record(fh), kind, checkpoints, at, sign))
            fh.seek(0, os.SEEK_END)
            self._write(fh, record)
            return record

    @staticmethod
    def _write(fh: BinaryIO, record: WitnessRecord) -> None:
        fh.write(record.line() + b"\n")
        fh.flush()
        os.fsync(fh.fileno())

    # -- time-stamps and forwarding ------------------------------------------------------------------

    def _stamped(self, record: WitnessRecord) -> WitnessRecord:
        url = self._forwarding.tsa_url
        if not url:
            return record
        request = timestamp.request_for(record.hash)
        try:
            answer = httpx.post(url, content=request.der, timeout=_TIMEOUT,
                                headers={"Content-Type": "application/timestamp-query"})
            answer.raise_for_status()
            return with_timestamp(record, timestamp.token_from_reply(request, answer.content))
        except (httpx.HTTPError, timestamp.TimestampRefused) as exc:
            log.warning("audit witness record not time-stamped", extra={"error": type(exc).__name__})
            return record

    async def _forward(self, record: WitnessRecord) -> None:
        if self._forwarding.syslog:
            await asyncio.to_thread(self._to_syslog, record)
        if self._forwarding.https_url:
            ca = self._forwarding.https_ca_file
            trust = ssl.create_default_context(cafile=str(ca)) if ca else ssl.create_default_context()
            try:
                async with httpx.AsyncClient(verify=trust, timeout=_TIMEOUT) as client:
                    answer = await client.post(self._forwarding.https_url, content=record.line(),
                                               headers={"Content-Type": "application/json"})
                    answer.raise_for_status()
            except httpx.HTTPError as exc:
                log.warning("audit witness record not forwarded", extra={"error": type(exc).__name__})

    def _to_syslog(self, record: WitnessRecord) -> None:
        target = self._forwarding.syslog
        address: str | tuple[str, int]
        if target.startswith("/"):
            address = target
        else:
            host, _, port = target.rpartition(":")
            address = (host or "127.0.0.1", int(port or 514))
        handler = logging.handlers.SysLogHandler(address=address, facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV,
                                                 socktype=socket.SOCK_DGRAM)
        try:
            for text in syslog_lines(record):
                handler.emit(logging.LogRecord("chevet.audit.witness", logging.INFO, __file__, 0, text, None, None))
        finally:
            handler.close()


def syslog_lines(record: WitnessRecord) -> list[str]:
    """One short line per checkpoint (syslog truncates long messages), and one for the record."""
    lines = [f"chevet-audit-witness: record={record.n} chain={cp.chain.hex} seq={cp.seq} head={cp.head_hash.hex()}"
             for cp in record.checkpoints]
    return [*lines, f"chevet-audit-witness: record={record.n} kind={record.kind} hash={record.hash.hex()}"]


def _last_record(fh: BinaryIO) -> WitnessRecord | None:
    """The last readable record: read from the end, the whole file only when its tail is damaged."""
    size = fh.seek(0, os.SEEK_END)
    for window in (_TAIL, size):
        fh.seek(max(0, size - window))
        lines = fh.read().splitlines()
        if window < size:
            lines = lines[1:]  # the first may be partial
        for raw in reversed(lines):
            try:
                return parse_line(raw)
            except ValueError:
                continue
    return None

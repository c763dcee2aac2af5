"""The client side of the wire: a minimal HTTP/1.1 keep-alive client for the send loop and a
WebSocket receiver.

Why not httpx in the hot loop: on a 2-core machine the client shares the CPU with the server,
and httpx spends several times more CPU per request than the few lines below. httpx is used
for everything else (set-up, history, search).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import connect


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; requests on it go one after the other."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self._auth = f"Authorization: Bearer {token}\r\n".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        if self._writer is None:
            await self._open()
        assert self._reader is not None and self._writer is not None
        # Accept-Encoding as browsers send it: the server may gzip its answer, and that costs CPU.
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Accept-Encoding: gzip\r\n").encode() + self._auth
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
        self._writer.write(head + b"\r\n" + (body or b""))
        try:
            raw = await self._reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        lines = raw.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            lname = name.strip().lower()
            if lname == b"content-length":
                length = int(value.strip())
            elif lname == b"connection" and value.strip().lower() == b"close":
                close = True
        payload = await self._reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        self._reader = self._writer = None


class Receiver:
    """One signed-in device on the realtime stream. ``on_message(message_id, arrival)`` is called
    for each message event."""

    def __init__(self, ws_url: str, token: str, since: str, on_message: Callable[[str, float], None],
                 *, compression: str | None = "deflate") -> None:
        self.url = f"{ws_url}/api/v1/stream?since={since}"
        self.token = token
        self.on_message = on_message
        self.compression = compression
        self.ready = asyncio.Event()
        self.frames = 0
        self.errors = 0
        self._ws: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect and wait for the server's "ready" (or for the connection to fail)."""
        self._task = asyncio.create_task(self._run())
        waiter = asyncio.ensure_future(self.ready.wait())
        async with asyncio.timeout(60):
            await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()

    async def _run(self) -> None:
        try:
            async with connect(self.url, additional_headers={"Authorization": f"Bearer {self.token}"},
                               compression=self.compression, max_size=2**20, ping_interval=None,
                               open_timeout=60, max_queue=None) as ws:
                self._ws = ws
                async for frame in ws:
                    self.frames += 1
                    ev = orjson.loads(frame)
                    kind = ev.get("type")
                    if kind == "message":
                        self.on_message(ev["message"]["id"], time.perf_counter())
                    elif kind == "ready":
                        self.ready.set()
        except (websockets.ConnectionClosed, OSError, TimeoutError):
            self.errors += 1
        except asyncio.CancelledError:
            raise

    async def stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass


def since_param(cursors: dict[uuid.UUID, int]) -> str:
    """The stream's resume cursors, base64url JSON without padding."""
    import base64

    raw = orjson.dumps({str(k): v for k, v in cursors.items()})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")

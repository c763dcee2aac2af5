"""Compression of pages, stylesheets, scripts and JSON (gzip), for 512 kbit/s links.

Attachment downloads are left alone: they are already compressed media or documents, are
streamed with their exact ``Content-Length``, and compressing them would cost CPU for nothing.
Small answers (under ``minimum_size``, such as a sent message's acknowledgement) go as they are,
and cost nothing here beyond a look at the request's ``Accept-Encoding``.
"""

from __future__ import annotations

import zlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNCOMPRESSED_PREFIXES = ("/api/v1/attachments/",)
# Already compressed or encrypted: gzip would spend CPU and gain nothing.
_INCOMPRESSIBLE = (b"image/", b"audio/", b"video/", b"application/pdf", b"application/zip", b"application/gzip",
                   b"application/octet-stream", b"text/event-stream")
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def accepts_gzip(accept_encoding: bytes) -> bool:
    """Whether an ``Accept-Encoding`` value accepts gzip (RFC 9110 §12.5.3): ``gzip`` (or its
    alias ``x-gzip``) with a weight above zero, or else a wildcard ``*`` above zero. ``q=0``
    means "not acceptable", and an explicit refusal wins over the wildcard."""
    wildcard = False
    for item in accept_encoding.lower().split(b","):
        coding, _, params = item.partition(b";")
        coding = coding.strip()
        weight = 1.0
        for param in params.split(b";"):
            name, _, value = param.partition(b"=")
            if name.strip() == b"q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0
        if coding in (b"gzip", b"x-gzip"):
            return weight > 0
        if coding == b"*":
            wildcard = weight > 0
    return wildcard


def _accepts_gzip(scope: Scope) -> bool:
    values = [value for name, value in scope["headers"] if name == b"accept-encoding"]
    return accepts_gzip(b",".join(values)) if values else False


class Compression:
    def __init__(self, app: ASGIApp, minimum_size: int = 600, level: int = 6) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.level = level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(UNCOMPRESSED_PREFIXES) \
                or not _accepts_gzip(scope):
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _Gzip(send, self.minimum_size, self.level).send)


class _Gzip:
    """The answer's start is held until its first body part shows whether compressing is worth it."""

    def __init__(self, send: Send, minimum_size: int, level: int) -> None:
        self._send = send
        self._minimum = minimum_size
        self._level = level
        self._start: Message | None = None
        self._compressor: zlib._Compress | None = None
        self._passing = False

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            headers = message.get("headers", [])
            if message["status"] in (204, 206, 304) or any(
                    k == b"content-encoding" or (k == b"content-type" and v.startswith(_INCOMPRESSIBLE))
                    for k, v in headers):
                self._passing = True
                await self._send(message)
            else:
                self._start = message
            return
        if kind != "http.response.body" or self._passing:
            await self._send(message)
            return
        body, more = message.get("body", b""), message.get("more_body", False)
        if self._start is not None:
            start, self._start = self._start, None
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            if not more and len(body) < self._minimum:
                self._passing = True
                await self._send(start)
                await self._send(message)
                return
            self._compressor = zlib.compressobj(self._level, zlib.DEFLATED, _GZIP_WBITS)
            headers += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
            body = self._compress(body, more)
            if not more:
                headers.append((b"content-length", str(len(body)).encode()))
            await self._send({**start, "headers": headers})
            await self._send({**message, "body": body})
            return
        await self._send({**message, "body": self._compress(body, more)})

    def _compress(self, body: bytes, more: bool) -> bytes:
        assert self._compressor is not None
        return self._compressor.compress(body) + self._compressor.flush(zlib.Z_SYNC_FLUSH if more else zlib.Z_FINISH)

"""Compression of pages, stylesheets, scripts and JSON (gzip), for 512 kbit/s links.

Attachment downloads are left alone: they are already compressed media or documents, are
streamed with their exact ``Content-Length``, and compressing them would cost CPU for nothing."""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

UNCOMPRESSED_PREFIXES = ("/api/v1/attachments/",)


class Compression:
    def __init__(self, app: ASGIApp, minimum_size: int = 600, level: int = 6) -> None:
        self.plain = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=level)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not str(scope.get("path", "")).startswith(UNCOMPRESSED_PREFIXES):
            await self.gzip(scope, receive, send)
        else:
            await self.plain(scope, receive, send)

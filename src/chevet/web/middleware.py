"""Pure ASGI middlewares: request size limit, security headers, and an access log that never
records query strings (they may carry a search for a patient's name, or a stream token)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chevet.ports.metrics import Metrics, NoMetrics
from chevet.web.i18n import negotiate
from chevet.web.problems import problem_document, route_of

access_log = logging.getLogger("chevet.access")

SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; object-src 'none'; "
                                 b"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(self), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return str(v.decode("latin-1"))
    return None


class _BodyTooLarge(Exception):
    """A body without a declared length went past the route's limit while being read."""


class RequestLimits:
    """Refuses bodies over ``max_bytes`` with a 413 problem, whatever Content-Length claims.

    ``larger`` names the few routes that take bigger bodies (file uploads), each as (method,
    path pattern, limit): only those get more room, JSON routes keep the small limit."""

    def __init__(self, app: ASGIApp, max_bytes: int,
                 larger: Sequence[tuple[str, re.Pattern[str], int]] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = list(larger)

    def limit_for(self, scope: Scope) -> int:
        method, path = scope.get("method", ""), scope.get("path", "")
        for m, pattern, limit in self.larger:
            if method == m and pattern.match(path):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit_for(scope)
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > max_bytes:
                await self._refuse(scope, send, max_bytes)
                return
            await self.app(scope, receive, send)  # the HTTP server enforces Content-Length itself
            return
        # No declared length (chunked): counted as the application reads it, never buffered
        # here, so a route that refuses first (no session) reads nothing of a hostile body.
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _BodyTooLarge:
            if not started:
                await self._refuse(scope, send, max_bytes)

    async def _refuse(self, scope: Scope, send: Send, max_bytes: int) -> None:
        lang = negotiate(_header(scope, b"accept-language"))
        body = problem_document(413, "request_too_large", lang, max=max_bytes)
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Outermost: the security headers on every answer, the access log line, and each request's
    time by route template for the metrics (docs/metrics.md)."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None,
                 templates: Callable[[Scope], str] | None = None) -> None:
        self.app = app
        self.metrics: Metrics = metrics if metrics is not None else NoMetrics()
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        started = time.perf_counter()
        status = 0

        async def with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                present = {k for k, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if https:
                    headers.append(HSTS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
        seconds, route, method = time.perf_counter() - started, route_of(scope), scope.get("method", "")
        if self.templates is not None:
            self.metrics.request_served(method, self.templates(scope), status, seconds)
        access_log.info("request", extra={"method": method, "route": route, "status": status,
                                          "ms": round(seconds * 1000, 1)})

"""The Prometheus endpoint (docs/metrics.md): ``GET /metrics`` on a listener of its own, or on the
main listener to a bearer token, or both; with neither configured there is no endpoint (404).

The listener of its own is a few lines of HTTP/1.1 in the server's event loop (it reads the
outboxes from the same database pool): it answers ``GET /metrics`` and nothing else, one
request per connection, request head at most ``HEAD_LIMIT`` bytes within ``HEAD_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Scope

from chevet.ports.metrics import Metrics
from chevet.web.problems import problem

log = logging.getLogger("chevet.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRICS_PATH = "/metrics"
HEAD_LIMIT = 8192
HEAD_SECONDS = 5.0
MAX_CLIENTS = 16


UNMATCHED = "unmatched"


class RouteTemplates:
    """The template of the route a request matched, whole (``/api/v1/conversations/{conversation_id}``),
    never its path: paths carry ids and invitation codes. Only text of the code goes in: the
    route's own template and, for a route of a router included with a prefix, that prefix."""

    def __init__(self, routes: Iterable[BaseRoute] = (), prefixes: Iterable[str] = ()) -> None:
        # Routes matched before FastAPI's router (conversations.fast_routes) leave their endpoint only.
        self.by_endpoint: dict[Any, str] = {r.endpoint: r.path for r in routes if isinstance(r, Route)}
        self.prefixes = sorted(prefixes, key=len, reverse=True)

    def __call__(self, scope: Scope) -> str:
        route = scope.get("route")
        template = getattr(route, "path", None)
        if not isinstance(template, str):
            return self.by_endpoint.get(scope.get("endpoint"), UNMATCHED)
        if isinstance(route, Mount):
            return template + "/{path}"
        # A route of an included router keeps its own path: put back the prefix it was included with.
        path = str(scope.get("path", ""))
        for prefix in self.prefixes:
            if path.startswith(prefix + "/") and path.count("/") == prefix.count("/") + template.count("/"):
                return prefix + template
        return template


def add_route(app: FastAPI, metrics: Metrics, token: str) -> None:
    """``GET /metrics`` on the main listener, to ``Authorization: Bearer <token>`` only."""
    expected = f"Bearer {token}".encode()

    @app.get(METRICS_PATH, include_in_schema=False)
    async def metrics_endpoint(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        if not hmac.compare_digest(given, expected):
            return problem(request, 401, "metrics_token_required",
                           headers={"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"})
        return Response(await metrics.exposition(), media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


class MetricsListener:
    """A listener of its own for ``GET /metrics`` (no token: bind it where only the monitoring reaches)."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self.metrics, self.host, self.port = metrics, host, port
        self._server: asyncio.Server | None = None
        self._clients = asyncio.Semaphore(MAX_CLIENTS)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=HEAD_LIMIT)
        log.info("metrics listener started", extra={"port": self.port})

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._clients.locked():  # enough scrapers at once: this one tries again later
            writer.close()
            return
        async with self._clients:
            try:
                await self._answer(reader, writer)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
                pass
            except Exception as exc:  # the listener outlives any one request
                log.warning("metrics request failed", extra={"error": type(exc).__name__})
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(HEAD_SECONDS):
            head = await reader.readuntil(b"\r\n\r\n")
        parts = head.split(b"\r\n", 1)[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            await _reply(writer, 400, b"bad request\n")
            return
        method, target = parts[0], parts[1]
        if target.split(b"?", 1)[0] != METRICS_PATH.encode():
            await _reply(writer, 404, b"not found\n")
            return
        if method not in (b"GET", b"HEAD"):
            await _reply(writer, 405, b"method not allowed\n", extra=b"Allow: GET, HEAD\r\n")
            return
        body = await self.metrics.exposition()
        await _reply(writer, 200, body, content_type=CONTENT_TYPE.encode(), head_only=method == b"HEAD")


_REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed"}


async def _reply(writer: asyncio.StreamWriter, status: int, body: bytes, *,
                 content_type: bytes = b"text/plain; charset=utf-8", extra: bytes = b"",
                 head_only: bool = False) -> None:
    writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nCache-Control: no-store\r\n"
                 b"%sConnection: close\r\n\r\n" % (status, _REASONS[status], content_type, len(body), extra))
    if not head_only:
        writer.write(body)
    await writer.drain()

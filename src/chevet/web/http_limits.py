"""What an unauthenticated client may hold of the built-in server (docs/hardening.md).

uvicorn's HTTP protocol buffers a request line and headers of any size, waits for them and for
a body for ever, and accepts any number of connections: a few clients sending slow or huge
headers could hold hundreds of MiB and every socket. This protocol bounds, per connection, the
request line (414), the size and number of headers (431), the time until the headers are
complete (408) and the pace of the body, and, per client address, the number of open
connections (HTTP and WebSocket alike, 429). Refusals are short problem documents, in the
client's language when its headers got that far, and end the connection.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from chevet.settings import Settings
from chevet.web.i18n import negotiate
from chevet.web.problems import problem_document
from chevet.web.realtime.deflate import StreamProtocol

log = logging.getLogger("chevet.http")


@dataclass(frozen=True)
class HttpLimits:
    max_request_line_bytes: int = 8192
    max_header_bytes: int = 16384
    max_headers: int = 100
    header_timeout: float = 10
    body_timeout: float = 10
    body_min_bytes_per_second: int = 1024
    max_connections_per_address: int = 64

    @classmethod
    def of(cls, settings: Settings) -> HttpLimits:
        return cls(settings.http.max_request_line_bytes, settings.http.max_header_bytes, settings.http.max_headers,
                   settings.http.header_timeout_seconds, settings.http.body_timeout_seconds,
                   settings.http.body_min_bytes_per_second, settings.http.max_connections_per_address)


class AddressCount:
    """Open connections per client address. A connection keeps its place when it switches to
    the WebSocket protocol; whichever protocol sees it end gives the place back (once)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}
        self._holders: dict[asyncio.BaseTransport, str] = {}

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        count = self._open.get(address, 0)
        if count >= self.limit:
            return False
        self._open[address] = count + 1
        self._holders[transport] = address
        return True

    def release(self, transport: asyncio.BaseTransport) -> None:
        address = self._holders.pop(transport, None)
        if address is None:
            return
        left = self._open[address] - 1
        if left:
            self._open[address] = left
        else:
            del self._open[address]

    def of(self, address: str) -> int:
        return self._open.get(address, 0)


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request that broke a limit."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status, self.code = status, code


def refusal(status: int, code: str, lang: str, **params: Any) -> bytes:
    """A complete HTTP response ending the connection: a problem document (RFC 9457)."""
    body = problem_document(status, code, lang, **params)
    return b"".join([STATUS_LINE[status], b"content-type: application/problem+json\r\n",
                     b"content-language: ", lang.encode(), b"\r\n",
                     b"content-length: ", str(len(body)).encode(), b"\r\nconnection: close\r\n\r\n", body])


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol within ``limits`` (see the module's docstring)."""

    limits = HttpLimits()
    addresses = AddressCount(HttpLimits.max_connections_per_address)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.url = b""
        self._reading_head = True
        self._head_bytes = 0
        self._header_bytes = 0
        self._header_count = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_left: int | None = None
        self._body_recent = 0
        self._refused: _Refused | None = None

    # --- connection -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.addresses.admit(transport):
            self._refuse(_Refused(429, "too_many_connections"), limit=self.limits.max_connections_per_address)
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        self.addresses.release(self.transport)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused is not None or self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        if self._reading_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _Refused):
                self._refuse(exc.__context__)
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        if self._reading_head and self._head_bytes > self.limits.max_header_bytes:
            # Headers still incomplete and already too large: across several reads, the parser
            # would otherwise keep buffering them.
            too_long_line = len(self.url) > self.limits.max_request_line_bytes or self._header_count == 0
            self._refuse(_Refused(414, "request_line_too_long") if too_long_line
                         else _Refused(431, "headers_too_large"))

    def handle_websocket_upgrade(self) -> None:
        self._cancel_timers()
        super().handle_websocket_upgrade()

    # --- parser callbacks -------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head = True
        self._header_bytes = self._header_count = 0
        if self._head_timer is None:
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_request_line_bytes:
            raise _Refused(414, "request_line_too_long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_bytes += len(name) + len(value) + 4
        if self._header_count > self.limits.max_headers \
                or len(self.url) + self._header_bytes > self.limits.max_header_bytes:
            raise _Refused(431, "headers_too_large")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._head_bytes = 0
        self._cancel_head_timer()
        super().on_headers_complete()
        if self.parser.should_upgrade() and self._should_upgrade():
            return
        length = dict(self.headers).get(b"content-length")
        chunked = any(n == b"transfer-encoding" and b"chunked" in v.lower() for n, v in self.headers)
        self._body_left = int(length) if length is not None and length.isdigit() else None
        if chunked or (self._body_left or 0) > 0:
            self._body_recent = 0
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._check_body)

    def on_body(self, body: bytes) -> None:
        self._body_recent += len(body)
        if self._body_left is not None:
            self._body_left -= len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        self._reading_head = True
        self._head_bytes = 0
        super().on_message_complete()

    # --- limits -----------------------------------------------------------------------
    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_too_slow)

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._reading_head and not self.transport.is_closing():
            self._refuse(_Refused(408, "request_timeout"))

    def _check_body(self) -> None:
        """Each ``body_timeout`` seconds the body must have advanced by the minimum rate over
        that time, or by what was left of it; a pause of ours (the application not reading yet)
        does not count against the client."""
        self._body_timer = None
        if self.transport.is_closing():
            return
        needed = int(self.limits.body_min_bytes_per_second * self.limits.body_timeout)
        if self._body_left is not None:
            needed = min(needed, self._body_left + self._body_recent)
        if self.flow.read_paused or self._body_recent >= max(needed, 1):
            self._body_recent = 0
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._check_body)
            return
        log.info("request body too slow: connection closed")
        if self.cycle is not None and not self.cycle.response_started:
            self.transport.write(refusal(408, "request_timeout", self._language()))
        self.transport.close()

    def _refuse(self, refused: _Refused, **params: Any) -> None:
        self._refused = refused
        self._cancel_timers()
        log.info("request refused", extra={"status": refused.status, "code": refused.code})
        self.transport.write(refusal(refused.status, refused.code, self._language(), **params))
        self.transport.close()

    def _language(self) -> str:
        accept = next((v for n, v in self.headers or () if n == b"accept-language"), None)
        return negotiate(accept.decode("latin-1") if accept else None)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _cancel_timers(self) -> None:
        self._cancel_head_timer()
        self._cancel_body_timer()


def protocols(limits: HttpLimits) -> tuple[type[LimitedHttpProtocol], type[StreamProtocol]]:
    """The HTTP and WebSocket protocol classes of one server, sharing one count of connections
    per address."""
    addresses = AddressCount(limits.max_connections_per_address)

    class Http(LimitedHttpProtocol):
        pass

    Http.limits, Http.addresses = limits, addresses

    class Stream(StreamProtocol):
        def connection_lost(self, exc: Exception | None) -> None:
            addresses.release(self.transport)
            super().connection_lost(exc)

    return Http, Stream

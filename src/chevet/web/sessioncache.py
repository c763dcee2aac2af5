"""A short-lived, per-process memory of who is behind a bearer token.

Authenticating a request costs a transaction and three queries (session, person,
organisation); a care team's client sends many requests per minute with the same token. This
cache keeps the answer for ``ttl`` seconds (``session_cache_seconds``, 2 s by default, 0 turns
it off), keyed by the token's SHA-256, never by the token itself.

Revocation awareness: only reads and the two hot writes of daily use (sending a message,
moving a read cursor) may be answered from the cache. Every other state-changing request, API
or page (sign-out, session revocation, deactivation, role change, and whatever is added later),
is authenticated against the database and empties the cache first, so no path can forget to.
In other processes a revoked session, a deactivated person or a new role takes effect within
``ttl``.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import replace
from hashlib import sha256

from starlette.types import ASGIApp, Receive, Scope, Send

from chevet.app.services import Actor

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_HOT_WRITES = re.compile(r"^/api/v1/conversations/[^/]+/(messages|read)$")
MAX_ENTRIES = 20_000


class SessionCache:
    def __init__(self, ttl: float, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[float, Actor]] = OrderedDict()

    def get(self, token: str, ip: str | None) -> Actor | None:
        if self.ttl <= 0:
            return None
        key = sha256(token.encode()).digest()
        hit = self._entries.get(key)
        if hit is None:
            return None
        if hit[0] < time.monotonic():
            del self._entries[key]
            return None
        actor = hit[1]
        return actor if actor.ip == ip else replace(actor, ip=ip)

    def put(self, token: str, actor: Actor) -> None:
        if self.ttl <= 0:
            return
        key = sha256(token.encode()).digest()
        self._entries[key] = (time.monotonic() + self.ttl, actor)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    @staticmethod
    def may_change_access(method: str, path: str) -> bool:
        return method not in SAFE_METHODS and not (method == "POST" and _HOT_WRITES.match(path))


class ForgetOnChange:
    """ASGI middleware: before any request that may change who can act (API or page), the
    cache of this process is emptied, whichever way that request authenticates."""

    def __init__(self, app: ASGIApp, cache: SessionCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.cache.may_change_access(scope["method"], scope["path"]):
            self.cache.clear()
        await self.app(scope, receive, send)

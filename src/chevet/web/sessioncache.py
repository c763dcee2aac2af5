"""A short-lived, per-process memory of who is behind a bearer token.

Authenticating a request costs a transaction and three queries (session, person,
organisation); a care team's client sends many requests per minute with the same token. This
cache keeps the answer for ``ttl`` seconds (``session_cache_seconds``, 2 s by default, 0 turns
it off), keyed by the token's SHA-256, never by the token itself.

Revocation awareness: a request of this process that may change who can act (anything but a
read under ``/api/v1/auth`` or ``/api/v1/users``: sign-out, session revocation, deactivation,
role change) empties the cache and is itself authenticated against the database. In other
processes a revoked session, a deactivated person or a new role takes effect within ``ttl``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import replace
from hashlib import sha256

from chevet.app.services import Actor

SENSITIVE_PREFIXES = ("/api/v1/auth", "/api/v1/users")
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
        return method not in ("GET", "HEAD", "OPTIONS") and path.startswith(SENSITIVE_PREFIXES)

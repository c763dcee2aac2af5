"""SASL messages for logging in to a mailbox with a Pro Santé Connect access token.

Two mechanisms carry an OAuth 2 bearer token in IMAP ``AUTHENTICATE`` and SMTP ``AUTH``:

- ``OAUTHBEARER`` (RFC 7628 §3.1): a GS2 header naming the mailbox (``n,a=<user>,``), then
  key/value pairs separated by ``%x01`` (``auth=Bearer <token>``, optionally ``host`` and
  ``port``), closed by two ``%x01``. On failure the server sends a JSON challenge (§3.2.2) and the
  client must answer with a single ``%x01`` to end the exchange.
- ``XOAUTH2`` (the older, widely deployed variant some operators still use):
  ``user=<user>%x01auth=Bearer <token>%x01%x01``; on failure a JSON challenge answered with an
  empty response.

Sans-I/O: bytes in, bytes out. The token is checked to be a ``b64token`` (RFC 6750 §2.1) and the
user name to hold no control character, so neither can inject another key/value pair.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal, Protocol

Mechanism = Literal["OAUTHBEARER", "XOAUTH2"]
MECHANISMS: tuple[Mechanism, ...] = ("OAUTHBEARER", "XOAUTH2")
_KVSEP = b"\x01"
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_MAX_TOKEN = 16 * 1024


class SaslError(ValueError):
    """A token or a user name that cannot be put into a SASL message; ``code`` is safe to store."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _check(user: str, token: str) -> None:
    if not token or len(token) > _MAX_TOKEN or not _B64TOKEN.fullmatch(token):
        raise SaslError("sasl_token_invalid")
    if not user or len(user) > 320 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in user):
        raise SaslError("sasl_user_invalid")


def _saslname(user: str) -> str:
    """RFC 5801 §4 ``saslname``: ``=`` and ``,`` escaped as ``=3D`` and ``=2C``."""
    return user.replace("=", "=3D").replace(",", "=2C")


def oauthbearer(user: str, token: str, host: str | None = None, port: int | None = None) -> bytes:
    """The client's initial response for OAUTHBEARER (RFC 7628 §3.1), not yet base64-encoded."""
    _check(user, token)
    pairs = [b"auth=Bearer " + token.encode("ascii")]
    if host is not None:
        if not host or any(ord(c) <= 0x20 or ord(c) >= 0x7F for c in host):
            raise SaslError("sasl_host_invalid")
        pairs.insert(0, b"host=" + host.encode("ascii"))
    if port is not None:
        if not 0 < port < 65536:
            raise SaslError("sasl_host_invalid")
        pairs.insert(1 if host is not None else 0, b"port=" + str(port).encode("ascii"))
    header = b"n,a=" + _saslname(user).encode("utf-8") + b","
    return header + _KVSEP + _KVSEP.join(pairs) + _KVSEP + _KVSEP


def xoauth2(user: str, token: str) -> bytes:
    """The client's initial response for XOAUTH2, not yet base64-encoded."""
    _check(user, token)
    return b"user=" + user.encode("utf-8") + _KVSEP + b"auth=Bearer " + token.encode("ascii") + _KVSEP + _KVSEP


def initial_response(mechanism: Mechanism, user: str, token: str) -> bytes:
    if mechanism == "OAUTHBEARER":
        return oauthbearer(user, token)
    if mechanism == "XOAUTH2":
        return xoauth2(user, token)
    raise SaslError("sasl_mechanism_unknown")


def abort_response(mechanism: Mechanism) -> bytes:
    """What the client answers to the server's error challenge: ``%x01`` for OAUTHBEARER
    (RFC 7628 §3.2.3), an empty response for XOAUTH2."""
    return _KVSEP if mechanism == "OAUTHBEARER" else b""


@dataclass(frozen=True, slots=True)
class ServerError:
    """The server's error challenge (RFC 7628 §3.2.2): ``status`` such as ``invalid_token``."""

    status: str
    scope: str | None = None


def server_error(challenge: bytes) -> ServerError | None:
    """Read an error challenge; None when it is not one (or not readable)."""
    if not challenge or len(challenge) > 4096:
        return None
    try:
        data = json.loads(challenge.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("status"), str):
        return None
    status = str(data["status"])[:64]
    scope = data.get("scope")
    return ServerError(status=status, scope=scope[:200] if isinstance(scope, str) else None)


def choose(offered: set[str] | frozenset[str], preferred: Mechanism | None = None) -> Mechanism | None:
    """The mechanism to use among those the server offers (upper-cased names): the configured one
    when offered, else OAUTHBEARER (the standard) before XOAUTH2; None when neither is offered."""
    upper = {m.upper() for m in offered}
    order = ((preferred,) if preferred else ()) + MECHANISMS
    return next((m for m in order if m in upper), None)


class BearerSource(Protocol):
    """Where a mailbox's connection gets the access token it logs in with (the professional's
    Pro Santé Connect token, refreshed before it expires)."""

    async def token(self) -> str:
        """A token valid for at least the next minute."""
        ...

    async def rejected(self, token: str) -> None:
        """The server refused ``token``: do not offer it again."""
        ...

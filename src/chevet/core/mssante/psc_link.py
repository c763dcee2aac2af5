"""A personal (PER) or organisational (ORG) MSSanté mailbox linked to a professional's Pro Santé
Connect login: who may link it, what the token endpoint's answer must hold, when to refresh.

Operators open PER and ORG mailboxes to the holder of a PSC access token (Pro Santé Connect,
OAuth 2: RFC 6749 §5.1 for the answer, §6 for the refresh). Those tokens live a few minutes, so
the link keeps the refresh token (sealed at rest, never logged) and the access token only in
memory, asked again a minute before it expires.

- A PER mailbox is one professional's: only she links it, with her own card (the PSC login's
  national identifier is the one recorded on her account).
- An ORG mailbox is a service's: an administrator of the organisation links it, with her card.

Sans-I/O: values in, values out.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from chevet.core.errors import Forbidden, InvalidInput

MailboxKind = Literal["PER", "ORG"]
REFRESH_MARGIN = timedelta(seconds=60)
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_MAX_TOKEN = 16 * 1024


class LinkState(StrEnum):
    ACTIVE = "active"
    RELINK = "relink"  # the provider refused the refresh: the professional must log in with PSC again


@dataclass(frozen=True, slots=True)
class PscMailbox:
    """What the settings say of a mailbox opened through PSC."""

    address: str
    org_slug: str
    kind: MailboxKind
    owner: str | None = None  # PER: the e-mail of the professional whose mailbox it is


@dataclass(frozen=True, slots=True)
class PscLink:
    org_id: uuid.UUID
    mailbox: str
    person_id: uuid.UUID
    kind: str
    refresh_sealed: bytes
    refresh_expires_at: datetime | None
    state: LinkState
    linked_at: datetime
    refreshed_at: datetime


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """The token endpoint's answer, checked. ``refresh_token`` None: the provider kept the old one."""

    access_token: str
    expires_at: datetime
    refresh_token: str | None
    refresh_expires_at: datetime | None

    def __repr__(self) -> str:  # never let a token reach a log line through a repr
        return f"TokenGrant(expires_at={self.expires_at.isoformat()})"


def _token(value: object) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= _MAX_TOKEN and _B64TOKEN.fullmatch(value):
        return value
    return None


def _seconds(value: object, default: int | None) -> int | None:
    if isinstance(value, bool):
        return default
    if isinstance(value, int) and 0 < value <= 10 * 365 * 86400:
        return value
    return default


def read_grant(data: Any, now: datetime) -> TokenGrant:
    """A token endpoint's JSON answer (RFC 6749 §5.1) as a grant, or ``InvalidInput``. Without
    ``expires_in`` the access token is taken to live 60 seconds, the safest reading."""
    if not isinstance(data, dict):
        raise InvalidInput("mss_psc_token_answer_invalid")
    access = _token(data.get("access_token"))
    kind = data.get("token_type")
    if access is None or not isinstance(kind, str) or kind.lower() != "bearer":
        raise InvalidInput("mss_psc_token_answer_invalid")
    refresh = data.get("refresh_token")
    if refresh is not None and _token(refresh) is None:
        raise InvalidInput("mss_psc_token_answer_invalid")
    lifetime = _seconds(data.get("expires_in"), 60) or 60
    refresh_life = _seconds(data.get("refresh_expires_in"), None)
    return TokenGrant(access, now + timedelta(seconds=lifetime), refresh if isinstance(refresh, str) else None,
                      now + timedelta(seconds=refresh_life) if refresh_life else None)


def needs_refresh(expires_at: datetime | None, now: datetime, margin: timedelta = REFRESH_MARGIN) -> bool:
    """Ask for a new access token when none is held or the one held ends within ``margin``."""
    return expires_at is None or now + margin >= expires_at


def check_link(box: PscMailbox, *, org_slug: str, email: str, is_admin: bool, rpps: str | None,
               subject: str | None) -> None:
    """May this person link this mailbox with this PSC login? Raises ``Forbidden`` otherwise."""
    if box.org_slug != org_slug:
        raise Forbidden("mss_psc_not_your_mailbox")
    if not subject or not rpps or subject != rpps:
        # The card used must be the linking person's own: a PSC login is personal.
        raise Forbidden("mss_psc_card_mismatch")
    if box.kind == "PER" and (box.owner or "").lower() != email.lower():
        raise Forbidden("mss_psc_not_your_mailbox")
    if box.kind == "ORG" and not is_admin:
        raise Forbidden("mss_psc_admin_only")

"""Identity rules that need no I/O: passkeys as records, recovery codes, an organisation's
session policy, and the Pro Santé Connect claims that decide whether a login is strong enough.

Kept pure so that the rules can be read (and tested) apart from the ceremonies and the HTTP.
"""

from __future__ import annotations

import base64
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256
from typing import Any

from chevet.core.errors import AuthenticationFailed, InvalidInput

# --- passkeys --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Passkey:
    """A WebAuthn credential registered by one person. Only public material is stored."""

    id: uuid.UUID
    org_id: uuid.UUID
    person_id: uuid.UUID
    credential_id: bytes
    public_key: bytes
    sign_count: int
    name: str
    transports: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


MAX_PASSKEYS = 10


def clean_passkey_name(name: str) -> str:
    value = " ".join(name.split()) if isinstance(name, str) else ""
    if not value or len(value) > 100:
        raise InvalidInput("passkey_name_invalid")
    return value


@dataclass(frozen=True, slots=True)
class Challenge:
    """A WebAuthn challenge waiting for its answer; used at most once."""

    id: uuid.UUID
    challenge: bytes
    purpose: str  # "register", "login" or "reauth"
    person_id: uuid.UUID | None
    org_id: uuid.UUID | None
    expires_at: datetime


CHALLENGE_LIFETIME = timedelta(minutes=5)

# --- recovery codes --------------------------------------------------------------------------

RECOVERY_CODES = 10
_RECOVERY = re.compile(r"^[A-Z2-7]{16}$")


def new_recovery_code() -> str:
    """80 random bits, shown as four groups of four base32 letters (no 0/1/8/9 to misread)."""
    raw = base64.b32encode(os.urandom(10)).decode()
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def normalise_recovery_code(text: str) -> str | None:
    """The canonical form of what a person typed, or None if it cannot be a recovery code."""
    value = re.sub(r"[\s-]", "", text or "").upper()
    return value if _RECOVERY.match(value) else None


def recovery_code_hash(canonical: str) -> bytes:
    """80 bits of entropy make a plain SHA-256 safe against offline guessing; no key is
    involved, so a master-key rotation leaves the stored hashes valid."""
    return sha256(b"chevet-recovery|" + canonical.encode()).digest()


# --- sessions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a session may stay idle and live at all, and how recent an authentication
    must be before a sensitive action (export, role change, retention, keys)."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    reauth: timedelta = timedelta(minutes=10)

    @staticmethod
    def of_minutes(idle: int, absolute: int, reauth: int) -> SessionPolicy:
        for value in (idle, absolute, reauth):
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidInput("session_policy_invalid")
        if not (5 <= idle <= 24 * 60 and 15 <= absolute <= 30 * 24 * 60 and 1 <= reauth <= 24 * 60
                and idle <= absolute):
            raise InvalidInput("session_policy_invalid")
        return SessionPolicy(timedelta(minutes=idle), timedelta(minutes=absolute), timedelta(minutes=reauth))

    def minutes(self) -> dict[str, int]:
        return {"idle_minutes": int(self.idle.total_seconds() // 60),
                "absolute_minutes": int(self.absolute.total_seconds() // 60),
                "reauth_minutes": int(self.reauth.total_seconds() // 60)}


def session_expired(policy: SessionPolicy, created_at: datetime, last_used_at: datetime, now: datetime,
                    touch_granularity: timedelta) -> str | None:
    """Why a session is over under the policy ("idle", "absolute"), or None while it lives.
    ``last_used_at`` is only written every ``touch_granularity``, which the idle check allows."""
    if now - created_at >= policy.absolute:
        return "absolute"
    if now - last_used_at >= policy.idle + touch_granularity:
        return "idle"
    return None


def session_ends_at(policy: SessionPolicy, created_at: datetime, last_used_at: datetime,
                    touch_granularity: timedelta) -> datetime:
    """When ``session_expired`` starts to answer, unless the session is used before."""
    return min(created_at + policy.absolute, last_used_at + policy.idle + touch_granularity)


# --- Pro Santé Connect -----------------------------------------------------------------------

# The ANS connector knows a single level; anything else (missing, "eidas0", unknown) is lower.
PSC_ACR = "eidas1"
_ACR_RANK = {"eidas1": 1}


def pkce_s256_challenge(code_verifier: str) -> str:
    """The PKCE ``S256`` code challenge (RFC 7636 §4.2): BASE64URL(SHA256(ASCII(verifier))),
    without padding. The provider recomputes it from the verifier sent with the code, so a
    stolen authorization code is useless without the verifier."""
    digest = sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_psc_acr(claims: dict[str, Any]) -> None:
    acr = claims.get("acr")
    if not isinstance(acr, str) or _ACR_RANK.get(acr, 0) < _ACR_RANK[PSC_ACR]:
        raise AuthenticationFailed("psc_acr_insufficient")


def national_number(subject_name_id: Any) -> str | None:
    """The RPPS (11 digits) or ADELI (9 digits) number inside a PSC ``SubjectNameID``.

    The national identifier prefixes the number with its type: ``8`` + RPPS, ``0`` + ADELI.
    A bare number is taken as is."""
    if not isinstance(subject_name_id, str):
        return None
    value = subject_name_id.strip()
    if re.fullmatch(r"8\d{11}", value):
        return value[1:]
    if re.fullmatch(r"0\d{9}", value):
        return value[1:]
    if re.fullmatch(r"\d{9}|\d{11}", value):
        return value
    return None

"""The domain's exception hierarchy.

Every error carries a stable ``code`` (also the gettext message id used by the web layer to
explain it in the user's language) and optional ``params`` that are safe to show: never
message content, file names or patient identifiers.
"""

from __future__ import annotations

from typing import Any

from chevet.core.lockout import minutes_of


class ChevetError(Exception):
    """Base of every error the domain and the application raise on purpose."""

    code: str = "error"

    def __init__(self, code: str | None = None, **params: Any) -> None:
        self.code = code or self.code
        self.params = params
        super().__init__(self.code)


class InvalidInput(ChevetError):
    """The request is well formed but its content breaks a rule."""

    code = "invalid_input"


class NotFound(ChevetError):
    """The object does not exist, or the caller may not know that it exists."""

    code = "not_found"


class Forbidden(ChevetError):
    """The caller is known but may not do this."""

    code = "forbidden"


class Conflict(ChevetError):
    """The request contradicts the current state (duplicate e-mail, already accepted...)."""

    code = "conflict"


class AuthenticationFailed(ChevetError):
    """Wrong credentials, or no valid session."""

    code = "authentication_failed"


class LockedOut(ChevetError):
    """Too many failures: the account or the address is temporarily refused."""

    code = "locked_out"

    def __init__(self, code: str | None = None, *, retry_after: int, **params: Any) -> None:
        # People are told the wait in whole minutes ("Réessayez dans 15 minutes"), never seconds.
        super().__init__(code, retry_after=retry_after, minutes=minutes_of(retry_after), **params)
        self.retry_after = retry_after


class TooLarge(ChevetError):
    """A body, a message or a file is over its configured limit."""

    code = "too_large"


class IntegrityError(ChevetError):
    """Stored data failed an integrity check (audit chain, ciphertext authentication)."""

    code = "integrity_error"


class Unavailable(ChevetError):
    """A service the request needs (the antivirus, for instance) does not answer; try later."""

    code = "unavailable"


class ReauthenticationRequired(AuthenticationFailed):
    """A sensitive action needs a fresh proof of identity within the session."""

    code = "reauthentication_required"

"""What the MIME and MDN modules share: a file a mail carries, and the refusal of an inbound
mail that cannot be integrated."""

from __future__ import annotations

from dataclasses import dataclass

from chevet.core.errors import InvalidInput


class MalformedMail(InvalidInput):
    """Inbound mail that cannot be integrated; ``params['reason']`` says why (for the quarantine)."""

    code = "mss_malformed"

    def __init__(self, reason: str) -> None:
        super().__init__("mss_malformed", reason=reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes

"""The gateway's runtime configuration as the application sees it, and small shared helpers.

Bootstrap builds a ``Gateway`` from the administrator's ``mssante.toml`` (certificates loaded,
files read); the actions below never read files or settings themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography import x509

from chevet.app.services import Services
from chevet.core import envelope
from chevet.core.envelope import DataKey
from chevet.core.errors import NotFound
from chevet.core.mssante.delivery import RetryPolicy
from chevet.core.mssante.revocation import RevocationPolicy
from chevet.core.mssante.smime import SigningIdentity
from chevet.core.mssante.xdm import XdmLimits


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One MSSanté mailbox of an organisation (a BAL ORG or APP, usually)."""

    address: str
    org_slug: str
    display_name: str | None = None
    identity: SigningIdentity | None = None
    member_emails: tuple[str, ...] = ()
    finess: str | None = None           # the establishment's FINESS, for the documents it sends
    facility_type: str | None = None    # TRE_R02-SecteurActivite code (SA17: EHPAD)

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[1]


@dataclass(frozen=True, slots=True)
class Gateway:
    nil: str
    mailboxes: tuple[Mailbox, ...]
    anchors: tuple[x509.Certificate, ...] = ()
    max_message_bytes: int = 10 * 1024 * 1024
    required_suffix: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    auto_mdn: bool = True
    displayed_mdn: bool = True
    recipient_certs: dict[str, x509.Certificate] = field(default_factory=dict)
    xdm_limits: XdmLimits = field(default_factory=XdmLimits)
    product: str = "Chevet"
    # The CRLs in force (read again by bootstrap when their files change).
    revocation: Callable[[], RevocationPolicy] = RevocationPolicy

    def mailbox(self, address: str) -> Mailbox:
        for m in self.mailboxes:
            if m.address == address.lower():
                return m
        raise NotFound("mss_mailbox_unknown")

    def of_org(self, slug: str) -> list[Mailbox]:
        return [m for m in self.mailboxes if m.org_slug == slug]


def keyed_hash(services: Services, purpose: str, org_id: uuid.UUID, value: str) -> bytes:
    """An equality-only token (Message-ID, correspondent address) that reveals nothing."""
    return hmac.new(services.keys.derive(f"mssante-{purpose}"), org_id.bytes + value.lower().encode(),
                    hashlib.sha256).digest()


def seal_json(key: DataKey, label: str, ids: tuple[uuid.UUID, ...], value: Any) -> bytes:
    return key.seal(orjson.dumps(value), envelope.aad(label, *ids))


def open_json(key: DataKey, label: str, ids: tuple[uuid.UUID, ...], sealed: bytes) -> Any:
    return orjson.loads(key.open(sealed, envelope.aad(label, *ids)))

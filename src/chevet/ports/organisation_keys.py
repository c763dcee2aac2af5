"""Each organisation's key-encryption key, and the providers that hold it.

A conversation's or a report's data key is wrapped by its organisation's key (DESIGN.md §5 and
``docs/keys.md``). That key is held by a provider chosen per organisation:

- ``file``: the installation key file. The organisation's key is random, stored in the database
  wrapped by the installation master key (so whoever holds the server holds it too: today's
  trust, the quick start's default);
- ``pkcs11``: a PKCS#11 token (an HSM, or a smart card or USB token the establishment keeps).
  The key is created on the token, never leaves it, and the token itself wraps and unwraps.

Providers are blocking (a token is a device, sometimes across a network): the keyring calls them
off the event loop and caches what they unwrap, in memory only, for a bounded time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chevet.ports.errors import DependencyUnavailable

CURRENT = "current"      # wraps new data keys; one per organisation
PREVIOUS = "previous"    # still unwraps what was not yet re-wrapped (rotation, migration)
DESTROYED = "destroyed"  # shredded: nothing it wrapped can be opened any more


@dataclass(frozen=True, slots=True)
class OrganisationKey:
    org_id: uuid.UUID
    version: int                 # 1, 2, …: named in every blob it wraps
    provider: str                # "file" or "pkcs11"
    reference: str               # file: ""; pkcs11: "<token name>/<object label>"
    wrapped: bytes | None        # file: the key wrapped by the master key; otherwise None
    state: str                   # CURRENT, PREVIOUS or DESTROYED
    created_at: datetime
    destroyed_at: datetime | None = None


class OrganisationKeyUnavailable(DependencyUnavailable):
    """The provider holding an organisation's key does not answer (token absent, PIN refused or
    missing, HSM unreachable). Only that organisation's content is out of reach; nothing was
    read or written. The keyring tries the provider again by itself."""

    def __init__(self, org_id: uuid.UUID, retry_after: int = 10) -> None:
        super().__init__("organisation_keys", retry_after)
        self.org_id = org_id


class OrganisationKeyProvider(Protocol):
    name: str

    def create(self, org_id: uuid.UUID, version: int, token: str | None) -> tuple[str, bytes | None]:
        """Make a new key for the organisation; returns (reference, wrapped) to store. ``token``
        names the configured token for ``pkcs11`` (None for ``file``)."""
        ...

    def wrap(self, key: OrganisationKey, data_key: bytes, associated: bytes) -> bytes: ...

    def unwrap(self, key: OrganisationKey, wrapped: bytes, associated: bytes) -> bytes:
        """Raises ``IntegrityError("ciphertext_invalid")`` for a blob the key does not open and
        ``OrganisationKeyUnavailable`` when the provider cannot be reached."""
        ...

    def destroy(self, key: OrganisationKey) -> str:
        """Destroy the key for good; returns what was destroyed, in words for the shredding
        statement (e.g. "PKCS#11 object chevet-org-…-v2 on token EHPAD-A, serial …")."""
        ...

    def check(self, key: OrganisationKey) -> None:
        """Raises ``OrganisationKeyUnavailable`` unless the key can be used now."""
        ...


class OrganisationKeyRepository(Protocol):
    """Installation-level (not scoped: the keyring serves every organisation), but every method
    names the organisation it reads or changes."""

    async def of(self, org_id: uuid.UUID) -> list[OrganisationKey]: ...
    async def add(self, key: OrganisationKey) -> None: ...
    async def set_state(self, org_id: uuid.UUID, version: int, state: str, at: datetime | None = None) -> None: ...

"""The ``file`` provider of organisation keys: each organisation's key is 32 random bytes,
stored in ``organisation_key.wrapped`` wrapped by the installation master key (the key file).

Whoever holds the server (its key file and its database) can therefore open the organisation's
content: this is today's trust, the quick start's default. A token (``pkcs11``) takes the key
out of the hoster's hands.

The organisation's key is unwrapped for each call and its bytes overwritten afterwards (best
effort: Python may have copied them; the keyring caches the data keys it opens, not this key).
"""

from __future__ import annotations

import uuid

from chevet.core import envelope
from chevet.core.errors import IntegrityError
from chevet.ports import KeyStore
from chevet.ports.organisation_keys import OrganisationKey, OrganisationKeyUnavailable


def kek_aad(org_id: uuid.UUID, version: int) -> bytes:
    """What the master key binds an organisation's key to: its organisation and version."""
    return envelope.aad("okek", org_id, uuid.UUID(int=version))


class FileKeyProvider:
    name = "file"

    def __init__(self, master: KeyStore) -> None:
        self._master = master

    def create(self, org_id: uuid.UUID, version: int, token: str | None) -> tuple[str, bytes | None]:
        kek = envelope.random_key()
        return "", self._master.wrap(kek, kek_aad(org_id, version))

    def _kek(self, key: OrganisationKey) -> bytearray:
        if key.wrapped is None:
            raise IntegrityError("ciphertext_invalid")  # destroyed: nothing left to open with
        return bytearray(self._master.unwrap(key.wrapped, kek_aad(key.org_id, key.version)))

    def wrap(self, key: OrganisationKey, data_key: bytes, associated: bytes) -> bytes:
        kek = self._kek(key)
        try:
            return envelope.seal(bytes(kek), data_key, associated)
        finally:
            kek[:] = bytes(len(kek))

    def unwrap(self, key: OrganisationKey, wrapped: bytes, associated: bytes) -> bytes:
        kek = self._kek(key)
        try:
            return envelope.open_sealed(bytes(kek), wrapped, associated)
        finally:
            kek[:] = bytes(len(kek))

    def destroy(self, key: OrganisationKey) -> str:
        """The key exists only as its wrapped row: clearing the row (the repository does, on
        DESTROYED) and the key backup destroys it."""
        return (f"clé de l'établissement version {key.version}, fichier de clé de l'installation "
                f"(enveloppée par la clé maîtresse ; effacée de la base et de la sauvegarde des clés)")

    def check(self, key: OrganisationKey) -> None:
        try:
            kek = self._kek(key)
        except IntegrityError as exc:
            raise OrganisationKeyUnavailable(key.org_id) from exc
        kek[:] = bytes(len(kek))

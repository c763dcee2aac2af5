"""The network addresses people sign in from, in the audit trail.

An address is personal data that must go when its person is anonymised, yet an audit entry
cannot change without breaking the chain. So a sign-in entry (``auth.*``) keeps the address
sealed, in its detail, under a data key of that person alone (``address_key``, wrapped by the
organisation's key); anonymisation destroys the key, and the sealed value, still hashed into
the chain as it was written, can no longer be opened. Other entries made by a person keep no
address: the session they act through began with a sign-in entry that has it. Entries with
no person (a sign-in attempt for an unknown account) keep the address in clear: it designates
nobody of the organisation.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from chevet.core import envelope
from chevet.core.audit import AuditEntry
from chevet.core.errors import IntegrityError

if TYPE_CHECKING:
    from chevet.app.services import Services
    from chevet.ports import Transaction

FIELD = "address"
"""The detail field of a sign-in entry that holds its sealed address."""


def _key_aad(person_id: uuid.UUID) -> bytes:
    return envelope.aad("akey", person_id)


def _aad(person_id: uuid.UUID) -> bytes:
    return envelope.aad("addr", person_id)


async def seal(services: Services, tx: Transaction, org_id: uuid.UUID | None, person_id: uuid.UUID, ip: str) -> str:
    """The address sealed under the person's address key (made at the first sign-in, wrapped
    by the organisation's key; by the master key for an entry of no organisation)."""
    wrapped = await tx.people.address_key(person_id)
    if wrapped is None:
        material = envelope.random_key()
        wrapped = await tx.people.set_address_key(
            person_id, await services.org_keys.wrap(org_id, material, _key_aad(person_id), tx) if org_id
            else services.keys.wrap(material, _key_aad(person_id)))
    key = await _open(services, org_id, person_id, wrapped)
    return base64.b64encode(key.seal(ip.encode(), _aad(person_id))).decode()


async def _open(services: Services, org_id: uuid.UUID | None, person_id: uuid.UUID, wrapped: bytes) -> envelope.DataKey:
    if org_id is None:  # only a master-key blob can be of no organisation
        return envelope.DataKey(services.keys.unwrap(wrapped, _key_aad(person_id)))
    return envelope.DataKey(await services.org_keys.unwrap(org_id, wrapped, _key_aad(person_id)))


def recorded(entry: AuditEntry, keys: dict[uuid.UUID, envelope.DataKey]) -> str | None:
    """The address an entry records, opened when its person's key still exists."""
    sealed = entry.detail.get(FIELD)
    if entry.ip is not None or entry.actor_id is None or not isinstance(sealed, str):
        return entry.ip
    key = keys.get(entry.actor_id)
    if key is None:
        return None
    try:
        return key.open(base64.b64decode(sealed), _aad(entry.actor_id)).decode()
    except (ValueError, binascii.Error, IntegrityError):
        return None


def without_address(detail: dict[str, Any]) -> dict[str, Any]:
    """An entry's detail as shown to people: the sealed address is shown opened, as its ``ip``."""
    return {k: v for k, v in detail.items() if k != FIELD}


async def keys_for(services: Services, tx: Transaction, org_id: uuid.UUID,
                   entries: Iterable[AuditEntry]) -> dict[uuid.UUID, envelope.DataKey]:
    """The address keys of the people (of ``org_id``) whose sign-in entries are among ``entries``."""
    out: dict[uuid.UUID, envelope.DataKey] = {}
    for person_id in {e.actor_id for e in entries if e.actor_id is not None and FIELD in e.detail}:
        wrapped = await tx.people.address_key(person_id)
        if wrapped is not None:
            out[person_id] = await _open(services, org_id, person_id, wrapped)
    return out

"""The keyring: every data key wrapped and unwrapped under its organisation's key.

A data key (a conversation's, a report's, a person's address key, an inbound MSSanté message's)
is wrapped by the current version of its organisation's key, held by that organisation's
provider (ports/organisation_keys.py). Blob format::

    0x03 | version (u32, big-endian) | the provider's blob

the provider's associated data being ``aad("okey", org_id) | the data key's own aad``, so a blob
copied to another organisation (or another record) does not open. Blobs starting with 0x01 or
0x02 were wrapped by the installation master key before organisation keys existed: they still
open, and the organisation's rotation re-wraps them.

Caching: the data keys it opens are kept in memory only, at most ``cache_entries`` of them and
for at most ``cache_seconds``, then overwritten; ``wipe`` (at shutdown) overwrites all of them.
This is best effort in Python: the bytes handed to callers are immutable copies the runtime
frees when it likes. Key rows are read outside the caller's transaction (``Database
.organisation_keys_of``) and re-read at least every ``rows_seconds``, so a rotation or a shred in
another process is seen within seconds.

Availability: a provider that does not answer (a token removed, a PIN refused) makes only its
organisation's content unreachable: ``OrganisationKeyUnavailable``, which the web answers with a
503. The keyring does not call it again for ``unavailable_seconds`` (it answers at once), then
tries again by itself on the next request.
"""

from __future__ import annotations

import asyncio
import logging
import math
import struct
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from chevet.core import envelope
from chevet.core.errors import Forbidden, IntegrityError, InvalidInput
from chevet.ports import Clock, Database, KeyStore, Transaction
from chevet.ports.organisation_keys import (
    CURRENT,
    DESTROYED,
    OrganisationKey,
    OrganisationKeyProvider,
    OrganisationKeyUnavailable,
)

log = logging.getLogger("chevet.keys")
T = TypeVar("T")

ORG_BLOB = 0x03
LEGACY_BLOBS = (0x01, 0x02)  # wrapped by the installation master key (adapters/keys.py)
_HEADER = 5
DEFAULT_PROVIDER = "file"


def provider_aad(org_id: uuid.UUID, aad: bytes) -> bytes:
    """What the provider binds a data key to: its organisation, then the data key's own aad."""
    return envelope.aad("okey", org_id) + b"|" + aad


def version_of(wrapped: bytes) -> int | None:
    """The organisation key version a blob names; None for a blob of the master key."""
    if wrapped[:1] and wrapped[0] in LEGACY_BLOBS:
        return None
    if len(wrapped) <= _HEADER or wrapped[0] != ORG_BLOB:
        raise IntegrityError("ciphertext_invalid")
    return int(struct.unpack(">I", wrapped[1:_HEADER])[0])


def pack(version: int, blob: bytes) -> bytes:
    return bytes([ORG_BLOB]) + struct.pack(">I", version) + blob


@dataclass
class _Entry:
    material: bytearray
    stored_at: float


class DataKeyCache:
    """Unwrapped data keys in memory: bounded in number (least recently used out first) and in
    age; every evicted entry is overwritten with zeros."""

    def __init__(self, max_entries: int, max_age: float, now: Callable[[], float]) -> None:
        self.max_entries = max_entries
        self.max_age = max_age
        self._now = now
        self._items: OrderedDict[tuple[uuid.UUID, bytes, bytes], _Entry] = OrderedDict()
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._items)

    def get(self, org_id: uuid.UUID, aad: bytes, wrapped: bytes) -> bytes | None:
        k = (org_id, aad, wrapped)
        entry = self._items.get(k)
        if entry is None:
            return None
        if self._now() - entry.stored_at >= self.max_age:
            self._drop(k)
            return None
        self._items.move_to_end(k)
        return bytes(entry.material)

    def put(self, org_id: uuid.UUID, aad: bytes, wrapped: bytes, material: bytes) -> None:
        if self.max_entries <= 0 or self.max_age <= 0:
            return
        k = (org_id, aad, wrapped)
        if k in self._items:
            self._drop(k)
        self._items[k] = _Entry(bytearray(material), self._now())
        while len(self._items) > self.max_entries:
            self._drop(next(iter(self._items)))
        self._arm()

    def sweep(self) -> None:
        """Overwrite and drop every entry older than ``max_age``."""
        now = self._now()
        for k in [k for k, e in self._items.items() if now - e.stored_at >= self.max_age]:
            self._drop(k)

    def forget(self, org_id: uuid.UUID) -> None:
        for k in [k for k in self._items if k[0] == org_id]:
            self._drop(k)

    def wipe(self) -> None:
        for k in list(self._items):
            self._drop(k)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _drop(self, k: tuple[uuid.UUID, bytes, bytes]) -> None:
        entry = self._items.pop(k)
        entry.material[:] = bytes(len(entry.material))

    def _arm(self) -> None:
        """Sweep even when nobody asks: an idle process must not keep keys past their age."""
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(self.max_age, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self.sweep()
        if self._items:
            self._arm()


class OrganisationKeyring:
    def __init__(self, db: Database, master: KeyStore, clock: Clock, providers: dict[str, OrganisationKeyProvider], *,
                 cache_seconds: float = 300.0, cache_entries: int = 4096, unavailable_seconds: float = 5.0,
                 rows_seconds: float = 3.0, now: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._master = master
        self._clock = clock
        self.providers = providers
        self.cache = DataKeyCache(cache_entries, cache_seconds, now)
        self.unavailable_seconds = unavailable_seconds
        self.rows_seconds = rows_seconds
        self._now = now
        self._rows: dict[uuid.UUID, tuple[list[OrganisationKey], float]] = {}
        self._down: dict[tuple[uuid.UUID, str], float] = {}

    # --- providers ------------------------------------------------------------------------
    def provider(self, name: str) -> OrganisationKeyProvider:
        found = self.providers.get(name)
        if found is None:
            raise InvalidInput("organisation_key_provider_unknown", provider=name)
        return found

    async def _call(self, key: OrganisationKey, op: str, *args: object) -> T:
        """A provider call off the event loop, unless that provider failed for this
        organisation moments ago (then refused at once, so requests do not pile up on it)."""
        down = (key.org_id, key.provider)
        until = self._down.get(down)
        if until is not None:
            left = until - self._now()
            if left > 0:
                raise OrganisationKeyUnavailable(key.org_id, max(1, math.ceil(left)))
            del self._down[down]
        if key.provider not in self.providers:  # configured on another server, or not any more
            self._down[down] = self._now() + self.unavailable_seconds
            log.warning("organisation key provider not configured", extra={"provider": key.provider})
            raise OrganisationKeyUnavailable(key.org_id, max(1, math.ceil(self.unavailable_seconds)))
        fn: Callable[..., T] = getattr(self.providers[key.provider], op)
        try:
            return await asyncio.to_thread(fn, *args)
        except OrganisationKeyUnavailable as exc:
            self._down[down] = self._now() + self.unavailable_seconds
            log.warning("organisation key provider unavailable", extra={"provider": key.provider})
            raise OrganisationKeyUnavailable(key.org_id, max(1, math.ceil(self.unavailable_seconds))) from exc

    def providers_down(self) -> dict[str, int]:
        """For each provider, how many organisations' last call to it failed with nothing since
        (the monitoring's view: counts only, never which organisations)."""
        counts: dict[str, int] = {}
        for _org, provider in self._down:
            counts[provider] = counts.get(provider, 0) + 1
        return counts

    # --- key rows -------------------------------------------------------------------------
    async def refresh(self, org_id: uuid.UUID) -> list[OrganisationKey]:
        """Read the organisation's key rows again (committed ones only)."""
        rows = await self._db.organisation_keys_of(org_id)
        self._rows[org_id] = (rows, self._now())
        return rows

    async def _cached_rows(self, org_id: uuid.UUID) -> tuple[list[OrganisationKey], bool]:
        """The rows, and whether they were just read."""
        held = self._rows.get(org_id)
        if held is not None and self._now() - held[1] < self.rows_seconds:
            return held[0], False
        return await self.refresh(org_id), True

    async def keys(self, org_id: uuid.UUID, tx: Transaction | None = None) -> list[OrganisationKey]:
        """The organisation's key versions, oldest first; through ``tx`` when given (it then
        sees what that transaction itself added), else as committed."""
        if tx is not None:
            return await tx.organisation_keys.of(org_id)
        return (await self._cached_rows(org_id))[0]

    async def create_version(self, tx: Transaction, org_id: uuid.UUID, version: int, provider: str,
                             token: str | None, state: str) -> OrganisationKey:
        """A new key made by the provider and stored through ``tx``. If the version exists
        already (a concurrent creator won), the stored one is returned."""
        self.provider(provider)
        probe = OrganisationKey(org_id, version, provider, "", None, state, self._clock.now())
        made: tuple[str, bytes | None] = await self._call(probe, "create", org_id, version, token)
        reference, wrapped = made
        await tx.organisation_keys.add(OrganisationKey(org_id, version, provider, reference, wrapped, state,
                                                       self._clock.now()))
        for k in await tx.organisation_keys.of(org_id):
            if k.version == version:
                return k
        raise IntegrityError("ciphertext_invalid")  # pragma: no cover - the row was just written

    async def current(self, org_id: uuid.UUID, tx: Transaction | None = None) -> OrganisationKey:
        """The version that wraps new data keys. An organisation without any key gets version
        1 of the ``file`` provider (in ``tx``, or a transaction of its own when none is given:
        never call it without ``tx`` while holding a transaction)."""
        rows = await self.keys(org_id, tx)
        if not rows:
            if tx is None:
                async with self._db.transaction() as own:
                    return await self._first(own, org_id)
            return await self._first(tx, org_id)
        live = [k for k in rows if k.state != DESTROYED]
        if not live:
            raise Forbidden("organisation_shredded")  # never re-keyed silently
        current = [k for k in live if k.state == CURRENT]
        return max(current or live, key=lambda k: k.version)

    async def _first(self, tx: Transaction, org_id: uuid.UUID) -> OrganisationKey:
        key = await self.create_version(tx, org_id, 1, DEFAULT_PROVIDER, None, CURRENT)
        log.info("organisation key created", extra={"org_id": str(org_id), "provider": key.provider})
        return key

    async def _version(self, org_id: uuid.UUID, version: int, tx: Transaction | None) -> tuple[OrganisationKey, bool]:
        """The row of that version, and whether it was just read from the database."""
        if tx is not None:
            rows, fresh = await tx.organisation_keys.of(org_id), True
        else:
            rows, fresh = await self._cached_rows(org_id)
        found = next((k for k in rows if k.version == version), None)
        if found is None and not fresh:
            rows, fresh = await self.refresh(org_id), True
            found = next((k for k in rows if k.version == version), None)
        if found is None:
            raise IntegrityError("ciphertext_invalid")
        return found, fresh

    # --- data keys ------------------------------------------------------------------------
    async def wrap(self, org_id: uuid.UUID, data_key: bytes, aad: bytes, tx: Transaction | None = None) -> bytes:
        """The data key wrapped by the organisation's current key. Pass the open transaction
        (``tx``) when there is one: the organisation's first key is created in it."""
        key = await self.current(org_id, tx)
        blob = pack(key.version, await self._call(key, "wrap", key, data_key, provider_aad(org_id, aad)))
        self.cache.put(org_id, aad, blob, data_key)
        return blob

    async def unwrap(self, org_id: uuid.UUID, wrapped: bytes, aad: bytes, tx: Transaction | None = None) -> bytes:
        version = version_of(wrapped)
        if version is None:
            return self._master.unwrap(wrapped, aad)
        cached = self.cache.get(org_id, aad, wrapped)
        if cached is not None:
            return cached
        key, fresh = await self._version(org_id, version, tx)
        try:
            material = await self._open(key, wrapped, aad)
        except IntegrityError:
            if fresh:
                raise
            # The row held may be stale (the version destroyed or re-made elsewhere): once more.
            again = next((k for k in await self.refresh(org_id) if k.version == version), None)
            if again is None or again == key:
                raise
            material = await self._open(again, wrapped, aad)
        self.cache.put(org_id, aad, wrapped, material)
        return material

    async def _open(self, key: OrganisationKey, wrapped: bytes, aad: bytes) -> bytes:
        if key.state == DESTROYED:
            if all(k.state == DESTROYED for k in await self.keys(key.org_id)):
                raise Forbidden("organisation_shredded")  # it left: a refusal in words, not a fault
            raise IntegrityError("ciphertext_invalid")
        return await self._call(key, "unwrap", key, wrapped[_HEADER:], provider_aad(key.org_id, aad))

    def version_of(self, wrapped: bytes) -> int | None:
        return version_of(wrapped)

    # --- memory ---------------------------------------------------------------------------
    def forget(self, org_id: uuid.UUID) -> None:
        """Drop what is held for that organisation (its rows, its opened data keys)."""
        self.cache.forget(org_id)
        self._rows.pop(org_id, None)
        for down in [d for d in self._down if d[0] == org_id]:
            del self._down[down]

    def wipe(self) -> None:
        """At shutdown: overwrite every data key held."""
        self.cache.wipe()
        self._rows.clear()


"""Master-key rotation: re-wrap every data key and re-seal every credential secret under the
current master key, in small transactions, while the service keeps running. Data keys wrapped
by their organisation's key (blobs starting 0x03) are not the master key's and are left alone;
the file provider's organisation keys (``organisation_key.wrapped``) are, and are re-wrapped.

The caller (``chevet keys rotate``) first adds a new key to the key file and makes it current;
running processes pick it up within seconds and from then on wrap with it, while still
unwrapping blobs of the older keys. This action then moves every blob to the current key. It
may be run again at any time: it only touches what is not yet under the current key, and it
says how many blobs are left under each older key, so the old key is destroyed only once that
count is zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chevet.app.identity.organisation_keys import ORG_BLOB
from chevet.app.services import Services
from chevet.core import envelope
from chevet.core.errors import IntegrityError, InvalidInput

BATCH = 200


def under_organisation_key(blob: bytes) -> bool:
    """A data key wrapped by its organisation's key: the master key neither opens nor re-wraps
    it (the organisation's own rotation does, app/identity/organisation_key_rotation.py)."""
    return blob[:1] == bytes([ORG_BLOB])


@dataclass
class RewrapReport:
    current_key: int
    rewrapped: dict[str, int] = field(default_factory=dict)
    remaining_by_key: dict[int, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return not any(self.remaining_by_key.values())


async def rewrap_all(services: Services) -> RewrapReport:
    """Bring every registered sealed column under the current master key. Audited on the
    installation chain (counts only)."""
    keys = services.keys
    keys.reload(force=True)
    current = keys.current_key_id()
    async with services.db.transaction() as tx:
        unregistered = tx.sealed_blobs.unregistered()
        columns = tx.sealed_blobs.columns()
    if unregistered:
        raise InvalidInput("keys_unregistered_columns", columns=", ".join(unregistered))
    report = RewrapReport(current)
    async with services.unit() as u:
        await u.audit(None, "keys.rewrap_started", None, "installation", None, current_key=current)
    current_cred = services.credential_key()
    for name, _by in columns:
        moved = 0
        after: tuple[Any, ...] | None = None
        while True:
            async with services.unit() as u:
                items = await u.tx.sealed_blobs.batch(name, after, BATCH)
                for item in items:
                    new = _moved(services, item.by, item.blob, item.aad, current, current_cred)
                    if new is not None and await u.tx.sealed_blobs.replace(item, new):
                        moved += 1
            if len(items) < BATCH:
                break
            after = items[-1].key
        report.rewrapped[name] = moved
    report.remaining_by_key = await count_by_key(services)
    async with services.unit() as u:
        await u.audit(None, "keys.rewrapped", None, "installation", None, current_key=current,
                      rewrapped=sum(report.rewrapped.values()),
                      remaining={str(k): v for k, v in report.remaining_by_key.items()})
    return report


def _moved(services: Services, by: str, blob: bytes, aad: bytes, current: int, current_cred: bytes) -> bytes | None:
    """The blob under the current key, or None when it already is (or cannot be opened: a
    damaged blob is left for the integrity checks to report, never overwritten)."""
    if by == "master":
        if under_organisation_key(blob) or services.keys.key_id_of(blob) == current:
            return None
        try:
            return services.keys.wrap(services.keys.unwrap(blob, aad), aad)
        except IntegrityError:
            return None
    try:
        envelope.open_sealed(current_cred, blob, aad)
        return None
    except IntegrityError:
        pass
    for key in services.credential_keys()[1:]:
        try:
            return envelope.seal(current_cred, envelope.open_sealed(key, blob, aad), aad)
        except IntegrityError:
            continue
    return None


async def count_by_key(services: Services) -> dict[int, int]:
    """How many blobs each master key still protects (credential secrets counted under the
    key whose derived key opens them)."""
    counts: dict[int, int] = dict.fromkeys(services.keys.key_ids(), 0)
    derived = list(zip(_ordered_ids(services), services.credential_keys(), strict=True))
    async with services.db.transaction() as tx:
        columns = tx.sealed_blobs.columns()
    for name, by in columns:
        after: tuple[Any, ...] | None = None
        while True:
            async with services.db.transaction() as tx:
                items = await tx.sealed_blobs.batch(name, after, 1000)
            for item in items:
                if by == "master":
                    if under_organisation_key(item.blob):
                        continue
                    kid = services.keys.key_id_of(item.blob)
                    counts[kid] = counts.get(kid, 0) + 1
                    continue
                for kid, key in derived:
                    try:
                        envelope.open_sealed(key, item.blob, item.aad)
                        counts[kid] = counts.get(kid, 0) + 1
                        break
                    except IntegrityError:
                        continue
            if len(items) < 1000:
                break
            after = items[-1].key
    current = services.keys.current_key_id()
    return {k: v for k, v in counts.items() if k != current}


@dataclass
class Opening:
    opened: int = 0
    failed: int = 0


async def opening(services: Services) -> dict[str, Opening]:
    """How many registered sealed blobs the installation's master keys open, and how many they
    do not, by kind ("master": wrapped data keys; "credentials": secrets sealed with a derived
    key). A restore uses it to recognise a key backup of another installation."""
    derived = services.credential_keys()
    out: dict[str, Opening] = {}
    async with services.db.transaction() as tx:
        columns = tx.sealed_blobs.columns()
    for name, by in columns:
        tally = out.setdefault(by, Opening())
        after: tuple[Any, ...] | None = None
        while True:
            async with services.db.transaction() as tx:
                items = await tx.sealed_blobs.batch(name, after, 1000)
            for item in items:
                if by == "master" and under_organisation_key(item.blob):
                    continue  # the organisation's key opens it, not the master key
                if _opens(services, by, item.blob, item.aad, derived):
                    tally.opened += 1
                else:
                    tally.failed += 1
            if len(items) < 1000:
                break
            after = items[-1].key
    return out


def _opens(services: Services, by: str, blob: bytes, aad: bytes, derived: list[bytes]) -> bool:
    if by == "master":
        try:
            services.keys.unwrap(blob, aad)
            return True
        except IntegrityError:
            return False
    for key in derived:
        try:
            envelope.open_sealed(key, blob, aad)
            return True
        except IntegrityError:
            continue
    return False


def _ordered_ids(services: Services) -> list[int]:
    current = services.keys.current_key_id()
    return [current] + [n for n in sorted(services.keys.key_ids(), reverse=True) if n != current]


async def audit_key_event(services: Services, action: str, **detail: Any) -> None:
    async with services.unit() as u:
        await u.audit(None, action, None, "installation", None, **detail)

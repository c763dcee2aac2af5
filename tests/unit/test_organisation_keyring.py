"""The keyring over the fake database and the real file provider: blob format, organisation
binding, legacy master blobs, the memory cache's bounds, and the back-off of a failed provider."""

from __future__ import annotations

import uuid

import pytest

from chevet.app.identity.organisation_keys import DataKeyCache, OrganisationKeyring, version_of
from chevet.core import envelope
from chevet.core.errors import IntegrityError
from chevet.ports.organisation_keys import OrganisationKey, OrganisationKeyUnavailable
from tests.fakes.world import World


class Tick:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


async def test_a_new_key_is_wrapped_under_version_1_and_bound_to_its_organisation() -> None:
    w = World()
    ring = w.services.org_keys
    org, other = w.organisation(), w.organisation("autre")
    aad = envelope.aad("ckey", uuid.uuid4())
    async with w.db.transaction() as tx:
        blob = await ring.wrap(org.id, b"k" * 32, aad, tx)
    assert blob[0] == 0x03 and version_of(blob) == 1
    ring.wipe()
    assert await ring.unwrap(org.id, blob, aad) == b"k" * 32
    with pytest.raises(IntegrityError):
        await ring.unwrap(other.id, blob, aad)
    with pytest.raises(IntegrityError):
        await ring.unwrap(org.id, blob, envelope.aad("ckey", uuid.uuid4()))
    legacy = w.services.keys.wrap(b"m" * 32, aad)
    assert version_of(legacy) is None and await ring.unwrap(org.id, legacy, aad) == b"m" * 32


def test_the_cache_is_bounded_in_number_and_age_and_wiped() -> None:
    now = Tick()
    cache = DataKeyCache(2, 300, now)
    org = uuid.uuid4()
    for i in range(3):
        cache.put(org, b"a", bytes([i]), bytes([i]) * 32)
    assert len(cache) == 2 and cache.get(org, b"a", b"\x00") is None
    held = next(iter(cache._items.values())).material
    now.t += 300
    assert cache.get(org, b"a", b"\x01") is None
    assert held == bytearray(32)  # overwritten on eviction
    cache.put(org, b"a", b"\x05", b"x" * 32)
    cache.wipe()
    assert len(cache) == 0


class Flaky:
    name = "flaky"

    def __init__(self) -> None:
        self.calls = 0
        self.down = True

    def create(self, org_id: uuid.UUID, version: int, token: str | None) -> tuple[str, bytes | None]:
        return "t/x", None

    def wrap(self, key: OrganisationKey, data_key: bytes, associated: bytes) -> bytes:
        self.calls += 1
        if self.down:
            raise OrganisationKeyUnavailable(key.org_id)
        return data_key

    unwrap = wrap

    def destroy(self, key: OrganisationKey) -> str:
        return ""

    def check(self, key: OrganisationKey) -> None:
        return None


async def test_a_failed_provider_is_left_alone_then_tried_again() -> None:
    w = World()
    now, flaky = Tick(), Flaky()
    ring = OrganisationKeyring(w.db, w.services.keys, w.clock, {"flaky": flaky}, unavailable_seconds=5, now=now)
    org = w.organisation()
    async with w.db.transaction() as tx:
        await ring.create_version(tx, org.id, 1, "flaky", "t", "current")
    for _ in range(3):
        with pytest.raises(OrganisationKeyUnavailable) as caught:
            await ring.wrap(org.id, b"k" * 32, b"a")
        assert caught.value.org_id == org.id
    assert flaky.calls == 1  # refused at once while it rests
    flaky.down = False
    now.t += 5
    assert (await ring.wrap(org.id, b"k" * 32, b"a"))[0] == 0x03 and flaky.calls == 2

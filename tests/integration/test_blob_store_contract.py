"""One contract for every blob store: the folder store and the S3 store on a real Ceph RADOS
Gateway (``.ci/setup-ceph``). What the application relies on (ports/blobs.py): atomic puts of
sealed pieces consumed lazily, ranged reads (HTTP Range semantics, RFC 9110 §14.1.2, as the S3
GetObject API applies them), idempotent deletion, listing by age, readiness, and
``DependencyUnavailable`` — never a traceback — when the store is out of reach."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from chevet.adapters.blobs import FileBlobStore
from chevet.adapters.blobs_s3 import S3BlobStore
from chevet.core.errors import IntegrityError
from chevet.ports import BlobStore, DependencyUnavailable
from tests.s3_support import s3_settings, s3_store
from tests.support import IN_CI

CONV = "ab" * 16
KEY = f"{CONV}/" + "cd" * 32
OTHER = f"{CONV}/" + "ef" * 32
MIB = 1_048_576


def s3_values() -> dict[str, str]:
    values = s3_settings()
    if values is None:
        if IN_CI:
            pytest.fail("the Ceph RADOS Gateway is required in CI and is not reachable (.ci/setup-ceph)")
        pytest.skip("Ceph RADOS Gateway not set up (.ci/setup-ceph)")
    return values


@pytest.fixture(params=["file", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "file":
        yield FileBlobStore(tmp_path / "blobs")
        return
    s3 = s3_store(s3_values())
    await s3.ensure_bucket()
    yield s3
    for key in await s3.keys():
        await s3.delete(key)
    s3.close()


def _pieces(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """Deterministic bytes, produced lazily (as the sealing stream produces them)."""
    block = hashlib.sha256(b"sealed").digest() * (size // 32)
    sent = 0
    while sent < total:
        piece = block[: min(size, total - sent)]
        sent += len(piece)
        yield piece


async def _read(store: BlobStore, key: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join([p async for p in store.read(key, offset, length)])


async def test_a_small_file_round_trips_and_is_listed(store: BlobStore) -> None:
    assert await store.put(KEY, [b"sealed-", b"bytes"]) == 12
    assert await _read(store, KEY) == b"sealed-bytes"
    assert await store.size(KEY) == 12
    assert await store.keys() == [KEY]
    assert await store.keys(older_than_seconds=3600) == [], "a fresh file is not yet an orphan candidate"
    assert await store.put(KEY, [b"replaced"]) == 8, "a second put replaces the file whole"
    assert await _read(store, KEY) == b"replaced"
    await store.ping()


async def test_a_large_file_goes_in_parts_and_reads_back_by_ranges(store: BlobStore) -> None:
    total = 11 * MIB + 12345  # three parts of 5 MiB on S3 (the last one short)
    expected = b"".join(_pieces(total))
    assert await store.put(KEY, _pieces(total)) == total
    assert await store.size(KEY) == total
    assert hashlib.sha256(await _read(store, KEY)).digest() == hashlib.sha256(expected).digest()
    for offset, length in [(0, 1), (0, 24), (5 * MIB - 3, 10), (total - 5, 5), (7 * MIB, None), (total - 5, 100)]:
        end = None if length is None else offset + length
        assert await _read(store, KEY, offset, length) == expected[offset:end], (offset, length)
    assert await _read(store, KEY, total, None) == b"", "from the end: nothing"
    assert await _read(store, KEY, 3, 0) == b""


async def test_a_write_that_fails_half_way_leaves_nothing(store: BlobStore) -> None:
    def failing() -> Iterator[bytes]:
        yield from _pieces(6 * MIB)  # past the first part on S3: a multipart upload has begun
        raise OSError("the sealing stream broke")

    with pytest.raises(DependencyUnavailable):
        await store.put(OTHER, failing())
    assert await store.size(OTHER) is None
    assert await store.keys() == []


async def test_missing_files_and_deletion(store: BlobStore) -> None:
    assert await store.size(KEY) is None
    with pytest.raises(IntegrityError):
        await _read(store, KEY)
    await store.delete(KEY)  # deleting what is not there is not an error (retention retries)
    await store.put(KEY, [b"x" * 10])
    await store.put(OTHER, [b"y"])
    await store.delete(KEY)
    assert await store.size(KEY) is None and await store.keys() == [OTHER]
    with pytest.raises(IntegrityError):
        await _read(store, KEY)


async def test_keys_that_could_walk_out_of_the_store_are_refused(store: BlobStore) -> None:
    for bad in ("../../etc/passwd", f"{CONV}/../" + "cd" * 31, "AB" * 16 + "/" + "cd" * 32, "/etc/x", f"{CONV}/"):
        with pytest.raises(ValueError):
            await store.put(bad, [b"x"])
        with pytest.raises(ValueError):
            await store.size(bad)


async def test_many_keys_are_listed_across_pages(store: BlobStore) -> None:
    keys = sorted(f"{CONV}/{i:064x}" for i in range(1, 1006))  # more than one S3 listing page (1000)
    for key in keys:
        await store.put(key, [b"s"])
    assert await store.keys() == keys


async def test_an_unreachable_object_store_answers_unavailable() -> None:
    values = {"CHEVET_S3_ENDPOINT": "http://127.0.0.1:9", "CHEVET_S3_ACCESS_KEY_ID": "none",
              "CHEVET_S3_SECRET_ACCESS_KEY": "none"}
    s3 = s3_store(values, timeout=2)
    for call in (s3.ping(), s3.size(KEY), s3.put(KEY, [b"x"]), s3.delete(KEY), s3.keys()):
        with pytest.raises(DependencyUnavailable):
            await call
    with pytest.raises(DependencyUnavailable):
        await _read(s3, KEY)


async def test_wrong_keys_are_an_unavailable_store_not_a_crash() -> None:
    values = dict(s3_values())
    values["CHEVET_S3_SECRET_ACCESS_KEY"] = "not-the-secret"
    s3 = s3_store(values)
    with pytest.raises(DependencyUnavailable):
        await s3.ping()
    assert "not-the-secret" not in repr(s3) and isinstance(s3, S3BlobStore)



"""Moving the sealed files from the folder store to an S3 object store (a real Ceph RADOS
Gateway, ``.ci/setup-ceph``): every file copied as stored and verified by reading it back
(SHA-256), an interrupted run resumed by running it again, a wrong copy in the target replaced,
and the operator's command with its progress bar and its audit entry."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chevet.adapters.blobs import FileBlobStore
from chevet.adapters.blobs_s3 import S3BlobStore
from chevet.app.attachments.blob_migration import Outcome, migrate
from tests.integration.test_blob_store_contract import s3_values
from tests.s3_support import BUCKET, s3_store

CONV = "12" * 16
MIB = 1_048_576


def _key(i: int) -> str:
    return f"{CONV}/{i:064x}"


def _content(i: int) -> bytes:
    return hashlib.sha256(str(i).encode()).digest() * (1 + i * 997)


async def _folder_with_files(root: Path, count: int) -> FileBlobStore:
    store = FileBlobStore(root)
    for i in range(count):
        await store.put(_key(i), [_content(i)])
    big = hashlib.sha256(b"big").digest() * (11 * MIB // 32)  # more than one part
    await store.put(_key(count), [big[j:j + MIB] for j in range(0, len(big), MIB)])
    return store


async def _same(a: FileBlobStore, b: S3BlobStore) -> bool:
    for key in await a.keys():
        left = b"".join([p async for p in a.read(key)])
        right = b"".join([p async for p in b.read(key)])
        if hashlib.sha256(left).digest() != hashlib.sha256(right).digest():
            return False
    return bool(await a.keys() == await b.keys())


class Interrupted(Exception):
    pass


async def test_an_interrupted_migration_resumes_and_verifies_every_file(tmp_path: Path) -> None:
    source = await _folder_with_files(tmp_path / "blobs", 6)
    target = s3_store(s3_values())
    await target.ensure_bucket()
    try:
        seen: list[Outcome] = []

        def stop_after_three(done: int, total: int, outcome: Outcome) -> None:
            seen.append(outcome)
            if done == 3:
                raise Interrupted

        with pytest.raises(Interrupted):
            await migrate(source, target, stop_after_three)
        assert seen == [Outcome.COPIED] * 3 and len(await target.keys()) == 3

        # A copy that went wrong behind our back (same size, other bytes) is found and replaced.
        wrong = bytearray(_content(4))
        wrong[0] ^= 0xFF
        await target.put(_key(4), [bytes(wrong)])

        progress: list[tuple[int, int]] = []
        report = await migrate(source, target, lambda done, total, _: progress.append((done, total)))
        assert (report.total, report.already_there, report.copied) == (7, 3, 4)
        assert report.complete and report.bytes_copied > 11 * MIB
        assert progress == [(n, 7) for n in range(1, 8)]
        assert await _same(source, target)
        assert await source.keys() == [_key(i) for i in range(7)], "the folder is left as it was"

        again = await migrate(source, target)
        assert (again.already_there, again.copied, again.complete) == (7, 0, True)
    finally:
        for key in await target.keys():
            await target.delete(key)
        target.close()


def test_the_operator_migrates_with_the_command_and_it_is_audited(tmp_path: Path) -> None:
    values = s3_values()
    data = tmp_path / "inst"
    secret = tmp_path / "s3.secret"
    secret.write_text(values["CHEVET_S3_SECRET_ACCESS_KEY"] + "\n")
    secret.chmod(0o600)
    prefix = f"cli-{os.getpid()}-{tmp_path.name[-8:]}/".replace("_", "-")
    env = {**os.environ, "CHEVET_PASSWORD_TIME_COST": "1", "CHEVET_PASSWORD_MEMORY_KIB": "1024",
           "CHEVET_BLOBS__ENDPOINT": values["CHEVET_S3_ENDPOINT"], "CHEVET_BLOBS__BUCKET": BUCKET,
           "CHEVET_BLOBS__ACCESS_KEY_ID": values["CHEVET_S3_ACCESS_KEY_ID"],
           "CHEVET_BLOBS__SECRET_KEY_FILE": str(secret), "CHEVET_BLOBS__PREFIX": prefix}

    def chevet(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "chevet.cli.main", *args, "--data-dir", str(data)],
                              capture_output=True, text=True, env={**env, **extra}, timeout=120)

    assert chevet("init").returncode == 0
    import asyncio

    asyncio.run(_folder_with_files(data / "blobs", 3))
    target = s3_store(values, prefix=prefix)
    try:
        r = chevet("blobs", "migrate", "--to", "s3")
        assert r.returncode == 0, r.stderr
        assert "4 file(s): 4 copied" in r.stdout and "nothing left to copy" in r.stdout
        assert asyncio.run(target.keys()) == [_key(i) for i in range(4)]
        r = chevet("blobs", "migrate", "--to", "s3")
        assert r.returncode == 0 and "0 copied" in r.stdout and "4 already there" in r.stdout

        r = chevet("audit", "export")
        assert r.returncode == 0, r.stderr
        assert r.stdout.count('"blobs.migrated"') == 2
        assert values["CHEVET_S3_SECRET_ACCESS_KEY"] not in r.stdout + r.stderr

        secret.chmod(0o644)  # a secret others may read is refused, in a sentence
        r = chevet("blobs", "migrate", "--to", "s3")
        assert r.returncode == 2 and "chmod 600" in r.stderr
        secret.chmod(0o600)
        r = chevet("blobs", "migrate", "--to", "s3", CHEVET_BLOBS__ENDPOINT="http://127.0.0.1:9")
        assert r.returncode == 1 and "cannot be reached" in r.stderr and "Traceback" not in r.stderr

        # Once switched, a backup says that it does not copy the objects (docs/object-storage.md).
        r = chevet("backup", "--out", str(tmp_path / "bk"), "--keys-out", str(tmp_path / "keys.bak"),
                   CHEVET_BLOBS__BACKEND="s3")
        assert r.returncode == 0, r.stderr
        assert f"object store (bucket {BUCKET})" in r.stderr and "does not copy them" in r.stderr
    finally:
        for key in asyncio.run(target.keys()):
            asyncio.run(target.delete(key))
        target.close()

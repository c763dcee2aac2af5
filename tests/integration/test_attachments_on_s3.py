"""Attachments kept in an S3 object store (a real Ceph RADOS Gateway, ``.ci/setup-ceph``), the
whole way through the application: the object store receives sealed bytes only, under opaque
names; members download whole files and ranges; retention removes the objects."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from chevet.adapters.blobs_s3 import S3BlobStore
from chevet.app.attachments import upkeep
from chevet.bootstrap import Installation
from tests.attachment_support import Api
from tests.integration.test_blob_store_contract import s3_values
from tests.media_samples import pdf
from tests.s3_support import BUCKET, s3_store
from tests.support import new_installation, new_member, new_org

SECRET_WORDS = "Compte rendu confidentiel de Madame Exemple"


@pytest.fixture
async def installation(tmp_path: Path, database_url: str | None) -> AsyncIterator[Installation]:
    values = s3_values()
    secret = tmp_path / "s3.secret"
    secret.write_text(values["CHEVET_S3_SECRET_ACCESS_KEY"])
    secret.chmod(0o600)
    prefix = f"app-{uuid.uuid4().hex[:12]}/"
    inst = await new_installation(tmp_path / "data", database_url, blobs__backend="s3",
                                  blobs__endpoint=values["CHEVET_S3_ENDPOINT"], blobs__bucket=BUCKET,
                                  blobs__access_key_id=values["CHEVET_S3_ACCESS_KEY_ID"],
                                  blobs__secret_key_file=str(secret), blobs__prefix=prefix)
    try:
        yield inst
    finally:
        store = s3_store(values, prefix=prefix)
        for key in await store.keys():
            await store.delete(key)
        store.close()
        await inst.close()


async def test_files_go_to_the_object_store_sealed_and_come_back_whole_and_by_ranges(installation: Installation,
                                                                                   api: Api) -> None:
    svc = installation.services
    store = svc.attachments.blobs
    assert isinstance(store, S3BlobStore)
    await store.ping()
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician")
    for m in (nurse, doctor):
        await api.login(m)
    conv = await api.conversation(nurse, doctor)
    letter = pdf(SECRET_WORDS + " " + "".join(chr(65 + i % 26) for i in range(200_000)))
    att = (await api.upload(nurse, conv, letter, name="compte-rendu-exemple.pdf")).json()
    assert (await api.send(nurse, conv, [att["id"]])).status_code == 201

    keys = await store.keys()
    assert len(keys) == 1 and keys[0].startswith(uuid.UUID(conv).hex + "/")
    stored = b"".join([p async for p in store.read(keys[0])])
    assert len(stored) > len(letter), "sealed: the stream's header and tags"
    for clear in (SECRET_WORDS.encode(), b"%PDF", b"compte-rendu", letter[1000:1032]):
        assert clear not in stored and clear not in keys[0].encode()
    assert not (installation.settings.blobs_path.exists() and any(installation.settings.blobs_path.rglob("*"))), \
        "nothing is written to the folder"

    url = f"/api/v1/attachments/{att['id']}"
    full = await api.client.get(url, headers=api.auth(doctor))
    assert full.status_code == 200 and full.content == letter
    size = len(letter)
    for start, end in ((0, 99), (65530, 65545), (70_000, None), (size - 1, None)):
        r = await api.client.get(url, headers=api.auth(doctor, Range=f"bytes={start}-{'' if end is None else end}"))
        last = size - 1 if end is None else end
        assert r.status_code == 206 and r.content == letter[start:last + 1], (start, end)


async def test_retention_removes_the_objects(installation: Installation, api: Api) -> None:
    svc = installation.services
    store = svc.attachments.blobs
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician")
    for m in (nurse, doctor):
        await api.login(m)
    conv = await api.conversation(nurse, doctor)
    att = (await api.upload(nurse, conv, pdf("ancien"))).json()
    assert (await api.send(nurse, conv, [att["id"]])).status_code == 201
    assert len(await store.keys()) == 1
    hook = upkeep.retention_hook(svc)
    async with svc.db.transaction() as tx:
        assert await hook(tx, org.id, uuid.UUID(conv), svc.clock.now() + timedelta(seconds=1)) == 1
    assert await store.keys() == []
    assert (await api.client.get(f"/api/v1/attachments/{att['id']}", headers=api.auth(doctor))).status_code == 404


async def test_an_object_store_outage_is_a_503_with_a_sentence_and_readiness_turns_red(installation: Installation,
                                                                                      api: Api) -> None:
    svc = installation.services
    store = svc.attachments.blobs
    assert isinstance(store, S3BlobStore)
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician")
    for m in (nurse, doctor):
        await api.login(m)
    conv = await api.conversation(nurse, doctor)
    att = (await api.upload(nurse, conv, pdf("avant la panne"))).json()
    assert (await api.send(nurse, conv, [att["id"]])).status_code == 201
    working = store._base
    store._base = "http://127.0.0.1:9"  # the gateway out of reach (nothing listens on port 9)
    try:
        r = await api.client.get(f"/api/v1/attachments/{att['id']}", headers=api.auth(doctor))
        assert r.status_code == 503 and "Traceback" not in r.text
        assert r.headers["content-type"].startswith("application/problem+json") and r.json().get("detail")
        r = await api.upload(nurse, conv, pdf("pendant la panne"))
        assert r.status_code == 503
        ready = await api.client.get("/readyz")
        assert ready.status_code == 503 and "127.0.0.1:9" not in ready.text
    finally:
        store._base = working
    assert (await api.client.get(f"/api/v1/attachments/{att['id']}", headers=api.auth(doctor))).status_code == 200

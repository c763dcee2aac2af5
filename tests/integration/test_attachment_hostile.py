"""Hostile files and the antivirus: every one is refused with a clear problem in the user's
language, never a 500, and leaves nothing behind (no file in the blob store, no row)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from sqlalchemy import func, select

from chevet.adapters.db.schema_attachments import attachment, attachment_blob
from chevet.bootstrap import Installation
from tests.attachment_support import Api
from tests.conftest import _require
from tests.media_samples import EICAR, hostile_corpus, pdf, small_png
from tests.support import new_installation, new_member, new_org

CLAMD = os.environ.get("CHEVET_TEST_CLAMD", "/run/chevet-clamav/clamd.sock")


def clamd_answers() -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(3)
            s.connect(CLAMD)
            s.sendall(b"zPING\0")
            return s.recv(16).startswith(b"PONG")
    except OSError:
        return False


async def _nothing_stored(installation: Installation) -> None:
    root = installation.settings.blobs_path
    assert not [p for p in root.rglob("*") if p.is_file()], "a refused file left something in the blob store"
    async with installation.services.db.transaction() as tx:
        conn = tx.conn  # type: ignore[attr-defined]
        assert (await conn.execute(select(func.count()).select_from(attachment))).scalar_one() == 0
        assert (await conn.execute(select(func.count()).select_from(attachment_blob))).scalar_one() == 0


async def test_hostile_files_are_refused_and_leave_nothing(installation: Installation, api: Api) -> None:
    nurse, _doctor, conv = await api.team()
    for name, (data, status) in hostile_corpus().items():
        r = await api.upload(nurse, conv, data, name=name, content_type="image/jpeg")
        assert r.status_code == status, (name, r.status_code, r.text)
        problem = r.json()
        assert problem["code"].startswith(("attachment_", "request_")), (name, problem)
        assert problem["detail"] and problem["detail"] != problem["code"], "explained in French"
        assert r.headers["content-language"] == "fr"
    await _nothing_stored(installation)
    # An upload over the limit is cut off by the size guard, whatever it claims.
    huge = b"\xff\xd8\xff" + b"\x00" * (installation.settings.attachments.max_upload_bytes + 70_000)
    r = await api.upload(nurse, conv, huge, name="big.jpg")
    assert r.status_code == 413
    await _nothing_stored(installation)
    # A sane file still goes through afterwards.
    r = await api.upload(nurse, conv, small_png(), name="ok.png")
    assert r.status_code == 201


async def test_types_outside_the_allow_list_are_refused(tmp_path: Path) -> None:
    inst = await new_installation(tmp_path / "data", None, attachments__types="image")
    api = Api(inst)
    try:
        org = await new_org(inst.services)
        nurse = await new_member(inst.services, org, "nurse")
        doctor = await new_member(inst.services, org, "physician")
        for m in (nurse, doctor):
            await api.login(m)
        conv = await api.conversation(nurse, doctor)
        r = await api.upload(nurse, conv, pdf(), name="lettre.pdf", content_type="application/pdf", lang="en")
        assert r.status_code == 422 and r.json()["code"] == "attachment_type_refused"
        # In words, and only the families this installation accepts (programs get the types).
        assert r.json()["detail"] == "This type of file is not accepted: send a photo."
        assert "image/jpeg" in r.json()["allowed"] and "pdf" not in r.json()["allowed"]
        limits = (await api.client.get("/api/v1/attachments/limits", headers=api.auth(nurse))).json()
        assert "application/pdf" not in limits["accepted_types"]
        await _nothing_stored(inst)
    finally:
        await api.close()
        await inst.close()


@pytest.fixture
def clamd() -> str:
    _require(clamd_answers(), f"clamd on {CLAMD} (see .ci/setup-attachments)")
    return CLAMD


async def test_clamd_refuses_eicar_and_accepts_a_clean_file(tmp_path: Path, clamd: str) -> None:
    inst = await new_installation(tmp_path / "data", None, attachments__clamd_socket=clamd)
    api = Api(inst)
    try:
        org = await new_org(inst.services)
        nurse = await new_member(inst.services, org, "nurse")
        doctor = await new_member(inst.services, org, "physician")
        for m in (nurse, doctor):
            await api.login(m)
        conv = await api.conversation(nurse, doctor)
        limits = (await api.client.get("/api/v1/attachments/limits", headers=api.auth(nurse))).json()
        assert limits["antivirus"] is True
        r = await api.upload(nurse, conv, EICAR, name="note.txt", content_type="text/plain")
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "attachment_infected"
        assert "Chevet.Test.EICAR" in r.json()["detail"]
        await _nothing_stored(inst)
        r = await api.upload(nurse, conv, b"Transmissions de nuit : RAS.", name="note.txt")
        assert r.status_code == 201, r.text
        assert r.json()["mime"] == "text/plain"
    finally:
        await api.close()
        await inst.close()


async def test_an_unreachable_antivirus_refuses_uploads(tmp_path: Path) -> None:
    inst = await new_installation(tmp_path / "data", None, attachments__clamd_socket=str(tmp_path / "no-clamd.sock"))
    api = Api(inst)
    try:
        org = await new_org(inst.services)
        nurse = await new_member(inst.services, org, "nurse")
        doctor = await new_member(inst.services, org, "physician")
        for m in (nurse, doctor):
            await api.login(m)
        conv = await api.conversation(nurse, doctor)
        r = await api.upload(nurse, conv, small_png())
        assert r.status_code == 503 and r.json()["code"] == "antivirus_unavailable"
        await _nothing_stored(inst)
    finally:
        await api.close()
        await inst.close()

"""Voice messages through the attachments API, on SQLite and PostgreSQL: real Opus recordings
in WebM and Ogg are accepted, timed from their packets, stripped of their tags and sealed;
anything that only claims to be one is refused with a French sentence, and leaves nothing."""

from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import func, inspect, select

from chevet.adapters.db.schema_attachments import attachment, attachment_blob
from chevet.bootstrap import Installation
from tests.attachment_support import Api
from tests.support import migrate
from tests.voice_samples import encode, require_ffmpeg


async def _rows(installation: Installation) -> tuple[int, int]:
    async with installation.services.db.transaction() as tx:
        conn = tx.conn  # type: ignore[attr-defined]
        return ((await conn.execute(select(func.count()).select_from(attachment))).scalar_one(),
                (await conn.execute(select(func.count()).select_from(attachment_blob))).scalar_one())


def _decodes(data: bytes) -> bool:
    return subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "null", "-"], input=data,
                          capture_output=True, timeout=60).returncode == 0


@pytest.mark.parametrize(("fmt", "mime"), [("webm", "audio/webm"), ("ogg", "audio/ogg")])
async def test_an_opus_recording_is_accepted_timed_stripped_and_sealed(
        installation: Installation, api: Api, fmt: str, mime: str) -> None:
    require_ffmpeg()
    nurse, doctor, conv = await api.team()
    recording = encode(fmt, 3, title="Dupont Jeanne chambre 12")
    assert b"Dupont Jeanne" in recording
    r = await api.upload(nurse, conv, recording, name="message-vocal." + fmt, content_type=mime)
    assert r.status_code == 201, r.text
    view = r.json()
    assert view["mime"] == mime
    assert view["kind"] == "document"
    assert 2900 <= view["duration_ms"] <= 3200, view["duration_ms"]
    assert view["name"] == "message-vocal." + fmt
    sent = await api.send(nurse, conv, [view["id"]])
    assert sent.status_code in (200, 201), sent.text
    assert sent.json()["attachments"][0]["duration_ms"] == view["duration_ms"]

    # The other member downloads exactly what was stored: the sound, without the tag.
    got = await api.client.get(f"/api/v1/attachments/{view['id']}", headers=api.auth(doctor))
    assert got.status_code == 200
    assert got.headers["content-type"].startswith(mime)
    assert b"Dupont Jeanne" not in got.content
    assert _decodes(got.content)
    # A player asks for ranges.
    part = await api.client.get(f"/api/v1/attachments/{view['id']}", headers=api.auth(doctor, Range="bytes=0-99"))
    assert part.status_code == 206 and part.content == got.content[:100]

    # Sealed at rest: neither the recording nor what was kept of it is in the blob store or the database.
    probes = [recording[len(recording) // 2:len(recording) // 2 + 48], got.content[-200:-152]]
    files = [p.read_bytes() for p in installation.settings.blobs_path.rglob("*") if p.is_file()]
    assert len(files) == 1
    for probe in probes:
        assert all(probe not in f for f in files)
    async with installation.services.db.transaction() as tx:
        conn = tx.conn  # type: ignore[attr-defined]
        rows = (await conn.execute(select(attachment))).all() + (await conn.execute(select(attachment_blob))).all()
    stored = b"".join(v if isinstance(v, bytes) else str(v).encode() for row in rows for v in row)
    for probe in probes:
        assert probe not in stored
    assert b"Dupont" not in stored


@pytest.mark.parametrize(("case", "code"), [
    ("claims_webm", "voice_invalid"),
    ("cut_short", "voice_invalid"),
    ("too_long", "voice_too_long"),
    ("vorbis_webm", "voice_codec_refused"),
    ("vorbis_ogg", "voice_codec_refused"),
    ("video", "voice_codec_refused"),
    ("matroska", "voice_invalid"),
    ("wav", "voice_format_refused"),
])
async def test_what_is_not_an_opus_voice_message_is_refused_in_french(
        installation: Installation, api: Api, case: str, code: str) -> None:
    require_ffmpeg()
    nurse, _doctor, conv = await api.team()
    data = {
        "claims_webm": lambda: b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 8,
        "cut_short": lambda: encode("webm", 3)[:5000],
        "too_long": lambda: encode("webm", 130, bitrate="6k"),
        "vorbis_webm": lambda: encode("webm", 3, codec="libvorbis", bitrate="48k"),
        "vorbis_ogg": lambda: encode("ogg", 3, codec="libvorbis", bitrate="48k"),
        "video": lambda: encode("webm", 2, video=True),
        "matroska": lambda: encode("matroska", 3),
        "wav": lambda: encode("wav", 1, codec="pcm_s16le"),
    }[case]()
    r = await api.upload(nurse, conv, data, name="message-vocal.webm", content_type="audio/webm")
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == code
    assert r.headers["content-language"] == "fr"
    assert problem["detail"] != code and ("vocal" in problem["detail"] or "audio" in problem["detail"])
    assert await _rows(installation) == (0, 0)
    assert not [p for p in installation.settings.blobs_path.rglob("*") if p.is_file()]
    # In English too, for a member who reads English.
    en = await api.upload(nurse, conv, data, name="voice.webm", content_type="audio/webm", lang="en")
    assert en.status_code == 422 and en.json()["detail"] != problem["detail"]


async def test_the_duration_column_migrates_down_and_up(installation: Installation) -> None:
    async def columns() -> set[str]:
        async with installation.services.db.engine.connect() as conn:  # type: ignore[attr-defined]
            return await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("attachment")})

    assert "duration_ms" in await columns()
    await migrate(installation, "0011_attachment_duration-1", up=False)
    assert "duration_ms" not in await columns()
    await migrate(installation, "heads")
    assert "duration_ms" in await columns()

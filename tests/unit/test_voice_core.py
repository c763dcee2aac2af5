"""The voice message reader on its own: Opus packet durations, the in-place blanking of WebM
metadata, and the Ogg comment header replaced even when it spanned several pages."""

from __future__ import annotations

import subprocess

import pytest

from chevet.core import voice
from chevet.core.errors import InvalidInput
from tests.voice_samples import encode, require_ffmpeg


@pytest.mark.parametrize(("packet", "samples"), [
    (bytes((0xF8, 0, 0)), 960),        # CELT 20 ms, one frame
    (bytes((0x79, 0, 0)), 1920),       # hybrid 20 ms, code 1: two frames
    (bytes((0x18, 0)), 2880),          # SILK 60 ms, one frame
    (bytes((0xFB, 0x03)), 2880),       # CELT 20 ms, code 3: three frames
])
def test_opus_packet_durations_come_from_the_toc_byte(packet: bytes, samples: int) -> None:
    assert voice.opus_samples(packet) == samples


@pytest.mark.parametrize("packet", [b"", b"\xfb", bytes((0xFB, 0x00)), bytes((0x1B, 0x03))])  # 3 × 60 ms > 120 ms
def test_malformed_or_overlong_opus_packets_are_refused(packet: bytes) -> None:
    with pytest.raises(InvalidInput):
        voice.opus_samples(packet)


def _decodes(data: bytes) -> bool:
    return subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "null", "-"], input=data,
                          capture_output=True, timeout=60).returncode == 0


def test_webm_tags_are_blanked_in_place_and_the_file_still_plays() -> None:
    require_ffmpeg()
    data = encode("webm", 2, title="Martin Paul, lit 4")
    v = voice.read_voice(data)
    assert (v.mime, v.channels) == ("audio/webm", 1)
    assert len(v.data) == len(data) and b"Martin Paul" in data and b"Martin Paul" not in v.data
    assert _decodes(v.data)
    assert voice.read_voice(v.data) == v  # reading it again changes nothing


def test_a_long_ogg_comment_header_is_replaced_and_the_pages_renumbered() -> None:
    require_ffmpeg()
    data = encode("ogg", 2, title="Martin Paul " * 8000)  # ~100 KB of comments: several pages
    v = voice.read_voice(data)
    assert v.mime == "audio/ogg" and 1900 <= v.duration_ms <= 2100
    assert b"Martin" not in v.data and len(v.data) < len(data) // 5
    assert _decodes(v.data)
    # Each page of the result carries a valid checksum, and the numbering has no gap.
    pos, expected = 0, 0
    while pos < len(v.data):
        count = v.data[pos + 26]
        length = 27 + count + sum(v.data[pos + 27:pos + 27 + count])
        page = v.data[pos:pos + length]
        assert int.from_bytes(page[18:22], "little") == expected
        assert voice.ogg_crc(page[:22] + b"\0\0\0\0" + page[26:]) == int.from_bytes(page[22:26], "little")
        pos, expected = pos + length, expected + 1


def test_a_second_stream_in_an_ogg_file_is_refused() -> None:
    require_ffmpeg()
    one = encode("ogg", 1)
    other = bytearray(one)
    other[14:18] = b"\x01\x02\x03\x04"  # the first page's serial: now two logical streams
    with pytest.raises(InvalidInput) as e:
        voice.read_voice(bytes(other))
    assert e.value.code in ("voice_codec_refused", "voice_invalid")

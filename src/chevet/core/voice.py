"""Voice messages: Opus audio in a WebM or Ogg container, recognised and measured from its
bytes, never from the type the client claims.

A browser records a voice message with ``MediaRecorder``: Chromium writes Opus in WebM,
Firefox Opus in Ogg. Both containers are read element by element (WebM) or page by page
(Ogg) down to the Opus packets: a file is accepted only when it holds exactly one audio
track, coded in Opus, mono or stereo, whose packets are all well-formed and whose duration
(counted from the packets themselves, not from a header that could lie) stays within
``MAX_DURATION_MS``. Anything else is refused with a reason the user can read.

What could carry words besides the voice is removed before the file is sealed, without
changing its length or re-encoding the sound: WebM ``Tags``, ``Chapters``, ``Attachments``, a
segment ``Title`` and track ``Name`` are overwritten in place by ``Void`` elements; the Ogg
comment header (``OpusTags``: vendor and user comments) is replaced by an empty one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from chevet.core.errors import InvalidInput

RECORDING_LIMIT_S = 120  # where the client stops a recording (announced in the attachment limits)
MAX_DURATION_MS = (RECORDING_LIMIT_S + 5) * 1000  # a few seconds of margin for the last chunk
# 125 s at 64 kbit/s: a recording at the client's 24 kbit/s is about 360 KB; anything heavier is
# not what the client records (RGESN: a voice message stays small on a 512 kbit/s link).
MAX_VOICE_BYTES = 1_000_000
_SAMPLE_RATE = 48_000  # Opus timestamps are always counted at 48 kHz


@dataclass(frozen=True, slots=True)
class Voice:
    """A checked recording: its container's MIME type, duration and channels, and the bytes to
    store (metadata blanked)."""

    mime: str
    duration_ms: int
    channels: int
    data: bytes


def is_audio_container(data: bytes) -> bool:
    """Whether the bytes start like a WebM/Matroska or Ogg file (then ``read_voice`` decides)."""
    return data.startswith((b"\x1a\x45\xdf\xa3", b"OggS"))


def read_voice(data: bytes) -> Voice:
    """Check a voice recording and return what is stored. Raises ``InvalidInput``:
    ``voice_invalid`` (not a complete WebM/Ogg file), ``voice_codec_refused`` (audio that is not
    Opus, or video), ``voice_too_long``, ``voice_too_large``."""
    if len(data) > MAX_VOICE_BYTES:
        raise InvalidInput("voice_too_large", max=MAX_VOICE_BYTES)
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        voice = _read_webm(data)
    elif data.startswith(b"OggS"):
        voice = _read_ogg(data)
    else:
        raise InvalidInput("voice_invalid")
    if voice.duration_ms > MAX_DURATION_MS:
        raise InvalidInput("voice_too_long", max_seconds=MAX_DURATION_MS // 1000)
    if voice.duration_ms <= 0:
        raise InvalidInput("voice_invalid")
    return voice


def opus_samples(packet: bytes) -> int:
    """Samples (at 48 kHz) that one Opus packet decodes to, from its TOC byte (RFC 6716 §3.1)."""
    if not packet:
        raise InvalidInput("voice_invalid")
    toc = packet[0]
    config = toc >> 3
    if config < 12:
        frame = (480, 960, 1920, 2880)[config % 4]
    elif config < 16:
        frame = (480, 960)[config % 2]
    else:
        frame = (120, 240, 480, 960)[config % 4]
    code = toc & 3
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    else:
        if len(packet) < 2:
            raise InvalidInput("voice_invalid")
        frames = packet[1] & 0x3F
        if frames == 0:
            raise InvalidInput("voice_invalid")
    samples = frame * frames
    if samples > 5760:  # at most 120 ms per packet
        raise InvalidInput("voice_invalid")
    return samples


# --- WebM (Matroska) ---------------------------------------------------------------------------
_EBML = 0x1A45DFA3
_DOCTYPE = 0x4282
_SEGMENT = 0x18538067
_CLUSTER = 0x1F43B675
_TIMECODE = 0xE7
_SIMPLE_BLOCK = 0xA3
_BLOCK = 0xA1
_INFO = 0x1549A966
_TIMECODE_SCALE = 0x2AD7B1
_TRACKS = 0x1654AE6B
_TRACK_ENTRY = 0xAE
_TRACK_NUMBER = 0xD7
_TRACK_TYPE = 0x83
_CODEC_ID = 0x86
_AUDIO = 0xE1
_CHANNELS = 0x9F
_VIDEO = 0xE0
_CONTENT_ENCODINGS = 0x6D80  # compressed or encrypted blocks: not plain Opus
# Masters read through (their children follow); every other element is skipped by its size.
_MASTERS = {_SEGMENT, _CLUSTER, _INFO, _TRACKS, _TRACK_ENTRY, _AUDIO, 0xA0}  # 0xA0: BlockGroup
# Elements that may carry words or files besides the sound: blanked in place.
_BLANKED = {0x1254C367, 0x1043A770, 0x1941A469, 0x7BA9, 0x536E}  # Tags, Chapters, Attachments, Title, Name
_UNKNOWN = -1


def _vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at ``pos``: (value, length). A size with all value bits
    set is "unknown" (``_UNKNOWN``), as MediaRecorder writes for its live segment and clusters."""
    if pos >= len(data):
        raise InvalidInput("voice_invalid")
    first = data[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > (4 if keep_marker else 8) or pos + length > len(data):
        raise InvalidInput("voice_invalid")
    value = first if keep_marker else first & (0xFF >> length)
    for b in data[pos + 1:pos + length]:
        value = (value << 8) | b
    if not keep_marker and value == (1 << (7 * length)) - 1:
        return _UNKNOWN, length
    return value, length


def _uint(payload: bytes) -> int:
    if len(payload) > 8:
        raise InvalidInput("voice_invalid")
    return int.from_bytes(payload, "big")


def _void(total: int) -> bytes:
    """A Void element exactly ``total`` bytes long (``total`` ≥ 2)."""
    if total - 2 <= 126:
        return bytes((0xEC, 0x80 | (total - 2))) + b"\0" * (total - 2)
    return b"\xec\x01" + (total - 9).to_bytes(7, "big") + b"\0" * (total - 9)


@dataclass
class _Track:
    number: int = 0
    kind: int = 0
    codec: bytes = b""
    channels: int = 1
    video: bool = False


def _read_webm(data: bytes) -> Voice:
    out = bytearray(data)
    pos, end = 0, len(data)
    doctype = b""
    scale = 1_000_000  # nanoseconds per timestamp unit
    tracks: list[_Track] = []
    track: _Track | None = None
    cluster_tc: int | None = None
    first_ns: int | None = None
    last_end_ns = 0
    summed = 0
    seen_header = False
    while pos < end:
        element, id_len = _vint(data, pos, keep_marker=True)
        size, size_len = _vint(data, pos + id_len, keep_marker=False)
        start = pos + id_len + size_len
        if not seen_header:
            if element != _EBML or size == _UNKNOWN:
                raise InvalidInput("voice_invalid")
            seen_header = True
            doctype = _child(data[start:start + size], _DOCTYPE)
            pos = start + size
            continue
        if element in _MASTERS:
            if element == _TRACK_ENTRY:
                track = _Track()
                tracks.append(track)
            elif element == _CLUSTER:
                cluster_tc = None
            pos = start  # read its children next, whatever its size says (it may be unknown)
            continue
        if size == _UNKNOWN or start + size > end:
            raise InvalidInput("voice_invalid")  # cut short: an incomplete recording
        payload = data[start:start + size]
        if element in _BLANKED:
            out[pos:start + size] = _void(start + size - pos)
        elif element == _TIMECODE_SCALE:
            scale = _uint(payload)
        elif element in (_VIDEO, _CONTENT_ENCODINGS):
            raise InvalidInput("voice_codec_refused")
        elif track is not None and element == _TRACK_NUMBER:
            track.number = _uint(payload)
        elif track is not None and element == _TRACK_TYPE:
            track.kind = _uint(payload)
        elif track is not None and element == _CODEC_ID:
            track.codec = payload.rstrip(b"\0")
        elif track is not None and element == _CHANNELS:
            track.channels = _uint(payload)
        elif element == _TIMECODE:
            cluster_tc = _uint(payload)
        elif element in (_SIMPLE_BLOCK, _BLOCK):
            opus = _opus_track(tracks)
            number, n_len = _vint(payload, 0, keep_marker=False)
            if number != opus.number or cluster_tc is None or len(payload) < n_len + 4:
                raise InvalidInput("voice_invalid")
            relative = struct.unpack(">h", payload[n_len:n_len + 2])[0]
            if payload[n_len + 2] & 0x06:  # laced frames: MediaRecorder never writes them
                raise InvalidInput("voice_invalid")
            samples = opus_samples(payload[n_len + 3:])
            at_ns = (cluster_tc + relative) * scale
            first_ns = at_ns if first_ns is None else min(first_ns, at_ns)
            last_end_ns = max(last_end_ns, at_ns + samples * 1_000_000_000 // _SAMPLE_RATE)
            summed += samples
        pos = start + size
    if doctype != b"webm":
        raise InvalidInput("voice_invalid")
    opus = _opus_track(tracks)
    if first_ns is None:
        raise InvalidInput("voice_invalid")
    duration_ms = max((last_end_ns - first_ns) // 1_000_000, summed * 1000 // _SAMPLE_RATE)
    return Voice("audio/webm", duration_ms, opus.channels, bytes(out))


def _opus_track(tracks: list[_Track]) -> _Track:
    """The one track of a voice message: audio, Opus, mono or stereo."""
    if len(tracks) != 1:
        raise InvalidInput("voice_codec_refused" if tracks else "voice_invalid")
    t = tracks[0]
    if t.kind != 2 or t.codec != b"A_OPUS" or t.video:
        raise InvalidInput("voice_codec_refused")
    if t.channels not in (1, 2) or t.number == 0:
        raise InvalidInput("voice_invalid")
    return t


def _child(payload: bytes, wanted: int) -> bytes:
    """The first child ``wanted`` of a master element's payload (the EBML header)."""
    pos = 0
    while pos < len(payload):
        element, id_len = _vint(payload, pos, keep_marker=True)
        size, size_len = _vint(payload, pos + id_len, keep_marker=False)
        start = pos + id_len + size_len
        if size == _UNKNOWN or start + size > len(payload):
            raise InvalidInput("voice_invalid")
        if element == wanted:
            return payload[start:start + size]
        pos = start + size
    return b""


# --- Ogg ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Page:
    flags: int
    granule: int
    serial: int
    sequence: int
    lacing: bytes
    body: bytes


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else r << 1
        table.append(r & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def ogg_crc(page: bytes) -> int:
    """The Ogg page checksum (CRC-32, polynomial 0x04C11DB7, no reflection) over ``page`` with its
    checksum field zeroed."""
    crc = 0
    for b in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[(crc >> 24) ^ b]
    return crc


def ogg_page(page: _Page) -> bytes:
    head = struct.pack("<4sBBqIII", b"OggS", 0, page.flags, page.granule, page.serial, page.sequence, 0)
    raw = head + bytes((len(page.lacing),)) + page.lacing + page.body
    return raw[:22] + struct.pack("<I", ogg_crc(raw)) + raw[26:]


def _pages(data: bytes) -> list[_Page]:
    pages = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 27 or data[pos:pos + 4] != b"OggS" or data[pos + 4] != 0:
            raise InvalidInput("voice_invalid")
        flags, granule, serial, sequence, _crc, count = struct.unpack("<BqIIIB", data[pos + 5:pos + 27])
        lacing = data[pos + 27:pos + 27 + count]
        body_len = sum(lacing)
        body = data[pos + 27 + count:pos + 27 + count + body_len]
        if len(lacing) != count or len(body) != body_len:
            raise InvalidInput("voice_invalid")  # cut short
        pages.append(_Page(flags, granule, serial, sequence, lacing, body))
        pos += 27 + count + body_len
    return pages


def _packets(page: _Page, carry: bytes) -> tuple[list[bytes], bytes]:
    """The packets a page completes (the first one continued from ``carry``), and what it leaves
    unfinished for the next page."""
    done: list[bytes] = []
    current = bytearray(carry)
    offset = 0
    for value in page.lacing:
        current += page.body[offset:offset + value]
        offset += value
        if value < 255:
            done.append(bytes(current))
            current = bytearray()
    return done, bytes(current)


def _read_ogg(data: bytes) -> Voice:
    pages = _pages(data)
    if not pages or not pages[0].flags & 0x02:
        raise InvalidInput("voice_invalid")
    serial = pages[0].serial
    if any(p.serial != serial for p in pages):
        raise InvalidInput("voice_codec_refused")  # a second stream (video, another track)
    head = _packets(pages[0], b"")[0]
    if len(head) != 1 or not head[0].startswith(b"OpusHead"):
        raise InvalidInput("voice_codec_refused")
    opus_head = head[0]
    if len(opus_head) < 19 or opus_head[8] >> 4 != 0:
        raise InvalidInput("voice_invalid")
    channels, pre_skip = opus_head[9], struct.unpack("<H", opus_head[10:12])[0]
    if opus_head[18] != 0 or channels not in (1, 2):
        raise InvalidInput("voice_invalid")  # mapping family 0 only: mono or stereo
    # The comment header: on the pages after the first, ending on a page boundary (RFC 7845 §3).
    carry = b""
    index = 1
    tags: list[bytes] = []
    while index < len(pages) and not tags:
        if pages[index].granule not in (0, -1):
            raise InvalidInput("voice_invalid")
        tags, carry = _packets(pages[index], carry)
        index += 1
    if len(tags) != 1 or carry or not tags[0].startswith(b"OpusTags"):
        raise InvalidInput("voice_invalid")
    summed = 0
    last_granule = 0
    for page in pages[index:]:
        packets, carry = _packets(page, carry)
        for packet in packets:
            summed += opus_samples(packet)
        if page.granule != -1:
            last_granule = max(last_granule, page.granule)
    if carry or summed == 0:
        raise InvalidInput("voice_invalid")
    samples = max(last_granule - pre_skip, summed - pre_skip)
    # Stored with an empty comment header (no vendor, no comments) on one page; the pages after
    # it are renumbered when the original comments took several.
    empty = _Page(0, 0, serial, 1, bytes((16,)), b"OpusTags" + b"\0" * 8)
    audio = [_Page(p.flags, p.granule, p.serial, 2 + i, p.lacing, p.body) for i, p in enumerate(pages[index:])]
    renumbered = index != 2
    out = bytearray(data[:27 + len(pages[0].lacing) + len(pages[0].body)])
    out += ogg_page(empty)
    if renumbered:
        for p in audio:
            out += ogg_page(p)
    else:
        skip = sum(27 + len(p.lacing) + len(p.body) for p in pages[:index])
        out += data[skip:]
    return Voice("audio/ogg", samples * 1000 // _SAMPLE_RATE, channels, bytes(out))


def is_other_audio(data: bytes) -> bool:
    """Whether the bytes start like a common audio file that is not a voice message (MP3, WAV,
    FLAC, AAC/M4A, AMR): refused with its own reason rather than "unknown type"."""
    head = data[:12]
    return (head.startswith((b"ID3", b"fLaC", b"#!AMR", b"FORM"))
            or (head[:4] == b"RIFF" and head[8:12] == b"WAVE")
            or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)  # MPEG/ADTS frame sync
            or (head[4:8] == b"ftyp" and head[8:11] in (b"M4A", b"M4B")))

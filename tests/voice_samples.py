"""Real recordings for the voice message tests, encoded by ffmpeg (Debian package ``ffmpeg``,
with libopus and libvorbis): Opus in WebM and in Ogg as browsers record them, and the files a
voice message must not be (another codec, a video, too long)."""

from __future__ import annotations

import functools
import shutil
import subprocess

from tests.conftest import _require

TONE = "sine=frequency=440:duration={seconds}"


def require_ffmpeg() -> None:
    _require(shutil.which("ffmpeg") is not None, "ffmpeg (Debian package ffmpeg)")


@functools.cache
def encode(fmt: str, seconds: float = 3, codec: str = "libopus", bitrate: str = "16k",
           title: str = "", video: bool = False) -> bytes:
    """``seconds`` of a tone in container ``fmt`` (webm, ogg, wav, matroska, mp3), optionally with a
    ``title`` tag (metadata the server must blank) or with a video track."""
    require_ffmpeg()
    args = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", TONE.format(seconds=seconds)]
    if video:
        args += ["-f", "lavfi", "-i", f"color=c=blue:s=64x64:d={seconds}", "-c:v", "libvpx"]
    args += ["-ac", "1", "-c:a", codec]
    if codec != "pcm_s16le":
        args += ["-b:a", bitrate]
    if title:
        args += ["-metadata", f"title={title}"]
    # Written to a pipe, as a recorder writes a live stream: no seeking back to fill in sizes.
    args += ["-f", fmt, "pipe:1"]
    return subprocess.run(args, check=True, timeout=120, capture_output=True).stdout

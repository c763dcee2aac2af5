"""The Pillow media processor and the filesystem blob store, as real adapters (no database)."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from chevet.adapters.blobs import FileBlobStore
from chevet.adapters.media import ImageLimits, PillowMedia, configure_pillow
from chevet.core.attachment import IMAGE_TYPES, sniff
from chevet.core.errors import IntegrityError, InvalidInput, TooLarge
from chevet.ports import DependencyUnavailable
from tests.media_samples import hard_photos, hostile_corpus, phone_photo, small_png

LIMITS = ImageLimits()
configure_pillow(LIMITS)


def _process(data: bytes, output: str = "webp") -> tuple[Image.Image, int, Image.Image]:
    import asyncio

    media = PillowMedia(ImageLimits(output=output))
    file_type = sniff(data)
    assert file_type is not None
    result = asyncio.run(media.process_image(data, file_type))
    return Image.open(io.BytesIO(result.content)), len(result.content), Image.open(io.BytesIO(result.thumbnail))


@pytest.mark.parametrize("output", ["webp", "avif"])
def test_a_4mb_phone_photo_is_stored_under_300_kb_without_gps(output: str) -> None:
    photo = phone_photo(orientation=1, detail=0.25, quality=96)
    assert len(photo) >= 4_000_000
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(0x8825), "the sample carries GPS"
    img, size, thumb = _process(photo, output)
    assert img.format == output.upper()
    assert size <= 300_000
    assert max(img.size) >= 1280, "clinical detail: not shrunk to a thumbnail"
    assert not img.getexif() and "exif" not in img.info and "xmp" not in img.info
    assert max(thumb.size) == 320


@pytest.fixture(scope="module")
def hard() -> dict[str, bytes]:
    return hard_photos()


@pytest.mark.parametrize("output", ["webp", "avif"])
@pytest.mark.parametrize("name", ["linen", "grain", "noise"])
def test_the_300_kb_promise_holds_for_photos_that_compress_badly(hard: dict[str, bytes], name: str,
                                                                output: str) -> None:
    # The budget of the design (a phone photo stored at <= 300 KB whatever its content):
    # the resolution gives way before the promise does.
    img, size, _ = _process(hard[name], output)
    assert size <= 300_000, f"{name}: {size} bytes"
    assert max(img.size) >= 256
    assert img.width / img.height == pytest.approx(4 / 3, rel=0.01)


def test_colour_profiles_never_reach_the_output() -> None:
    img = Image.new("RGB", (64, 64), (0, 200, 0))
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for profile in (srgb, b"not a real profile"):
        out = io.BytesIO()
        img.save(out, "PNG", icc_profile=profile)
        processed, _, _ = _process(out.getvalue())
        assert "icc_profile" not in processed.info
        assert processed.convert("RGB").getpixel((32, 32))[1] > 150, "colours kept"


def test_transparency_16_bit_and_animation_are_handled() -> None:
    rgba = io.BytesIO()
    Image.new("RGBA", (50, 40), (255, 0, 0, 0)).save(rgba, "PNG")
    img, _, _ = _process(rgba.getvalue())
    assert img.mode == "RGBA"
    deep = io.BytesIO()
    Image.new("I;16", (30, 30), 40000).save(deep, "PNG")
    img, _, _ = _process(deep.getvalue())
    assert img.size == (30, 30)
    frames = [Image.new("RGB", (20, 20), c) for c in ((255, 0, 0), (0, 0, 255))]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    img, _, _ = _process(gif.getvalue())
    assert getattr(img, "n_frames", 1) == 1
    assert img.convert("RGB").getpixel((10, 10))[0] > 200, "the first frame"


def test_a_multipage_scan_is_refused_rather_than_cut() -> None:
    pages = [Image.new("L", (200, 280), shade) for shade in (250, 200, 150)]
    tiff = io.BytesIO()
    pages[0].save(tiff, "TIFF", save_all=True, append_images=pages[1:])
    with pytest.raises(InvalidInput) as refused:
        _process(tiff.getvalue())
    assert refused.value.code == "attachment_multipage"
    single = io.BytesIO()
    pages[0].save(single, "TIFF")
    img, _, _ = _process(single.getvalue())
    assert img.size == (200, 280)


def test_hostile_images_raise_clean_errors() -> None:
    for data, status in hostile_corpus().values():
        file_type = sniff(data)
        if file_type is None or file_type.mime not in IMAGE_TYPES:
            continue
        with pytest.raises(TooLarge if status == 413 else InvalidInput):
            _process(data)


async def test_blob_store_writes_atomically_privately_and_refuses_path_tricks(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    key = "ab" * 16 + "/" + "cd" * 32
    written = await store.put(key, [b"sealed-", b"bytes"])
    assert written == 12
    path = tmp_path / "blobs" / ("ab" * 16) / "cd" / ("cd" * 32)
    assert path.read_bytes() == b"sealed-bytes"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp")]
    assert b"".join([p async for p in store.read(key)]) == b"sealed-bytes"
    assert await store.size(key) == 12 and await store.keys() == [key]

    def failing() -> object:
        yield b"half"
        raise OSError("disk full")

    other = "ab" * 16 + "/" + "ef" * 32
    with pytest.raises(DependencyUnavailable):  # a write that fails half-way: the store is unavailable
        await store.put(other, failing())  # type: ignore[arg-type]
    assert await store.size(other) is None
    assert not [p for p in path.parent.parent.rglob(".tmp*")], "no temporary file left behind"

    for bad in ("../../etc/passwd", "ab" * 16 + "/../" + "cd" * 31, "AB" * 16 + "/" + "cd" * 32, "/etc/x"):
        with pytest.raises(ValueError):
            await store.put(bad, [b"x"])
    await store.delete(key)
    assert await store.size(key) is None
    assert not path.parent.exists(), "empty folders are removed"
    with pytest.raises(IntegrityError):
        [p async for p in store.read(key)]
    assert not [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]


def test_whatever_hides_behind_the_pixels_is_dropped() -> None:
    import asyncio

    payload = b"PK\x03\x04<script>alert('polyglot')</script>PK\x05\x06" + b"\x00" * 18
    data = phone_photo(400, 300) + payload
    file_type = sniff(data)
    assert file_type is not None and file_type.mime == "image/jpeg"
    result = asyncio.run(PillowMedia(ImageLimits(output="webp")).process_image(data, file_type))
    for needle in (b"PK\x03\x04", b"script", b"PhoneMaker", b"Exif"):
        assert needle not in result.content and needle not in result.thumbnail


_SEEDS = [phone_photo(160, 120, quality=80), small_png(40, 30)]


@settings(max_examples=40, deadline=None)
@given(which=st.integers(0, 1), cuts=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
       truncate=st.integers(20, 10_000))
def test_mangled_images_are_refused_cleanly_or_processed(which: int, cuts: list[tuple[int, int]],
                                                         truncate: int) -> None:
    """Flipped bytes and cut files: the processor either produces a clean image or refuses
    with a domain error, never anything else (which would become a 500)."""
    data = bytearray(_SEEDS[which][:truncate])
    for offset, value in cuts:
        if offset < len(data):
            data[offset] = value
    file_type = sniff(bytes(data))
    if file_type is None or file_type.mime not in IMAGE_TYPES:
        return
    try:
        img, _, _ = _process(bytes(data))
    except (InvalidInput, TooLarge):
        return
    assert not img.getexif()

"""Image processing with Pillow: what makes a 4 MB phone photo a clean 300 KB image.

Every image is decoded and re-encoded from its pixels alone, so nothing of the original file
survives but the picture: no EXIF (camera, date, GPS position), no maker notes, no XMP, no
comments, no embedded thumbnail, no trailing payload. Colour profiles other than sRGB are
converted to sRGB first, so colours (the redness of a wound) stay right without the profile.
The orientation tag is applied to the pixels before it is dropped.

Hostile files are refused before any pixel is decoded when possible: the pixel count and
dimensions are read from the header; Pillow's own decompression-bomb guard is set to the same
limit; truncated files fail to load (truncated loading is never enabled). CPU work runs in
worker threads (Pillow releases the GIL while decoding and encoding), at most ``workers`` at
a time, so the event loop keeps serving and memory stays bounded.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, features

from chevet.core.attachment import AVIF, WEBP, FileType, ProcessedImage
from chevet.core.errors import InvalidInput, TooLarge

log = logging.getLogger("chevet.media")

_PILLOW_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/gif": "GIF",
                  "image/tiff": "TIFF", "image/avif": "AVIF"}
THUMBNAIL_SIDE = 320
# Below this an image no longer fits its byte target only if the target itself is absurd.
MIN_STORED_SIDE = 256


def avif_supported() -> bool:
    return bool(features.check("avif"))


@dataclass(frozen=True, slots=True)
class ImageLimits:
    max_pixels: int = 50_000_000
    max_side: int = 20_000
    stored_side: int = 2048
    target_bytes: int = 300_000
    output: str = "auto"  # auto (AVIF when this Pillow has it), webp, avif


class PillowMedia:
    def __init__(self, limits: ImageLimits = ImageLimits(), workers: int = 2) -> None:
        self.limits = limits
        self._slots = asyncio.Semaphore(max(1, workers))
        self.output = AVIF if limits.output == "avif" or (limits.output == "auto" and avif_supported()) else WEBP
        if self.output is AVIF and not avif_supported():
            raise ValueError("this Pillow build cannot encode AVIF")

    @property
    def accepted_images(self) -> list[str]:
        return [m for m in _PILLOW_FORMAT if m != "image/avif" or avif_supported()]

    async def process_image(self, data: bytes, file_type: FileType) -> ProcessedImage:
        async with self._slots:
            return await asyncio.to_thread(self._process, data, file_type)

    # --- in a worker thread ------------------------------------------------------------
    def _process(self, data: bytes, file_type: FileType) -> ProcessedImage:
        fmt = _PILLOW_FORMAT.get(file_type.mime)
        if fmt is None:
            raise InvalidInput("attachment_type_refused", families=["image"])
        try:
            opened = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = opened.size
            if width <= 0 or height <= 0:
                raise InvalidInput("attachment_image_unreadable")
            if width * height > self.limits.max_pixels or max(width, height) > self.limits.max_side:
                raise TooLarge("attachment_image_too_large", max_pixels=self.limits.max_pixels)
            if fmt == "TIFF" and getattr(opened, "n_frames", 1) > 1:
                # A multi-page scan is a document: keeping its first page would lose the others.
                raise InvalidInput("attachment_multipage")
            img = self._decoded(opened)
        except (InvalidInput, TooLarge):
            raise
        except Image.DecompressionBombError as exc:
            raise TooLarge("attachment_image_too_large", max_pixels=self.limits.max_pixels) from exc
        except Exception as exc:  # any decoder failure on outside input is a refusal
            log.info("image refused", extra={"error": type(exc).__name__})
            raise InvalidInput("attachment_image_unreadable") from exc
        content, w, h = self._fit(img)
        thumb = self._thumbnail(img)
        return ProcessedImage(content=content, mime=self.output.mime, width=w, height=h,
                              thumbnail=thumb, thumbnail_mime=WEBP.mime)

    def _decoded(self, opened: Image.Image) -> Image.Image:
        """Pixels only, upright, in sRGB, at most ``stored_side`` on the long side."""
        side = self.limits.stored_side
        img = opened
        if img.format == "JPEG":
            # libjpeg can decode at 1/8, 1/4 or 1/2 scale for a fraction of the work; take the
            # smallest that stays within 5 % of the stored size (a 4000 px photo: 2000 px).
            for scale in (8, 4, 2):
                if max(img.size) / scale >= 0.95 * side:
                    img.draft("RGB", (-(-img.width // scale), -(-img.height // scale)))
                    break
        img.seek(0)  # animated images: the first frame only
        img.load()
        icc = img.info.get("icc_profile")
        try:
            img = ImageOps.exif_transpose(img) or img
        except (ValueError, TypeError, KeyError, OSError, SyntaxError):
            pass  # a broken orientation tag: keep the pixels as they are
        img = self._to_rgb(img, icc)
        if max(img.size) > side:
            img.thumbnail((side, side), Image.Resampling.LANCZOS)
        # A brand-new image from the raw pixels: no info, no EXIF, no XMP, no profile.
        return Image.frombytes(img.mode, img.size, img.tobytes())

    @staticmethod
    def _to_rgb(img: Image.Image, icc: bytes | None) -> Image.Image:
        if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            img = img.convert("I").point(lambda v: v / 256).convert("L")
        has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
        target = "RGBA" if has_alpha else "RGB"
        if icc and img.mode in ("RGB", "RGBA", "CMYK", "L"):
            try:
                src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                description = (ImageCms.getProfileDescription(src) or "").lower()
                if "srgb" not in description:
                    converted = ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"),
                                                          outputMode=target if img.mode != "L" else "RGB")
                    if converted is not None:
                        img = converted
            except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
                pass  # an unreadable profile is dropped; the pixels are taken as sRGB
        return img if img.mode == target else img.convert(target)

    def _encode(self, img: Image.Image, quality: int) -> bytes:
        out = io.BytesIO()
        if self.output is AVIF:
            img.save(out, "AVIF", quality=quality, speed=7)
        else:
            img.save(out, "WEBP", quality=quality, method=4)
        return out.getvalue()

    def _fit(self, img: Image.Image) -> tuple[bytes, int, int]:
        """The best quality that fits the byte target. When even the lowest quality that still
        keeps clinical detail does not fit (fine texture, grain, noise), the resolution is
        lowered until it does: the target is a promise, whatever the content. Encoding is the
        costly part, so the lowest quality is tried second (a miss there settles the size at
        once), and the encoded size, which grows about with the pixel count, aims each step at
        the target instead of creeping towards it."""
        best, *middle, lowest = (66, 58, 50) if self.output is AVIF else (82, 74, 66)
        target = self.limits.target_bytes
        current = img
        while True:
            data = self._encode(current, best)
            if len(data) <= target:
                return data, current.width, current.height
            floor = self._encode(current, lowest)
            if len(floor) <= target:
                for quality in middle:
                    data = self._encode(current, quality)
                    if len(data) <= target:
                        return data, current.width, current.height
                return floor, current.width, current.height
            longest = max(current.size)
            if longest <= MIN_STORED_SIDE:
                raise TooLarge("attachment_image_too_large", max_pixels=self.limits.max_pixels)
            aimed = int(longest * math.sqrt(target / len(floor)) * 0.97)
            side = max(MIN_STORED_SIDE, min(int(longest * 0.9), aimed))
            smaller = current.copy()
            smaller.thumbnail((side, side), Image.Resampling.LANCZOS)
            current = smaller

    @staticmethod
    def _thumbnail(img: Image.Image) -> bytes:
        thumb = img.copy()
        thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        thumb.save(out, "WEBP", quality=70, method=4)
        return out.getvalue()


def configure_pillow(limits: ImageLimits) -> None:
    """Pillow's own bomb guard, at the same limit (it raises at twice the value). Its warning
    between one and two times the limit is silenced: the processor refuses those itself."""
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)

"""Files generated for the attachment tests: real images (with EXIF, GPS and orientation like a
phone's), a PDF, and a corpus of hostile files."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image, ImageDraw, ImageFilter

GPS_LAT = (48.0, 51.0, 24.17)


def phone_photo(width: int = 4000, height: int = 3000, *, orientation: int = 1, quality: int = 95,
                seed: int = 7, detail: float = 0.2) -> bytes:
    """A photo-like JPEG (shapes, gradients, sensor-like noise) with the EXIF a phone writes:
    make, model, date, GPS position, orientation."""
    rnd = random.Random(seed)
    small = Image.new("RGB", (width // 8, height // 8))
    d = ImageDraw.Draw(small)
    for y in range(height // 8):
        d.line([(0, y), (width // 8, y)], fill=(140 + y % 50, 100 + (y // 3) % 70, 90))
    for _ in range(250):
        x, y, r = rnd.randrange(width // 8), rnd.randrange(height // 8), rnd.randrange(3, 50)
        d.ellipse([x - r, y - r, x + r, y + r], fill=(rnd.randrange(256), rnd.randrange(80), rnd.randrange(80)))
    img = small.resize((width, height), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(1))
    noise = Image.effect_noise((width, height), 48).convert("RGB")
    img = Image.blend(img, noise, detail)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "Phone Model X"
    exif[0x0132] = "2026:11:28 09:14:00"
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", GPS_LAT, "E", (2.0, 21.0, 3.0)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, exif=exif.tobytes(), comment=b"Chambre 12 Mme Secret")
    return out.getvalue()


def hard_photos(width: int = 4000, height: int = 3000) -> dict[str, bytes]:
    """Phone-sized JPEGs that compress badly: fine woven texture (a dressing on patterned
    linen), heavy sensor grain and pure noise, the worst case there is."""
    rnd = random.Random(11)
    weave = Image.new("RGB", (8, 8))
    for x in range(8):
        for y in range(8):
            weave.putpixel((x, y), (230, 225, 215) if (x + y) % 2 else (60 + 20 * (x % 3), 70, 150 - 10 * y))
    linen = Image.new("RGB", (width, height))
    for x in range(0, width, 8):
        for y in range(0, height, 8):
            linen.paste(weave, (x, y))
    linen = Image.blend(linen, Image.effect_noise((width, height), 90).convert("RGB"), 0.35)
    noise = Image.frombytes("RGB", (width, height), rnd.randbytes(width * height * 3))
    samples = {"linen": linen, "noise": noise}
    out: dict[str, bytes] = {"grain": phone_photo(width, height, detail=0.9, quality=97)}
    for name, img in samples.items():
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=95)
        out[name] = buf.getvalue()
    return out


def small_png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def small_jpeg(width: int = 120, height: int = 90, seed: int = 1) -> bytes:
    img = Image.effect_noise((width, height), 40 + seed).convert("RGB")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def pdf(text: str = "Compte rendu") -> bytes:
    body = f"BT /F1 12 Tf 40 700 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
               b"<< /Length %d >>\nstream\n" % len(body) + body + b"\nendstream"]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def png_bomb(side: int = 30000) -> bytes:
    """A tiny PNG that claims side×side pixels (it would need gigabytes once decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * side
    raw = zlib.compress(row * 64, 9)  # far fewer rows than declared: tiny on disk
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()


def hostile_corpus() -> dict[str, tuple[bytes, int]]:
    """name → (file, expected HTTP status). None of them may store anything."""
    photo = small_jpeg(400, 300)
    zip_tail = b"PK\x05\x06" + b"\x00" * 18
    return {
        "decompression-bomb.png": (png_bomb(), 413),
        "huge-dimensions.png": (png_bomb(70000), 413),
        "truncated.jpg": (photo[: len(photo) // 2], 422),
        "jpeg-header-only.jpg": (photo[:200], 422),
        "not-an-image.jpg": (b"#!/bin/sh\nrm -rf /\n" + b"\x00\x01\x02" * 10, 422),
        "html-as-text.txt": (b"<html><script>alert(1)</script></html>", 422),
        "svg-script.svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 422),
        "pdf-zip-polyglot.pdf": (pdf() + zip_tail, 422),
        "pdf-without-eof.pdf": (pdf()[:-7], 422),
        "pdf-html-polyglot.pdf": (b"%PDF-1.4\n<html><script>x</script>\n" + pdf()[9:], 422),
        "exe.pdf": (b"MZ\x90\x00" + b"\x00" * 200, 422),
        "zip.jpg": (b"PK\x03\x04" + b"\x00" * 100, 422),
        "png-bad-crc.png": (small_png()[:40] + b"\xde\xad" + small_png()[42:], 422),
    }

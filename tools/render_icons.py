"""Render the home-screen icons (PNG) from the one logo, ``src/chevet/web/static/logo.svg``.

Browsers and phones want bitmaps for installation: Android asks the manifest for 192 and 512 px
(and a "maskable" one whose drawing stays inside the central safe circle, 80 % of the side),
iOS takes the ``apple-touch-icon`` (180 px, no transparency). The PNGs are committed; run this
again after changing the logo:

    python tools/render_icons.py

Needs cairosvg (``pip install 'chevet[icons]'``), only here: the server just serves the files.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import cairosvg
from PIL import Image

STATIC = Path(__file__).resolve().parents[1] / "src" / "chevet" / "web" / "static"
BRAND = (0x17, 0x50, 0x4C, 255)


def render(svg: bytes, size: int) -> Image.Image:
    png = cairosvg.svg2png(bytestring=svg, output_width=size, output_height=size)
    return Image.open(io.BytesIO(png)).convert("RGBA")


def full_bleed(svg: bytes) -> bytes:
    """The logo without its rounded corners: the platform applies its own mask."""
    return re.sub(rb'rx="[0-9.]+"', b'rx="0"', svg, count=1)


def flattened(img: Image.Image) -> Image.Image:
    out = Image.new("RGBA", img.size, BRAND)
    out.alpha_composite(img)
    return out.convert("RGB")


def maskable(svg: bytes, size: int) -> Image.Image:
    """The drawing scaled into the safe zone, on a full square of the brand colour."""
    inner = round(size * 0.72)
    out = Image.new("RGBA", (size, size), BRAND)
    out.alpha_composite(render(full_bleed(svg), inner), ((size - inner) // 2, (size - inner) // 2))
    return out.convert("RGB")


def main() -> None:
    svg = (STATIC / "logo.svg").read_bytes()
    outputs = {
        "icon-192.png": render(svg, 192),
        "icon-512.png": render(svg, 512),
        "icon-maskable-512.png": maskable(svg, 512),
        "apple-touch-icon.png": flattened(render(full_bleed(svg), 180)),
    }
    for name, img in outputs.items():
        img.save(STATIC / name, "PNG", optimize=True)
        print(name, img.size, (STATIC / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()

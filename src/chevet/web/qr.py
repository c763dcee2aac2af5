"""QR codes drawn on the server as SVG (TOTP enrolment): no image service, no script."""

from __future__ import annotations

import io

import segno


def qr_svg(data: str) -> str:
    buf = io.BytesIO()
    segno.make(data, error="m").save(buf, kind="svg", scale=4, border=2, xmldecl=False, svgns=True,
                                     title="QR code", dark="#000", light="#fff")
    return buf.getvalue().decode()

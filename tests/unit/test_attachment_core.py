"""The pure parts of attachments: chunked sealing, type sniffing, file-name cleaning,
sobriety arithmetic and the SVG chart."""

from __future__ import annotations

import os
import uuid
import xml.etree.ElementTree as ET
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chevet.core import sealed_stream, sobriety
from chevet.core.attachment import PDF, TEXT, WEBP, check_pdf, clean_name, sniff
from chevet.core.errors import IntegrityError, InvalidInput
from chevet.web.api.attachments import content_disposition
from chevet.web.charts import Series, format_bytes, line_chart, nice_ceiling
from tests.media_samples import pdf, small_jpeg, small_png

KEY = os.urandom(32)
AAD = b"blob|" + uuid.uuid4().bytes


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=3000), chunk=st.integers(1, 700), cut=st.integers(1, 97))
def test_sealed_stream_round_trips_whatever_the_pieces(data: bytes, chunk: int, cut: int) -> None:
    sealed = b"".join(sealed_stream.seal(KEY, AAD, data, chunk))
    assert len(sealed) == sealed_stream.sealed_size(len(data), chunk)
    assert sealed_stream.plain_size(len(sealed), chunk) == len(data)
    pieces = [sealed[i:i + cut] for i in range(0, len(sealed), cut)]
    assert sealed_stream.open_all(KEY, AAD, pieces) == data


def test_sealed_stream_detects_truncation_reordering_and_another_owner() -> None:
    data = os.urandom(10_000)
    sealed = b"".join(sealed_stream.seal(KEY, AAD, data, 1000))
    full = 1000 + sealed_stream.TAG
    header = sealed_stream.HEADER.size
    chunks = [sealed[header + i * full: header + (i + 1) * full] for i in range(11)]
    cut_at_boundary = sealed[:header] + b"".join(chunks[:5])
    swapped = sealed[:header] + chunks[1] + chunks[0] + b"".join(chunks[2:])
    flipped = bytearray(sealed)
    flipped[header + 5] ^= 1
    for bad in (cut_at_boundary, swapped, bytes(flipped), sealed[:-1], sealed[:10]):
        with pytest.raises(IntegrityError):
            sealed_stream.open_all(KEY, AAD, [bad])
    with pytest.raises(IntegrityError):
        sealed_stream.open_all(KEY, b"blob|" + uuid.uuid4().bytes, [sealed])
    with pytest.raises(IntegrityError):
        sealed_stream.open_all(os.urandom(32), AAD, [sealed])


def test_sealed_stream_hides_the_content() -> None:
    data = b"Mme Zephyrine Quatrefages " * 100
    sealed = b"".join(sealed_stream.seal(KEY, AAD, data))
    assert b"Zephyrine" not in sealed
    assert sealed != b"".join(sealed_stream.seal(KEY, AAD, data)), "fresh nonces each time"


def test_type_comes_from_the_bytes_not_the_name() -> None:
    assert sniff(small_jpeg()).mime == "image/jpeg"
    assert sniff(small_png()).mime == "image/png"
    assert sniff(pdf()) is PDF
    assert sniff(b"Transmissions : RAS\n") is TEXT
    assert sniff(b"MZ\x90\x00\x03") is None
    assert sniff(b"<!DOCTYPE html><script>") is None
    assert sniff(b"  <svg onload=alert(1)>") is None
    assert sniff(b"text with a \x00 nul") is None
    assert sniff(b"") is None


def test_pdf_checks() -> None:
    check_pdf(pdf())
    for bad in (b"%PDF-1.4\nno end", pdf() + b"trailing garbage", pdf() + b"PK\x05\x06" + b"\0" * 18,
                b"junk" + pdf()):
        with pytest.raises(InvalidInput):
            check_pdf(bad)


@pytest.mark.parametrize(("raw", "expected"), [
    ("../../etc/passwd", "passwd.webp"),
    ("C:\\Users\\x\\photo.JPG", "photo.webp"),
    ("plaie\u202egpj.exe", "plaiegpj.webp"),
    ("CON.jpg", "piece-jointe.webp"),
    ("...", "piece-jointe.webp"),
    ("", "piece-jointe.webp"),
    ("a<b>c:d|e?.png", "a_b_c_d_e_.webp"),
    ("Escarre talon gauche.heic", "Escarre talon gauche.webp"),
])
def test_file_names_are_cleaned(raw: str, expected: str) -> None:
    assert clean_name(raw, WEBP) == expected


@given(st.text(max_size=400))
def test_clean_names_are_always_safe(raw: str) -> None:
    name = clean_name(raw, PDF)
    assert name.endswith(".pdf") and len(name) <= 180
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert all(ord(c) >= 32 and c not in '<>:"|?*' for c in name)


def test_content_disposition_follows_rfc_6266() -> None:
    header = content_disposition("attachment", 'Compte rendu "sortie" – Mme É.pdf')
    assert header.startswith('attachment; filename="Compte rendu _sortie_ _ Mme _.pdf"; ')
    assert header.endswith("filename*=UTF-8''Compte%20rendu%20%22sortie%22%20%E2%80%93%20Mme%20%C3%89.pdf")
    assert "\r" not in content_disposition("inline", "a\r\nSet-Cookie: x") and "\n" not in header


def test_growth_by_month_and_ranges() -> None:
    months = sobriety.months_back(date(2026, 3, 15), 4)
    assert months == [date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    day = (date(2026, 1, 20) - date(1970, 1, 1)).days
    old = (date(2025, 6, 1) - date(1970, 1, 1)).days
    assert sobriety.cumulative_by_month([(day, 100), (old, 7), (day + 30, 5)], months) == [7, 107, 112, 112]
    est = sobriety.estimate(delivered_bytes=2 * sobriety.GB, avoided_bytes=0, stored_bytes=sobriety.GB,
                            factors=sobriety.default_factors(49.4))
    assert est.transfer.as_dict() == {"low": 0.0, "high": 99.0}
    assert est.storage_per_year is None
    est = sobriety.estimate(delivered_bytes=0, avoided_bytes=0, stored_bytes=sobriety.GB,
                            factors=sobriety.default_factors(49.4, 10.0, "hoster 2025"))
    assert est.storage_per_year is not None and est.storage_per_year.as_dict() == {"low": 5.0, "high": 20.0}
    assert sobriety.round_significant(0.012345) == 0.012


def test_chart_is_accessible_svg() -> None:
    svg = line_chart(chart_id="g", title="Croissance <test>", description="Trois courbes",
                     labels=["01/26", "02/26", "03/26"],
                     series=[Series("Textes", [1, 2, 3]), Series("Images & photos", [0, 5_000_000, 7_000_000])],
                     format_value=format_bytes)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img" and root.get("aria-labelledby") == "g-title g-desc"
    assert root.find(f"{ns}title").text == "Croissance <test>"
    lines = list(root.iter(f"{ns}polyline"))
    assert len(lines) == 2 and lines[0].get("stroke-dasharray") is None and lines[1].get("stroke-dasharray")
    assert "style" not in svg and "<script" not in svg
    assert "10,0 Mo" in svg  # the axis top, in French units
    with pytest.raises(ValueError):
        line_chart(chart_id="x", title="t", description="d", labels=["a"], series=[Series("s", [1, 2])],
                   format_value=str)


def test_nice_axis_tops() -> None:
    assert [nice_ceiling(v) for v in (0, 3, 7_000_000, 120, 1000)] == [1.0, 5.0, 10_000_000.0, 200.0, 1000.0]
    assert format_bytes(1_234_567, "fr") == "1,2 Mo" and format_bytes(1_234_567, "en") == "1.2 MB"


@given(st.binary(max_size=2000))
def test_sniffing_and_pdf_checks_never_fail_unexpectedly(data: bytes) -> None:
    sniff(data)
    try:
        check_pdf(b"%PDF-1.7\n" + data)
    except InvalidInput:
        pass


@settings(max_examples=80, deadline=None)
@given(data=st.binary(min_size=1, max_size=2500), chunk=st.integers(1, 300), a=st.integers(0, 2499),
       b=st.integers(0, 2499))
def test_any_range_opens_from_its_chunks_alone(data: bytes, chunk: int, a: int, b: int) -> None:
    start, end = sorted((a % len(data), b % len(data)))
    sealed = b"".join(sealed_stream.seal(KEY, AAD, data, chunk))
    first, offset, length, skip = sealed_stream.chunk_span(len(data), start, end, chunk)
    opener = sealed_stream.RangeOpener(KEY, AAD, sealed[:sealed_stream.HEADER.size], first, len(data) // chunk + 1)
    plain = opener.feed(sealed[offset:offset + length]) + opener.close()
    assert plain[skip:skip + end - start + 1] == data[start:end + 1]

"""Small server-rendered SVG charts: no script, no external font, no ``style``, so a strict
CSP is enough. Each chart carries a ``<title>`` and a ``<desc>`` for screen readers (``role="img"``).

The line chart (the sobriety dashboard) draws each series with its own dash pattern and marker
shape as well as its own colour, so it can be told apart in grey-scale print and by people who
do not see colours, and pages show the same figures in a table next to it. The bar and stacked
month charts (the annual adverse-event report) write their figures in the ``<desc>``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import ceil, floor, log10
from xml.sax.saxutils import escape, quoteattr

from babel.numbers import format_decimal

PALETTE = (("#1f4e79", "none", "circle"), ("#8a3b12", "6 4", "square"), ("#2e6b30", "2 3", "triangle"),
           ("#5b2a86", "10 3 2 3", "diamond"))


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    values: Sequence[float]


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above ``value`` (axis tops people can read)."""
    if value <= 0:
        return 1.0
    exponent = floor(log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * 10**exponent
        if top >= value:
            return float(top)
    return float(10 ** (exponent + 1))


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    if shape == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{colour}"/>'
    if shape == "triangle":
        return (f'<polygon points="{x:.1f},{y - 4.5:.1f} {x + 4.5:.1f},{y + 3.5:.1f} {x - 4.5:.1f},{y + 3.5:.1f}" '
                f'fill="{colour}"/>')
    if shape == "diamond":
        return (f'<polygon points="{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} {x - 5:.1f},{y:.1f}" '
                f'fill="{colour}"/>')
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>'


LEGEND_LINE = 20


def line_chart(*, chart_id: str, title: str, description: str, labels: Sequence[str], series: Sequence[Series],
               format_value: Callable[[float], str], width: int = 320, height: int = 280,
               minimum_top: float = 1.0) -> str:
    """An SVG line chart of ``series`` over ``labels`` (the x axis, in order). Drawn for a phone:
    320 units wide, so that its 12-unit text is still 12 px on a 360 px screen; pages cap its
    width on wide screens. ``minimum_top``: the lowest axis top, so that an empty chart does not
    label its grid lines with rounded fractions of one unit."""
    if not series or not labels or any(len(s.values) != len(labels) for s in series):
        raise ValueError("every series needs one value per label")
    if len(series) > len(PALETTE):
        raise ValueError("too many series for one readable chart")
    # Room for a month label (about 7 px a character at 12 px); half of it past the last point.
    room = max(len(label) for label in labels) * 7 + 10
    left, right, top = 64, max(12, room // 2), 12
    plot_h = height - top - 28 - LEGEND_LINE * len(series) - 12
    plot_w = width - left - right
    peak = nice_ceiling(max(minimum_top, *(max(s.values) for s in series)))
    n = len(labels)

    def x_of(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y_of(v: float) -> float:
        return top + plot_h - plot_h * (v / peak)

    tid, did = f"{chart_id}-title", f"{chart_id}-desc"
    # No fixed size: the chart takes the width it is given (a 320 px phone, a wide screen) and
    # keeps its proportions from the viewBox.
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
             f'role="img" aria-labelledby="{tid} {did}" font-family="system-ui, sans-serif" font-size="12">',
             f'<title id="{tid}">{escape(title)}</title>', f'<desc id="{did}">{escape(description)}</desc>',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']
    for k in range(5):
        v = peak * k / 4
        y = y_of(v)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#d0d0d0" '
                     f'stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#333333">'
                     f'{escape(format_value(v))}</text>')
    # As many month labels as fit without touching, always the last.
    every = max(1, ceil(n * room / plot_w))
    for i, label in enumerate(labels):
        if (n - 1 - i) % every == 0:
            parts.append(f'<text x="{x_of(i):.1f}" y="{top + plot_h + 18}" text-anchor="middle" fill="#333333">'
                         f'{escape(label)}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
                 f'stroke="#333333" stroke-width="1"/>')
    for s, (colour, dash, shape) in zip(series, PALETTE, strict=False):
        points = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(s.values))
        dash_attr = "" if dash == "none" else f' stroke-dasharray="{dash}"'
        parts.append(f'<g><title>{escape(s.label)}</title><polyline points="{points}" fill="none" '
                     f'stroke="{colour}" stroke-width="2.5"{dash_attr}/>')
        parts.extend(_marker(shape, x_of(i), y_of(v), colour) for i, v in enumerate(s.values))
        parts.append("</g>")
    # One legend line per series, under the axis: long French labels never run into each other.
    for idx, (s, (colour, dash, shape)) in enumerate(zip(series, PALETTE, strict=False)):
        x, y = left, top + plot_h + 40 + idx * LEGEND_LINE
        dash_attr = "" if dash == "none" else f' stroke-dasharray="{dash}"'
        parts.append(f'<line x1="{x:.1f}" y1="{y - 4}" x2="{x + 28:.1f}" y2="{y - 4}" '
                     f'stroke="{colour}" stroke-width="2.5"{dash_attr}/>')
        parts.append(_marker(shape, x + 14, y - 4, colour))
        parts.append(f'<text x="{x + 34:.1f}" y="{y}" fill="#111111">{escape(s.label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def format_bytes(value: float, lang: str = "fr") -> str:
    """Sizes as people read them: « 1,2 Mo » in French, "1.2 MB" in English (decimal units,
    Babel's separators)."""
    units = ("o", "ko", "Mo", "Go", "To") if lang == "fr" else ("B", "kB", "MB", "GB", "TB")
    v, i = float(value), 0
    while abs(v) >= 1000 and i < len(units) - 1:
        v, i = v / 1000, i + 1
    pattern = "#,##0" if i == 0 or abs(v) >= 100 else "#,##0.0"
    return f"{format_decimal(v, format=pattern, locale=lang)} {units[i]}"


def attr(value: str) -> str:
    return quoteattr(value)


# The annual report's charts: one colour a bar, and a legend for the stacked series.
_TINTS = ("#1f5fa8", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0f766e", "#a16207", "#475569")


def bar_chart(title: str, labels: Sequence[str], values: Sequence[int], *, chart_id: str,
              width: int = 640, bar_height: int = 22) -> str:
    """Horizontal bars, one per label, with the value written at the end of each bar."""
    label_w = 230
    top = 28
    height = top + max(1, len(labels)) * (bar_height + 6) + 8
    peak = max(values, default=0) or 1
    span = width - label_w - 50
    desc = "; ".join(f"{label} : {value}" for label, value in zip(labels, values, strict=True)) or "Aucune donnée"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" aria-labelledby="{chart_id}-t {chart_id}-d" '
           f'font-family="system-ui, sans-serif" font-size="12">',
           f'<title id="{chart_id}-t">{escape(title)}</title>',
           f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
           f'<text x="0" y="16" font-weight="bold" fill="#111">{escape(title)}</text>']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * (bar_height + 6)
        w = round(span * value / peak)
        short = label if len(label) <= 34 else label[:33] + "…"
        out.append(f'<text x="0" y="{y + bar_height - 7}" fill="#111">{escape(short)}</text>')
        out.append(f'<rect x="{label_w}" y="{y}" width="{max(w, 1)}" height="{bar_height}" '
                   f'fill="{_TINTS[i % len(_TINTS)]}"/>')
        out.append(f'<text x="{label_w + w + 6}" y="{y + bar_height - 7}" fill="#111">{value}</text>')
    out.append("</svg>")
    return "".join(out)


def stacked_months(title: str, months: Sequence[str], series: Sequence[tuple[str, Sequence[int]]], *,
                   chart_id: str, width: int = 640, height: int = 240) -> str:
    """Columns per month, stacked by series (e.g. severity), with a legend."""
    left, bottom, top = 34, 40, 28
    plot_h = height - top - bottom
    n = max(1, len(months))
    col_w = (width - left - 10) / n
    totals = [sum(s[1][i] for s in series) for i in range(len(months))]
    peak = max(totals, default=0) or 1
    parts = []
    for name, vals in series:
        nonzero = [f"{m} {v}" for m, v in zip(months, vals, strict=True) if v]
        parts.append(f"{name} : " + (", ".join(nonzero) if nonzero else "aucun"))
    desc = "; ".join(parts) or "Aucune donnée"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" aria-labelledby="{chart_id}-t {chart_id}-d" '
           f'font-family="system-ui, sans-serif" font-size="11">',
           f'<title id="{chart_id}-t">{escape(title)}</title>',
           f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
           f'<text x="0" y="16" font-weight="bold" font-size="12" fill="#111">{escape(title)}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#555"/>',
           f'<text x="{left - 4}" y="{top + 10}" text-anchor="end" fill="#111">{peak}</text>',
           f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" fill="#111">0</text>']
    for i, month in enumerate(months):
        x = left + i * col_w + 2
        y: float = top + plot_h
        for j, (_, vals) in enumerate(series):
            h = plot_h * vals[i] / peak
            if h > 0:
                y -= h
                out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(col_w - 4, 1):.1f}" height="{h:.1f}" '
                           f'fill="{_TINTS[j % len(_TINTS)]}"/>')
        out.append(f'<text x="{x + col_w / 2 - 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                   f'fill="#111">{escape(month[5:])}</text>')
    lx = left
    for j, (name, _) in enumerate(series):
        out.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{_TINTS[j % len(_TINTS)]}"/>')
        out.append(f'<text x="{lx + 14}" y="{height - 5}" fill="#111">{escape(name)}</text>')
        lx += 14 + 7 * len(name) + 12
    out.append("</svg>")
    return "".join(out)

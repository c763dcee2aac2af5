"""Server-side SVG charts for the annual quality report: small, accessible (a ``title`` and
a ``desc`` that states the figures, ``role="img"``), no script, no external font or style.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

_PALETTE = ("#1f5fa8", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0f766e", "#a16207", "#475569")


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
                   f'fill="{_PALETTE[i % len(_PALETTE)]}"/>')
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
                           f'fill="{_PALETTE[j % len(_PALETTE)]}"/>')
        out.append(f'<text x="{x + col_w / 2 - 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                   f'fill="#111">{escape(month[5:])}</text>')
    lx = left
    for j, (name, _) in enumerate(series):
        out.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{_PALETTE[j % len(_PALETTE)]}"/>')
        out.append(f'<text x="{lx + 14}" y="{height - 5}" fill="#111">{escape(name)}</text>')
        lx += 14 + 7 * len(name) + 12
    out.append("</svg>")
    return "".join(out)

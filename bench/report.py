"""Presenting results: a Markdown table per scenario, the machine's description, and an SVG
chart of throughput and p99 delivery against the number of senders (no library: plain SVG)."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    try:
        pg = subprocess.run(["psql", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        pg = "?"
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gib": round(int(mem) / 2**20, 1), "kernel": platform.release(),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "postgresql": pg,
            "load_average_at_start": os.getloadavg()}


def _ms(d: dict[str, Any] | None) -> str:
    if not d or d.get("p50") is None:
        return "–"
    return f"{d['p50']} / {d['p95']} / {d['p99']}"


def _v(x: Any) -> str:
    return "–" if x is None else str(x)


def conversation_table(rows: list[dict[str, Any]]) -> str:
    head = ("| db | proc | senders | receivers | msg/s | ack ms p50/p95/p99 | delivery ms p50/p95/p99 | errors "
            "| server CPU-s/1k msg | DB CPU-s/1k msg | server RSS MiB | DB RSS MiB | WAL B/msg | WAL syncs/msg "
            "| wire B/msg | client CPU | load |\n|" + "---|" * 17)
    lines = [head]
    for r in rows:
        errs = sum(r["errors"].values())
        lines.append(f"| {r['database']} | {r['processes']} | {r['senders']} | {r['receivers']} | "
                     f"{r['throughput_msg_s']} | {_ms(r['ack_ms'])} | {_ms(r['delivery_ms'])} | {errs} | "
                     f"{r['server_cpu_s_per_1k']} | {_v(r['db_cpu_s_per_1k'])} | {r['server_rss_mib']} | "
                     f"{_v(r['db_rss_mib'])} | {_v(r['wal_bytes_per_msg'])} | {_v(r['wal_syncs_per_msg'])} | "
                     f"{_v(r['wire_bytes_per_msg'])} | {r['client_cpu_util']} | {_v(r.get('load_average'))} |")
    return "\n".join(lines)


def idle_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| db | connections | live | errors | stream compression | server RSS MiB | RSS B/conn "
             "| private B/conn |\n|" + "---|" * 8]
    for r in rows:
        lines.append(f"| {r['database']} | {r['connections']} | {r['live_on_server']} | {r['errors']} | "
                     f"{r['compression']} | {r['server_rss_mib']} | {r['bytes_per_connection']} | "
                     f"{r['anon_bytes_per_connection']} |")
    return "\n".join(lines)


def steady_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| db | messages | fill msg/s | errors | DB bytes/msg | history page ms p50/p95/p99 "
             "| search ms p50/p95/p99 |\n|" + "---|" * 7]
    for r in rows:
        lines.append(f"| {r['database']} | {r['messages']} | {r['fill_msg_s']} | {r['errors']} | "
                     f"{r['db_bytes_per_msg']} | {_ms(r['history_page_ms'])} | {_ms(r['search_ms'])} |")
    return "\n".join(lines)


def rest_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| db | server RSS at rest MiB | after load MiB |\n|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['database']} | {r['rss_at_rest_mib']} | {_v(r.get('rss_after_load_mib'))} |")
    return "\n".join(lines)


def render(results: dict[str, Any]) -> str:
    parts = [f"Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, "
             f"{results['machine']['memory_gib']} GiB; {results['machine']['date']}; "
             f"command: `{results['command']}`"]
    if results.get("rest"):
        parts.append(rest_table(results["rest"]))
    if results.get("conversation"):
        parts.append(conversation_table(results["conversation"]))
    if results.get("idle"):
        parts.append(idle_table(results["idle"]))
    if results.get("steady"):
        parts.append(steady_table(results["steady"]))
    return "\n\n".join(parts) + "\n"


# --- the chart ------------------------------------------------------------------------------
COLOURS = ["#1b6ca8", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#555555"]


def chart(series: dict[str, list[tuple[int, float, float]]], title: str) -> str:
    """Two panels side by side: throughput (msg/s) and p99 delivery (ms), against senders
    (log-2 axis). ``series`` maps a label to (senders, msg/s, p99 ms) points."""
    w, h, pad = 860, 360, 60
    panel_w = (w - 3 * pad) / 2
    xs = sorted({p[0] for pts in series.values() for p in pts}) or [1]
    import math

    def x_of(s: int, left: float) -> float:
        lo, hi = math.log2(xs[0]), math.log2(xs[-1])
        frac = 0.5 if hi == lo else (math.log2(s) - lo) / (hi - lo)
        return left + 20 + frac * (panel_w - 40)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
           f'font-family="sans-serif" font-size="12">',
           f'<title>{escape(title)}</title><rect width="{w}" height="{h}" fill="#fff"/>',
           f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>']
    panels = [(1, "messages/s (higher is better)"), (2, "p99 delivery, ms (lower is better)")]
    for panel, (idx, label) in enumerate(panels):
        left = pad + panel * (panel_w + pad)
        top, bottom = 40, h - 70
        budget = 1000.0 if idx == 1 else 100.0
        ymax = max([p[idx] for pts in series.values() for p in pts] + [budget]) * 1.1
        out.append(f'<rect x="{left}" y="{top}" width="{panel_w}" height="{bottom - top}" fill="none" stroke="#999"/>')
        out.append(f'<text x="{left + panel_w / 2}" y="{top - 6}" text-anchor="middle">{escape(label)}</text>')
        for k in range(5):
            v = ymax * k / 4
            y = bottom - (bottom - top) * k / 4
            out.append(f'<line x1="{left}" x2="{left + panel_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
            out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{v:.0f}</text>')
        for s in xs:
            out.append(f'<text x="{x_of(s, left):.1f}" y="{bottom + 16}" text-anchor="middle">{s}</text>')
        out.append(f'<text x="{left + panel_w / 2}" y="{bottom + 32}" text-anchor="middle">concurrent senders</text>')
        if idx == 2:
            y100 = bottom - (bottom - top) * min(100 / ymax, 1)
            out.append(f'<line x1="{left}" x2="{left + panel_w}" y1="{y100:.1f}" y2="{y100:.1f}" '
                       f'stroke="#c0392b" stroke-dasharray="4 3"/><text x="{left + panel_w - 4}" y="{y100 - 4:.1f}" '
                       f'text-anchor="end" fill="#c0392b">budget 100 ms</text>')
        else:
            y1k = bottom - (bottom - top) * min(1000 / ymax, 1)
            out.append(f'<line x1="{left}" x2="{left + panel_w}" y1="{y1k:.1f}" y2="{y1k:.1f}" '
                       f'stroke="#c0392b" stroke-dasharray="4 3"/><text x="{left + panel_w - 4}" y="{y1k - 4:.1f}" '
                       f'text-anchor="end" fill="#c0392b">budget 1,000/s</text>')
        for n, (_name, pts) in enumerate(sorted(series.items())):
            colour = COLOURS[n % len(COLOURS)]
            coords = [(x_of(p[0], left), bottom - (bottom - top) * (p[idx] / ymax)) for p in sorted(pts)]
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                       + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
            for x, y in coords:
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
    for n, name in enumerate(sorted(series)):
        colour = COLOURS[n % len(COLOURS)]
        x = pad + n * 200
        out.append(f'<rect x="{x}" y="{h - 22}" width="12" height="12" fill="{colour}"/>'
                   f'<text x="{x + 16}" y="{h - 12}">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def chart_from(results_files: list[Path], title: str) -> str:
    import json

    series: dict[str, list[tuple[int, float, float]]] = {}
    for path in results_files:
        data = json.loads(path.read_text())
        for r in data.get("conversation", []):
            if r["receivers"] > 50 or r["delivery_ms"]["p99"] is None:
                continue
            label = f"{r['database']}, {r['processes']} process{'es' if r['processes'] > 1 else ''}"
            points = series.setdefault(label, [])
            if all(p[0] != r["senders"] for p in points):  # the first file that measured a point wins
                points.append((r["senders"], r["throughput_msg_s"], r["delivery_ms"]["p99"]))
    return chart(series, title)

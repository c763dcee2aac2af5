"""What the kernel says about processes: CPU seconds, resident memory, bytes read and written.

Read from /proc, so it costs nothing in the measured processes and needs no agent in them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Sample:
    cpu_s: float
    rss_bytes: int
    rchar: int = 0
    wchar: int = 0
    write_bytes: int = 0

    def __sub__(self, other: Sample) -> Sample:
        return Sample(self.cpu_s - other.cpu_s, self.rss_bytes, self.rchar - other.rchar,
                      self.wchar - other.wchar, self.write_bytes - other.write_bytes)


def _stat(pid: int) -> tuple[str, float, int] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
    rss = int(fields[21]) * PAGE
    return comm, cpu, rss


def _io(pid: int) -> dict[str, int]:
    try:
        lines = Path(f"/proc/{pid}/io").read_text().splitlines()
    except OSError:
        return {}
    return {k: int(v) for k, v in (line.split(": ") for line in lines)}


def sample(pids: list[int]) -> Sample:
    """The sum over ``pids`` (CPU, RSS and I/O counters)."""
    cpu = 0.0
    rss = rchar = wchar = wbytes = 0
    for pid in pids:
        st = _stat(pid)
        if st is None:
            continue
        cpu += st[1]
        rss += st[2]
        io = _io(pid)
        rchar += io.get("rchar", 0)
        wchar += io.get("wchar", 0)
        wbytes += io.get("write_bytes", 0)
    return Sample(cpu, rss, rchar, wchar, wbytes)


def pids_named(name: str) -> list[int]:
    """Every process whose command name is ``name`` (e.g. all PostgreSQL back-ends)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None and st[0] == name:
                out.append(int(entry))
    return out


def rss_anon(pid: int) -> int:
    """Private resident memory: what a process costs beyond shared libraries and shared buffers."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0

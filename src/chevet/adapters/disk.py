"""Free space on the filesystem that holds a file or a folder: a full disk is reported as an
unavailable dependency by the readiness checks, before the next write fails on it."""

from __future__ import annotations

import os
from pathlib import Path

# Below this, the next transaction or file may not fit: report not ready.
MIN_FREE_BYTES = 1_048_576


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use where ``path`` lives (its nearest existing
    parent when it does not exist yet)."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    stat = os.statvfs(existing)
    return stat.f_bavail * stat.f_frsize


def has_room(path: Path) -> bool:
    return free_bytes(path) >= MIN_FREE_BYTES

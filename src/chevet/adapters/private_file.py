"""Reading a secret kept in a file (master key, audit key): it must exist and be readable by its
owner only."""

from __future__ import annotations

import stat
from pathlib import Path


def read_private(path: Path, what: str, error: type[Exception]) -> str:
    """The file's text; ``error`` with a sentence for the operator if it is missing or if other
    users may read it."""
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except FileNotFoundError as exc:
        raise error(f"{what} not found: {path} (run `chevet init`)") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise error(f"{what} {path} is readable by others: chmod 600 it")
    return text

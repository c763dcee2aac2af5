"""Where the console's operations keep their files: ``<data folder>/operations/`` (0700, each
file 0600): the archives uploaded to import, the produced exports and backups (encrypted)."""

from __future__ import annotations

import uuid
from pathlib import Path

from chevet.settings import Settings


def operations_folder(settings: Settings) -> Path:
    path = settings.data_dir / "operations"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def input_path(settings: Settings, op_id: uuid.UUID | str) -> Path:
    """Where the web layer stores an uploaded archive to import."""
    return operations_folder(settings) / f"{op_id}.import"

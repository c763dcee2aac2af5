"""The uploaded staff file between the dry run and "Importer": kept on the server, not sent
back through the page (up to 5 MiB), in the data folder, mode 0600, under a random token and
the uploader's id (another administrator cannot apply it), deleted once applied or after an hour."""

from __future__ import annotations

import os
import re
import secrets
import time
import uuid
from pathlib import Path

from chevet.bootstrap import data_path
from chevet.settings import Settings

LIFETIME_SECONDS = 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")


def _folder(settings: Settings) -> Path:
    path = data_path(settings, "staff-import")
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _path(settings: Settings, person_id: uuid.UUID, token: str) -> Path | None:
    if not _TOKEN.match(token):
        return None
    return _folder(settings) / f"{person_id.hex}.{token}.csv"


def sweep(settings: Settings) -> None:
    """Forget the files older than an hour (never applied)."""
    limit = time.time() - LIFETIME_SECONDS
    for path in _folder(settings).glob("*.csv"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)
        except OSError:
            continue


def keep(settings: Settings, person_id: uuid.UUID, data: bytes) -> str:
    sweep(settings)
    token = secrets.token_urlsafe(24)
    path = _path(settings, person_id, token)
    assert path is not None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return token


def take(settings: Settings, person_id: uuid.UUID, token: str) -> bytes | None:
    """The kept file, once: it is deleted as it is read. None when unknown or expired."""
    sweep(settings)
    path = _path(settings, person_id, token)
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    path.unlink(missing_ok=True)
    return data

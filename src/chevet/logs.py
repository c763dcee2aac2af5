"""Structured logs: one JSON object per line on standard error. Callers pass identifiers and
counts in ``extra``; message content, file names and patient identifiers are never logged."""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

import orjson

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"at": datetime.fromtimestamp(record.created, UTC).isoformat(),
                                "level": record.levelname, "logger": record.name, "event": record.getMessage()}
        data.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info and record.exc_info[1] is not None:
            data["traceback"] = frames(record.exc_info[1])
        return orjson.dumps(data, default=str).decode()


def frames(exc: BaseException) -> list[str]:
    """Where an exception came from, innermost last: file, line and function of each frame,
    for each exception in its chain. Never the exception's message, the source lines or local
    values: those may hold what a user typed."""
    out: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        out[:0] = [f"{type(current).__name__}"] + [f"{f.filename}:{f.lineno} {f.name}"
                                                  for f in traceback.extract_tb(current.__traceback__)]
        current = current.__cause__ or current.__context__
    return out


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True

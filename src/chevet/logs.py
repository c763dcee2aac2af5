"""Structured logs: one JSON object per line on standard error. Callers pass identifiers and
counts in ``extra``; message content, file names, patient identifiers and secrets are never logged.

Only Chevet's own loggers follow ``log_level``. The libraries' loggers stay at WARNING whatever
it is: at DEBUG or INFO they print what must not reach a log (the database drivers their SQL
parameters, httpx and websockets whole URLs and headers with their tokens and cookies). uvicorn's
server messages (start, stop) stay at INFO at most. As a last line of defence every record is
redacted on its way out: query strings, ``Bearer`` credentials and cookie values."""

from __future__ import annotations

import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

import orjson

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
OWN = "chevet"
SERVER = ("uvicorn", "uvicorn.error")
LIBRARIES = logging.WARNING

# What a secret looks like once in a line of text: a URL's query string, an Authorization or
# Cookie value, a ``token=`` parameter wherever it is.
_SECRETS = [
    (re.compile(r"(?<=[\w/.%-])\?[^\s\"'<>]*"), "?[redacted]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+"), r"\1 [redacted]"),
    (re.compile(r"(?i)\b((?:set-)?cookie:\s*)[^\r\n\"]+"), r"\1[redacted]"),
    (re.compile(r"(?i)\b([\w-]*(?:token|session|password|otp|secret|code)=)[^\s&;\"']+"), r"\1[redacted]"),
]


def redact(text: str) -> str:
    """``text`` without what looks like a secret (see ``_SECRETS``)."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _clean(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"at": datetime.fromtimestamp(record.created, UTC).isoformat(),
                                "level": record.levelname, "logger": record.name,
                                "event": redact(record.getMessage())}
        data.update({k: _clean(v) for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info and record.exc_info[1] is not None:
            data["traceback"] = frames(record.exc_info[1])
        return orjson.dumps(data, default=lambda v: redact(str(v))).decode()


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
    root.setLevel(LIBRARIES)
    logging.getLogger(OWN).setLevel(level)
    server_level = max(logging.getLevelName(level), logging.INFO)
    for name in SERVER:
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
        logging.getLogger(name).setLevel(server_level)
    logging.getLogger("uvicorn.access").disabled = True

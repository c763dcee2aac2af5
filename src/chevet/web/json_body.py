"""JSON request bodies read strictly (RFC 8259): a name given twice in one object is refused,
not silently resolved to its last value (``{"quota": 100, "quota": false}`` would otherwise
mean whichever one a parser keeps), and ``NaN``/``Infinity`` are not JSON. Every JSON route
goes through here: FastAPI's routes through the ``strict_json`` dependency, the fast send
route and the JSON part of a multipart filing through ``validated``."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

class _Duplicate(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _Duplicate(name)
            seen.add(name)
    return obj


def _names_written(text: bytes) -> int:
    """How many names a valid JSON text writes, with byte operations only. Backslashes occur only
    in escapes inside strings: dropping escaped backslashes, then escaped quotes, leaves quotes
    that only open and close strings; a string followed by a colon is a name."""
    if b"\\" in text:
        text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    return sum(1 for outside in text.split(b'"')[2::2] if outside.lstrip()[:1] == b":")


def _names_kept(value: Any) -> int:
    count, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            count += len(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return count


def _invalid(position: int) -> RequestValidationError:
    # The same error FastAPI raises for a body it cannot decode: answered 400 json_invalid.
    return RequestValidationError([{"type": "json_invalid", "loc": ("body", position), "msg": "JSON decode error",
                                    "input": {}, "ctx": {"error": "JSON decode error"}}])


def parse(raw: bytes | str) -> Any:
    """The decoded body; ``RequestValidationError`` (answered as a problem) when it is not
    strict JSON: orjson refuses NaN, Infinity, numbers beyond 64 bits, lone surrogates and bad
    UTF-8, and a name given twice shows as fewer names kept than written. Counting the names
    written takes a few byte operations: the send path pays microseconds, not a second parse
    in Python."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _invalid(exc.pos) from None
    if isinstance(value, (dict, list)):
        text = raw.encode() if isinstance(raw, str) else raw
        if _names_written(text) != _names_kept(value):
            try:  # only now, to name the field: the lenient parser with a check on each object
                json.loads(text, object_pairs_hook=_unique_names)
            except _Duplicate as dup:
                raise RequestValidationError([{"type": "duplicate_name", "loc": ("body", dup.name),
                                               "msg": "Duplicate name", "input": None}]) from None
    return value


MISSING = object()
"""An empty body: for validation, a body that was not given."""


def decode(raw: bytes, content_type: str | None) -> Any:
    """What FastAPI hands its body validation, decoded strictly: ``MISSING`` for an empty body,
    the JSON value for a JSON media type, the bytes themselves for any other (which no model
    accepts)."""
    if not raw:
        return MISSING
    return parse(raw) if is_json(content_type) else raw


def validated(model: type[M], decoded: Any) -> M:
    """A decoded body validated as FastAPI validates a body parameter (Python mode, errors
    located under ``body``), so that a route reading its own body answers exactly as a
    declared one."""
    if decoded is MISSING:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required",
                                       "input": None}])
    try:
        return model.model_validate(decoded, from_attributes=True)  # as FastAPI calls it
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


def is_json(content_type: str | None) -> bool:
    """FastAPI's rule: a JSON media type (``application/json``, ``application/*+json``) must be
    declared; a body without one is not read as JSON."""
    if not content_type:
        return False
    media = content_type.partition(";")[0].strip().lower()
    main, _, sub = media.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


async def strict_json(request: Request) -> None:
    """Router dependency: refuses a JSON body that FastAPI's lenient decoder accepted but that
    is not strict JSON. Routes without a body parameter (uploads, GETs) are not read here."""
    route = request.scope.get("route")
    if getattr(route, "body_field", None) is None or not is_json(request.headers.get("content-type")):
        return
    raw = await request.body()  # already read (and kept) by FastAPI
    if raw:
        parse(raw)

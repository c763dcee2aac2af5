"""JSON request bodies read strictly (RFC 8259): a name given twice in one object is refused,
not silently resolved to its last value (``{"quota": 100, "quota": false}`` would otherwise
mean whichever one a parser keeps), and ``NaN``/``Infinity`` are not JSON. Every JSON route
goes through here: FastAPI's routes through the ``strict_json`` dependency, the fast send
route and the JSON part of a multipart filing through ``validated``."""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

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


def _not_json(constant: str) -> Any:
    raise ValueError(constant)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: a number no JSON peer can represent
        raise ValueError(text)
    return value


def _invalid(position: int) -> RequestValidationError:
    # The same error FastAPI raises for a body it cannot decode: answered 400 json_invalid.
    return RequestValidationError([{"type": "json_invalid", "loc": ("body", position), "msg": "JSON decode error",
                                    "input": {}, "ctx": {"error": "JSON decode error"}}])


def parse(raw: bytes | str) -> Any:
    """The decoded body; ``RequestValidationError`` (answered as a problem) when it is not
    strict JSON."""
    try:
        return json.loads(raw, object_pairs_hook=_unique_names, parse_constant=_not_json, parse_float=_finite)
    except _Duplicate as exc:
        raise RequestValidationError([{"type": "duplicate_name", "loc": ("body", exc.name),
                                       "msg": "Duplicate name", "input": None}]) from None
    except json.JSONDecodeError as exc:
        raise _invalid(exc.pos) from None
    except (ValueError, RecursionError):  # a refused constant, bad UTF-8, nesting too deep
        raise _invalid(0) from None


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
        return model.model_validate(decoded)
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

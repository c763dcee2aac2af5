"""Errors as RFC 9457 problem details, in the caller's language. Nothing from outside may
produce a 500: unexpected exceptions are logged (without content) and answered generically.

A part the installation depends on that does not answer (database, bus, blob store) is a 503
with ``Retry-After`` and one log line, no traceback: pages get a small page, scripts and the API
a problem. A client that went away mid-request is not an error at all."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import anyio
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from chevet.core import errors
from chevet.ports import DependencyUnavailable
from chevet.web.i18n import gettext, negotiate

log = logging.getLogger("chevet.web")

STATUS: list[tuple[type[errors.ChevetError], int]] = [
    (errors.InvalidInput, 422),
    (errors.NotFound, 404),
    (errors.Forbidden, 403),
    (errors.Conflict, 409),
    (errors.AuthenticationFailed, 401),
    (errors.LockedOut, 429),
    (errors.TooLarge, 413),
    (errors.IntegrityError, 500),
    (errors.Unavailable, 503),
]

UNAVAILABLE_RETRY = 5  # seconds: Retry-After of a service the request needed that did not answer
_HTTP_CODES = {400: "bad_request", 401: "authentication_required", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 413: "request_too_large",
               415: "unsupported_media_type", 429: "rate_limited"}


class Problem(BaseModel):
    """The shape of every refusal (``problem_document``), for the OpenAPI document."""

    model_config = ConfigDict(extra="allow", title="Problem",
                              json_schema_extra={"description": "RFC 9457 problem details; a refusal's parameters "
                                                                "(``max``, ``remaining``…) come along as members."})
    type: str = Field(description="``about:blank#`` and the code")
    title: str = Field(description="The status, in the caller's language")
    status: int
    code: str = Field(description="What went wrong, for programs: stable, not translated")
    detail: str = Field(description="What went wrong, for people, in the caller's language")
    errors: list[str] = Field(default=[], description="request_invalid: one sentence per wrong field")
    fields: list[str] = Field(default=[], description="request_invalid: the wrong fields' names")


def route_of(scope: Mapping[str, Any]) -> str:
    """The route's template (``/invitations/{token}``) for a log line, never the path: paths
    carry invitation codes."""
    return str(getattr(scope.get("route"), "path", "?"))


def problem_document(status: int, code: str, lang: str, **extra: Any) -> bytes:
    """The RFC 9457 body of every refusal, from the routes, the middlewares and the server."""
    body: dict[str, Any] = {"type": f"about:blank#{code}", "title": gettext(f"title.{status}", lang),
                            "status": status, "code": code, "detail": gettext(code, lang, **extra)}
    body.update({k: v for k, v in extra.items() if isinstance(v, (int, str, list))})
    return orjson.dumps(body)


def language(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"))


def problem(request: Request, status: int, code: str, headers: dict[str, str] | None = None,
            **extra: Any) -> Response:
    lang = language(request)
    return Response(problem_document(status, code, lang, **extra), status_code=status,
                    media_type="application/problem+json", headers={"Content-Language": lang, **(headers or {})})


def wants_page(request: Request) -> bool:
    """A browser navigating (or posting a form) to a page, not a script or an API client."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def unavailable(request: Request, exc: DependencyUnavailable) -> Response:
    headers = {"Retry-After": str(exc.retry_after)}
    if wants_page(request):
        from chevet.web.pages.page import unavailable_page  # the pages import this module

        response = unavailable_page(request, exc.dependency)
        response.headers.update(headers)
        return response
    return problem(request, 503, f"{exc.dependency}_unavailable", headers)


def status_of(exc: errors.ChevetError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


# Pydantic's error types (and ours: json_body, api.models), grouped by what a person must fix.
_FIELD_MESSAGES = {
    "missing": "field.missing", "extra_forbidden": "field.unknown", "duplicate_name": "field.duplicate",
    "int_type": "field.integer", "int_parsing": "field.integer", "int_from_float": "field.integer",
    "bool_type": "field.boolean", "bool_parsing": "field.boolean", "string_type": "field.text",
    "float_type": "field.number", "float_parsing": "field.number", "list_type": "field.list",
    "dict_type": "field.object", "model_type": "field.object", "model_attributes_type": "field.object",
    "id_type": "field.id", "uuid_type": "field.id", "uuid_parsing": "field.id", "uuid_version": "field.id",
    "moment_type": "field.moment", "timezone_aware": "field.moment", "datetime_type": "field.moment",
    "datetime_parsing": "field.moment", "datetime_from_date_parsing": "field.moment",
    "string_too_long": "field.too_long", "too_long": "field.too_long",
    "string_too_short": "field.too_short", "too_short": "field.too_short",
    "greater_than": "field.range", "greater_than_equal": "field.range", "less_than": "field.range",
    "less_than_equal": "field.range", "enum": "field.choice", "literal_error": "field.choice",
}


def _field_name(loc: Any) -> str:
    """``member_ids[2]`` rather than pydantic's ("body", "member_ids", 2)."""
    name = ""
    for part in loc:
        if part in ("body", "query", "path", "header", "cookie") and not name:
            continue
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else str(part)
    return name


def _received(value: Any, lang: str) -> str:
    """What kind of JSON value came, never the value itself (it may be care data)."""
    kind = ("null" if value is None else "boolean" if isinstance(value, bool)
            else "number" if isinstance(value, (int, float)) else "text" if isinstance(value, str)
            else "list" if isinstance(value, list) else "object" if isinstance(value, dict) else "other")
    return gettext(f"json.{kind}", lang)


def _field_errors(exc: RequestValidationError, lang: str) -> tuple[list[str], list[str]]:
    """One sentence per wrong field, saying what it must be and what kind of value came, and the
    fields' names for programs."""
    out, names = [], []
    for err in exc.errors()[:10]:
        name = _field_name(err.get("loc", ())) or "body"
        key = _FIELD_MESSAGES.get(str(err.get("type", "")), "field.invalid")
        out.append(gettext(key, lang, field=name, received=_received(err.get("input"), lang)))
        names.append(name)
    return out, names


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.ChevetError)
    async def _domain(request: Request, exc: errors.ChevetError) -> Response:
        status = status_of(exc)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, errors.LockedOut) \
            else {"Retry-After": str(UNAVAILABLE_RETRY)} if isinstance(exc, errors.Unavailable) else None
        if status >= 500 and not isinstance(exc, errors.Unavailable):
            log.error("integrity failure", extra={"code": exc.code, "route": route_of(request.scope)})
        return problem(request, status, exc.code, headers, **exc.params)

    @app.exception_handler(DependencyUnavailable)
    async def _unavailable(request: Request, exc: DependencyUnavailable) -> Response:
        cause = exc.__cause__
        log.warning("dependency unavailable", extra={"dependency": exc.dependency, "route": route_of(request.scope),
                                                     "error": type(cause).__name__ if cause else None})
        return unavailable(request, exc)

    @app.exception_handler(ClientDisconnect)
    @app.exception_handler(anyio.EndOfStream)
    async def _gone(request: Request, exc: Exception) -> Response:
        # Nobody reads this answer; the access log records it as 499, nginx's "client closed".
        log.info("client went away", extra={"route": route_of(request.scope)})
        return Response(status_code=499)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        lang = language(request)
        json_broken = any(e.get("type") == "json_invalid" for e in exc.errors())
        if json_broken:
            return problem(request, 400, "json_invalid")
        messages, fields = _field_errors(exc, lang)
        return problem(request, 422, "request_invalid", errors=messages, fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = exc.detail if isinstance(exc.detail, str) and exc.detail in _HTTP_CODES.values() \
            else _HTTP_CODES.get(exc.status_code, "error")
        return problem(request, exc.status_code, code, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # With its traceback (frames only: see logs.frames), so that the bug can be found.
        log.error("unexpected error", extra={"route": route_of(request.scope), "error": type(exc).__name__},
                  exc_info=exc)
        return problem(request, 500, "internal_error")

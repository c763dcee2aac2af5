"""Errors as RFC 9457 problem details, in the caller's language. Nothing from outside may
produce a 500: unexpected exceptions are logged (without content) and answered generically."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from chevet.core import errors
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

_HTTP_CODES = {400: "bad_request", 401: "authentication_required", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 413: "request_too_large",
               415: "unsupported_media_type", 429: "rate_limited"}


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


def status_of(exc: errors.ChevetError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def _field_errors(exc: RequestValidationError, lang: str) -> list[str]:
    out = []
    for err in exc.errors()[:10]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        kind = str(err.get("type", ""))
        key = "field.missing" if kind == "missing" else "field.json" if kind == "json_invalid" else "field.invalid"
        out.append(gettext(key, lang, field=loc or "body"))
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.ChevetError)
    async def _domain(request: Request, exc: errors.ChevetError) -> Response:
        status = status_of(exc)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, errors.LockedOut) else None
        if status >= 500:
            log.error("integrity failure", extra={"code": exc.code, "route": route_of(request.scope)})
        return problem(request, status, exc.code, headers, **exc.params)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        lang = language(request)
        json_broken = any(e.get("type") == "json_invalid" for e in exc.errors())
        if json_broken:
            return problem(request, 400, "json_invalid")
        return problem(request, 422, "request_invalid", errors=_field_errors(exc, lang))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = exc.detail if isinstance(exc.detail, str) and exc.detail in _HTTP_CODES.values() \
            else _HTTP_CODES.get(exc.status_code, "error")
        return problem(request, exc.status_code, code, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error", extra={"route": route_of(request.scope), "error": type(exc).__name__},
                  exc_info=(type(exc), exc, None))
        return problem(request, 500, "internal_error")

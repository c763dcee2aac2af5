"""Errors as RFC 9457 problem details, in the caller's language. Nothing from outside may
produce a 500: unexpected exceptions are logged (without content) and answered generically.

A part the installation depends on that does not answer (database, bus, blob store) is a 503
with ``Retry-After`` and one log line, no traceback: pages get a small page, scripts and the API
a problem. A client that went away mid-request is not an error at all."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
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


def language(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"))


def problem(request: Request, status: int, code: str, headers: dict[str, str] | None = None,
            **extra: Any) -> Response:
    lang = language(request)
    body: dict[str, Any] = {"type": f"about:blank#{code}", "title": gettext(f"title.{status}", lang),
                            "status": status, "code": code, "detail": gettext(code, lang, **extra)}
    body.update({k: v for k, v in extra.items() if isinstance(v, (int, str, list))})
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json",
                    headers={"Content-Language": lang, **(headers or {})})


def wants_page(request: Request) -> bool:
    """A browser navigating (or posting a form) to a page, not a script or an API client."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def unavailable(request: Request, exc: DependencyUnavailable) -> Response:
    headers = {"Retry-After": str(exc.retry_after)}
    if wants_page(request):
        from chevet.web.ui.render import unavailable_page  # the pages import this module

        response = unavailable_page(request)
        response.headers.update(headers)
        return response
    return problem(request, 503, f"{exc.dependency}_unavailable", headers)


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
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, errors.LockedOut) \
            else {"Retry-After": str(UNAVAILABLE_RETRY)} if isinstance(exc, errors.Unavailable) else None
        if status >= 500 and not isinstance(exc, errors.Unavailable):
            log.error("integrity failure", extra={"code": exc.code, "path": request.url.path})
        return problem(request, status, exc.code, headers, **exc.params)

    @app.exception_handler(DependencyUnavailable)
    async def _unavailable(request: Request, exc: DependencyUnavailable) -> Response:
        cause = exc.__cause__
        log.warning("dependency unavailable", extra={"dependency": exc.dependency, "path": request.url.path,
                                                     "error": type(cause).__name__ if cause else None})
        return unavailable(request, exc)

    @app.exception_handler(ClientDisconnect)
    @app.exception_handler(anyio.EndOfStream)
    async def _gone(request: Request, exc: Exception) -> Response:
        # Nobody reads this answer; the access log records it as 499, nginx's "client closed".
        log.info("client went away", extra={"path": request.url.path})
        return Response(status_code=499)

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
        # With its traceback (frames only: see logs.frames), so that the bug can be found.
        log.error("unexpected error", extra={"path": request.url.path, "error": type(exc).__name__}, exc_info=exc)
        return problem(request, 500, "internal_error")

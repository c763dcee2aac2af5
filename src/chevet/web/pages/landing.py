"""Where a browser lands after signing in: always a page.

The sign-in form carries the address the person was sent away from (``next``). When a session
ended under a form post or a script's request, that address is a POST-only route
(``/c/<id>/send``) or an API route: following it after sign-in would answer 405 or JSON to a
person. So the address is kept only when a page answers it with GET; otherwise its last
segments are dropped until one does (``/c/<id>/send`` → ``/c/<id>``, where the draft waits in
the composer), and anything under ``/api/`` lands on the list."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request
from starlette.routing import BaseRoute, Match

from chevet.web.pages.page import safe_next

NOT_PAGES = ("/api/", "/static/", "/identity/", "/auth/")
FILE_SUFFIXES = (".js", ".json", ".webmanifest", ".css", ".svg", ".png", ".ico", ".txt", ".xml")


def _is_page(routes: list[BaseRoute], path: str) -> bool:
    if path.startswith(NOT_PAGES) or path.endswith(FILE_SUFFIXES):
        return False
    scope = {"type": "http", "path": path, "method": "GET", "root_path": "", "headers": []}
    for route in routes:  # routes, or routers included whole: each says whether it answers
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return True
    return False


def landing(request: Request, target: str | None) -> str:
    """A local address that a page answers with GET: ``target`` itself, or the nearest page above it."""
    wanted = safe_next(target)
    parts = urlsplit(wanted)
    routes = list(request.app.router.routes)
    if _is_page(routes, parts.path):
        return wanted
    path = parts.path.rstrip("/")
    while path:
        path = path.rsplit("/", 1)[0]
        if path and _is_page(routes, path):
            return path
    return "/"

"""The client's static files, served by Chevet itself (no CDN): fingerprinted URLs cached for a
year, the service worker and the manifest at fixed URLs revalidated on every use."""

from __future__ import annotations

import mimetypes
import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.web.pages.page import CLIENT, FINGERPRINTS, STATIC, STATIC_FILES, page, static_url, ui

router = APIRouter(include_in_schema=False)

IMMUTABLE = "public, max-age=31536000, immutable"
_STATIC_REF = re.compile(r'/static/([A-Za-z0-9._-]+)(?=")')  # the manifest's icons, given their fingerprint
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
         ".webmanifest": "application/manifest+json",
         ".png": "image/png"}


def _file(name: str, cache: str) -> Response:
    data = STATIC_FILES.get(name)
    if data is None:
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    suffix = "." + name.rsplit(".", 1)[-1]
    media = TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(data, media_type=media,
                    headers={"Cache-Control": cache, "ETag": f'"{FINGERPRINTS[name]}"'})


@router.get("/static/{version}/{name}")
async def static_file(version: str, name: str) -> Response:
    if FINGERPRINTS.get(name) != version:
        return _file(name, "no-cache")
    return _file(name, IMMUTABLE)


def _outbox_core() -> str:
    """The offline outbox's storage and sending, written once in the client's outbox part and
    used by the service worker too (a reply from a notification, background sync)."""
    part = (CLIENT / "15-outbox.js").read_text()
    start, end = part.index("// <outbox-core>"), part.index("// </outbox-core>")
    return part[start:end]


def _service_worker() -> str:
    """The worker names the fingerprinted shell to cache; its version changes with any static file."""
    shell = [static_url(n) for n in ("chevet.css", "chevet.js", "icons.svg", "logo.svg")] + ["/offline"]
    version = "-".join(FINGERPRINTS.get(n, "0") for n in sorted(FINGERPRINTS))[:200]
    return ((STATIC / "sw.js").read_text().replace("/*SHELL*/[]", repr(shell).replace("'", '"'))
            .replace("__VERSION__", version).replace("/*OUTBOX*/", _outbox_core()))


# Both are fixed for the life of the process: built once, not on every request.
SERVICE_WORKER = _service_worker()
MANIFEST = _STATIC_REF.sub(lambda m: static_url(m.group(1)), (STATIC / "manifest.webmanifest").read_text())


@router.get("/sw.js")
async def service_worker() -> Response:
    """At the root so that it controls every page."""
    return Response(SERVICE_WORKER, media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})


@router.get("/manifest.webmanifest")
async def manifest(request: Request) -> Response:
    return Response(MANIFEST, media_type="application/manifest+json", headers={"Cache-Control": "no-cache"})


@router.get("/favicon.ico")
async def favicon() -> Response:
    return _file("logo.svg", "public, max-age=86400")


@router.get("/offline")
@ui
async def offline(request: Request) -> Response:
    """The page the service worker shows when the network is gone: no content, only a notice."""
    p = await page(request, signed_in=False)
    response = p.render("offline.html")
    response.headers["Cache-Control"] = "no-cache"
    return response

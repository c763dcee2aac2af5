"""The ASGI application factory."""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, WebSocket
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

import chevet
import chevet.web.api
from chevet.app import readiness
from chevet.app.attachments.config import UPLOAD_PIECE_BYTES
from chevet.app.services import Services
from chevet.bootstrap import Installation, metrics_token
from chevet.bootstrap.mssante import load_gateway
from chevet.core.entities import RealtimeEvent
from chevet.ports import DependencyUnavailable
from chevet.web import json_body, problems
from chevet.web.api import conversations as conversations_api
from chevet.web.api import openapi
from chevet.web.api.attachments import PIECE_PATH, UPLOAD_PATH
from chevet.web.api.reports import FILING_PATHS
from chevet.web.compression import Compression
from chevet.web.metrics import MetricsListener, RouteTemplates, add_route
from chevet.web.middleware import RequestLimits, SecurityHeaders
from chevet.web.pages.mssante import EXCHANGE_FORM_PATH
from chevet.web.pages.operations import IMPORT_BODY_BYTES, IMPORT_PATH
from chevet.web.pages.rosters import UPLOAD_BODY_BYTES as ROSTER_IMPORT_BODY_BYTES
from chevet.web.pages.rosters import UPLOAD_FORM_PATH as ROSTER_IMPORT_PATH
from chevet.web.pages.staff_import import UPLOAD_BODY_BYTES as STAFF_IMPORT_BODY_BYTES
from chevet.web.pages.staff_import import UPLOAD_FORM_PATH as STAFF_IMPORT_PATH
from chevet.web.ratelimit import RateLimiter
from chevet.web.realtime.notifier import Notifier
from chevet.web.realtime.stream import STREAM_PATH, Hub, stream
from chevet.web.responses import Json
from chevet.web.sessioncache import ForgetOnChange, SessionCache

log = logging.getLogger("chevet")
API_PREFIX = "/api/v1"


def api_routers() -> list[APIRouter]:
    """Every ``chevet.web.api.<module>.router``: a feature adds its module, nothing else."""
    routers = []
    for info in sorted(pkgutil.iter_modules(chevet.web.api.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"chevet.web.api.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            routers.append(router)
    return routers


def page_routers() -> list[APIRouter]:
    """Every ``chevet.web.pages.<module>.router``: the server-rendered pages."""
    import chevet.web.pages

    routers = []
    for info in sorted(pkgutil.iter_modules(chevet.web.pages.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"chevet.web.pages.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            routers.append(router)
    return routers


async def _schema(services: Services) -> str | None:
    """The schema revision, for /healthz; None when the database does not answer at start-up."""
    try:
        async with asyncio.timeout(readiness.CHECK_TIMEOUT):
            return await services.db.revision()
    except (DependencyUnavailable, TimeoutError):
        return None


class ChevetApp(FastAPI):
    """The application. The realtime stream is dispatched before the middleware stack: its
    layers only act on HTTP, yet each would stay on the stack of every open connection for its
    whole life (memory per idle connection, DESIGN.md §6)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == STREAM_PATH:
            scope["app"] = self
            await stream(WebSocket(scope, receive, send))
            return
        await super().__call__(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            openapi.complete(super().openapi())
        return super().openapi()


def _metrics_listener(installation: Installation) -> MetricsListener | None:
    m = installation.settings.metrics
    if not m.enabled:
        return None
    if m.address is None and m.token_file is None:
        log.warning("metrics enabled without metrics.listen nor metrics.token_file: no endpoint")
    return MetricsListener(installation.services.metrics, *m.address) if m.address is not None else None


def create_app(installation: Installation) -> FastAPI:
    """The application. Raises ``SettingsError`` on an unusable ``mssante.toml``: a server that
    starts must be able to run its gateway."""
    settings = installation.settings
    services = installation.services
    mssante_runtime = load_gateway(settings)
    metrics = services.metrics
    hub = Hub(metrics)
    metrics.watch_connections(lambda: hub.connections)
    listener = _metrics_listener(installation)
    token = metrics_token(settings)
    notifier = Notifier(services, installation.push) if installation.push and settings.push.services else None

    def deliver(event: RealtimeEvent) -> None:
        hub.deliver(event)
        if notifier is not None:
            notifier.offer(event)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from chevet import jobs

        if notifier is not None:
            notifier.start()
        await services.bus.start(deliver, hub.bus_returned)
        app.state.schema = await _schema(services)
        if listener is not None:
            await listener.start()  # a listener configured but not free stops the start-up
        tasks = jobs.start_all(installation)
        gateway = await jobs.start_gateway(installation, mssante_runtime)
        log.info("chevet started", extra={"version": chevet.__version__, "mssante_gateway": gateway is not None})
        try:
            yield
        finally:
            if gateway is not None:
                await gateway.stop()
            if notifier is not None:
                await notifier.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await jobs.final_checkpoint(installation)
            if listener is not None:
                await listener.stop()
            await installation.close()

    app = ChevetApp(title="Chevet", version=chevet.__version__, lifespan=lifespan,
                  openapi_url="/api/openapi.json", docs_url=None, redoc_url=None,
                  default_response_class=Json,
                  description="Secure messaging for care teams. Errors are RFC 9457 problem details.")
    app.state.services = services
    app.state.schema = None
    app.state.settings = settings
    app.state.hub = hub
    app.state.mssante_runtime = mssante_runtime
    app.state.push_gateway = installation.push
    app.state.login_limiter = RateLimiter(settings.sign_in.attempts_per_minute_per_ip)
    app.state.session_cache = SessionCache(settings.sessions.cache_seconds)
    problems.install(app)

    # Each feature router is included once, with the prefix: every level of inclusion is
    # walked again by FastAPI's route matching on every request.
    for router in api_routers():
        openapi.declare_refusals(router)
        app.include_router(router, prefix=API_PREFIX, dependencies=[Depends(json_body.strict_json)])
    app.router.routes[:0] = conversations_api.fast_routes
    if token is not None:
        add_route(app, metrics, token)
    for router in page_routers():
        app.include_router(router)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, Any]:
        """Liveness: the process answers. Asks nothing of the database, so an outage there does
        not get a live server restarted; ``schema`` is the revision read at start-up."""
        return {"status": "ok", "version": chevet.__version__, "schema": app.state.schema,
                "realtime_connections": hub.connections}

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "a part is not ready"}})
    async def readyz() -> Response:
        """Readiness: the database, the bus and the blob store, each ``ok`` or ``unavailable``;
        503 with ``Retry-After`` when one is not ready. Names parts, never hosts."""
        state = await readiness.readiness(services)
        parts = {"database": state.database, "bus": state.bus, "blob_store": state.blob_store}
        body = {"status": "ready" if state.ready else "unavailable",
                "checks": {k: "ok" if v else "unavailable" for k, v in parts.items()}}
        if state.ready:
            return Json(body)
        return Json(body, status_code=503, headers={"Retry-After": str(problems.UNAVAILABLE_RETRY)})

    # Multipart framing around the file gets 64 KiB on top of the attachment limit; an external
    # exchange's page form carries its text (up to 256 KiB) and files of one upload's size in all;
    # the console's import form carries an archive of the operations' own limit.
    app.add_middleware(RequestLimits, max_bytes=settings.http.max_request_bytes,
                       larger=[("POST", UPLOAD_PATH, settings.attachments.max_upload_bytes + 65536),
                               ("PATCH", PIECE_PATH, UPLOAD_PIECE_BYTES),
                               ("POST", FILING_PATHS, settings.attachments.max_upload_bytes + 131072),
                               ("POST", EXCHANGE_FORM_PATH, settings.attachments.max_upload_bytes + 327680),
                               ("POST", STAFF_IMPORT_PATH, STAFF_IMPORT_BODY_BYTES),
                               ("POST", ROSTER_IMPORT_PATH, ROSTER_IMPORT_BODY_BYTES),
                               ("POST", IMPORT_PATH, IMPORT_BODY_BYTES)])
    app.add_middleware(ForgetOnChange, cache=app.state.session_cache)
    app.add_middleware(Compression)  # pages, CSS, JS, JSON; not attachment downloads
    templates = RouteTemplates(conversations_api.fast_routes, [API_PREFIX]) if settings.metrics.enabled else None
    app.add_middleware(SecurityHeaders, metrics=metrics, templates=templates)  # outermost: every answer gets them
    return app

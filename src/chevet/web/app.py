"""The ASGI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import ORJSONResponse

import chevet
from chevet.bootstrap import Installation
from chevet.web import problems
from chevet.web.api import auth as auth_api
from chevet.web.api import conversations as conversations_api
from chevet.web.api import people as people_api
from chevet.web.middleware import RequestLimits, SecurityHeaders
from chevet.web.ratelimit import RateLimiter
from chevet.web.stream import Hub
from chevet.web.stream import router as stream_router

log = logging.getLogger("chevet")


def create_app(installation: Installation) -> FastAPI:
    settings = installation.settings
    services = installation.services
    hub = Hub()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.bus.start(hub.deliver)
        log.info("chevet started", extra={"version": chevet.__version__})
        try:
            yield
        finally:
            await installation.close()

    app = FastAPI(title="Chevet", version=chevet.__version__, lifespan=lifespan,
                  openapi_url="/api/openapi.json", docs_url=None, redoc_url=None,
                  default_response_class=ORJSONResponse,
                  description="Secure messaging for care teams. Errors are RFC 9457 problem details.")
    app.state.services = services
    app.state.settings = settings
    app.state.hub = hub
    app.state.login_limiter = RateLimiter(settings.login_attempts_per_minute_per_ip)
    problems.install(app)

    api = APIRouter(prefix="/api/v1")
    api.include_router(auth_api.router)
    api.include_router(people_api.router)
    api.include_router(conversations_api.router)
    app.include_router(api)
    app.include_router(stream_router)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, Any]:
        revision = await services.db.revision()
        return {"status": "ok", "version": chevet.__version__, "schema": revision,
                "realtime_connections": hub.connections}

    app.add_middleware(RequestLimits, max_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders)  # outermost: every answer, even a 413, gets the headers
    return app

"""Running the server with uvicorn (uvloop and httptools when available)."""

from __future__ import annotations

import asyncio

import uvicorn

from chevet import logs
from chevet.bootstrap import check_schema, open_installation
from chevet.settings import Settings
from chevet.web.app import create_app
from chevet.web.stream_compression import StreamProtocol


def run(settings: Settings) -> None:
    """Serve until interrupted. Refuses to start on a missing key or an outdated schema."""
    logs.configure(settings.log_level)
    installation = open_installation(settings)
    asyncio.run(check_schema(installation.settings))
    app = create_app(installation)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                proxy_headers=False, server_header=False, ws_max_size=65536 * 2,
                ws=StreamProtocol, ws_per_message_deflate=settings.stream_deflate)

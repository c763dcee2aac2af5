"""Running the server with uvicorn (uvloop and httptools when available)."""

from __future__ import annotations

import uvicorn

from chevet import logs
from chevet.bootstrap import open_installation
from chevet.settings import Settings
from chevet.web.app import create_app


def run(settings: Settings) -> None:
    logs.configure(settings.log_level)
    app = create_app(open_installation(settings))
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                proxy_headers=False, server_header=False, ws_max_size=65536 * 2)

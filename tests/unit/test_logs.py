"""The log configuration: only Chevet's own loggers follow ``log_level``, and what still looks like
a secret in a record is redacted on the way out (the last line of defence)."""

from __future__ import annotations

import logging

import orjson

from chevet import logs
from chevet.web.realtime.deflate import PROTOCOL_LOG


def test_at_debug_only_our_loggers_speak_below_warning() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("DEBUG")
        assert logging.getLogger("chevet.stream").isEnabledFor(logging.DEBUG)
        assert logging.getLogger("uvicorn.error").isEnabledFor(logging.INFO)
        assert not logging.getLogger("uvicorn.error").isEnabledFor(logging.DEBUG)
        for library in ("sqlalchemy.engine.Engine", "aiosqlite", "httpx", "httpcore", "websockets.server",
                        "multipart", "asyncio", "mail.log"):
            assert not logging.getLogger(library).isEnabledFor(logging.INFO), library
        # the WebSocket protocol, which would log each handshake's URL and headers
        assert not PROTOCOL_LOG.isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        logging.getLogger("chevet").setLevel(logging.NOTSET)


def test_secrets_that_reach_a_record_are_redacted() -> None:
    token = "k3Yq0Zx9-secret_token"
    record = logging.LogRecord("chevet.web", logging.ERROR, __file__, 1,
                               'GET /api/v1/stream?token=%s HTTP/1.1 Authorization: Bearer %s', (token, token),
                               None)
    record.url = f"https://psc.example/token?code={token}&state=x"
    record.header = f"Cookie: chevet_session={token}"
    line = logs.JsonFormatter().format(record)
    assert token not in line
    data = orjson.loads(line)
    assert data["event"].startswith("GET /api/v1/stream?[redacted] HTTP/1.1")
    assert data["url"] == "https://psc.example/token?[redacted]"
    assert "Cookie: [redacted]" in data["header"]
    assert logs.redact("route /invitations/{token} 404") == "route /invitations/{token} 404"

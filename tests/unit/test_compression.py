"""gzip for pages and JSON: only when the client accepts it and the answer is worth it."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from chevet.web.compression import Compression

TEXT = ("Transmission de 7 h : Mme D. a bien dormi, tension 13/8, pansement du talon refait. " * 40).encode()


def app_answering(status: int, headers: list[tuple[bytes, bytes]], parts: list[bytes]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        for i, part in enumerate(parts):
            await send({"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1})
    return app


async def call(app: Any, path: str = "/conversations", accept: bytes | None = b"gzip, deflate, br",
               ) -> tuple[Message, bytes]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    headers = [(b"accept-encoding", accept)] if accept is not None else []
    await Compression(app)({"type": "http", "method": "GET", "path": path, "headers": headers}, receive, send)
    assert sent[0]["type"] == "http.response.start"
    return sent[0], b"".join(m.get("body", b"") for m in sent[1:])


def header(start: Message, name: bytes) -> list[bytes]:
    return [v for k, v in start["headers"] if k == name]


async def test_a_page_is_compressed_with_its_exact_length() -> None:
    start, body = await call(app_answering(200, [(b"content-type", b"text/html; charset=utf-8"),
                                                 (b"content-length", str(len(TEXT)).encode())], [TEXT]))
    assert header(start, b"content-encoding") == [b"gzip"] and header(start, b"vary") == [b"Accept-Encoding"]
    assert header(start, b"content-length") == [str(len(body)).encode()]
    assert gzip.decompress(body) == TEXT and len(body) < len(TEXT) / 5


async def test_a_streamed_answer_is_compressed_as_it_goes() -> None:
    start, body = await call(app_answering(200, [(b"content-type", b"application/json")], [TEXT[:900], TEXT[900:]]))
    assert header(start, b"content-encoding") == [b"gzip"] and not header(start, b"content-length")
    assert gzip.decompress(body) == TEXT


@pytest.mark.parametrize(("path", "accept", "status", "ctype", "parts"), [
    ("/conversations", b"gzip", 200, b"application/json", [b'{"seq": 1}']),  # too small to be worth it
    ("/conversations", None, 200, b"text/html", [TEXT]),  # the client does not accept gzip
    ("/conversations", b"identity", 200, b"text/html", [TEXT]),
    ("/api/v1/attachments/x", b"gzip", 200, b"text/plain", [TEXT]),  # downloads go untouched
    ("/export", b"gzip", 200, b"application/zip", [TEXT]),  # compressed or encrypted already
    ("/photo", b"gzip", 200, b"image/webp", [TEXT]),
    ("/conversations", b"gzip", 206, b"text/plain", [TEXT]),
])
async def test_left_as_it_is(path: str, accept: bytes | None, status: int, ctype: bytes, parts: list[bytes]) -> None:
    headers = [(b"content-type", ctype), (b"content-length", str(len(b"".join(parts))).encode())]
    start, body = await call(app_answering(status, headers, parts), path, accept)
    assert start["headers"] == headers and body == b"".join(parts)


async def test_an_answer_already_encoded_is_not_encoded_twice() -> None:
    packed = gzip.compress(TEXT)
    headers = [(b"content-type", b"text/css"), (b"content-encoding", b"gzip")]
    start, body = await call(app_answering(200, headers, [packed]))
    assert start["headers"] == headers and body == packed


# RFC 9110 §12.5.3: a coding with q=0 is "not acceptable"; "*" stands for any coding not listed;
# x-gzip is an alias of gzip (§8.4.1.3); names and parameters are case-insensitive.
@pytest.mark.parametrize(("accept", "compressed"), [
    (b"gzip;q=0", False),
    (b"gzip; q=0.000, deflate", False),
    (b"GZIP;Q=0", False),
    (b"br, gzip;q=0, *;q=1", False),  # the explicit refusal wins over the wildcard
    (b"*;q=0", False),
    (b"identity", False),
    (b"deflate, br", False),
    (b"gzipx, notgzip", False),  # a name that merely contains "gzip" is another coding
    (b"gzip;q=0.5", True),
    (b"gzip ; q=1.0", True),
    (b"x-gzip", True),
    (b"*", True),
    (b"br;q=1, *;q=0.1", True),
    (b"deflate, gzip", True),
])
async def test_accept_encoding_is_negotiated_as_the_rfc_says(accept: bytes, compressed: bool) -> None:
    start, body = await call(app_answering(200, [(b"content-type", b"text/html")], [TEXT]), accept=accept)
    assert bool(header(start, b"content-encoding")) is compressed
    assert (gzip.decompress(body) if compressed else body) == TEXT

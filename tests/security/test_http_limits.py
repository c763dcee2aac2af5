"""The built-in server against hostile clients (docs/hardening.md, "Limits of the built-in
server"): slow or huge headers, too many headers, a long request line, a slow body, many
connections from one address, and the server's memory under such an attack. Each case is a real
``chevet serve`` process spoken to with raw sockets, as an attacker would; ordinary clients
(keep-alive, WebSockets, uploads of several MB) must not notice the limits.

Storage plays no part here: the server runs on SQLite only."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from chevet.bootstrap import Installation
from tests.support import Server, login, new_installation, new_member, new_org

# Short enough for a quick test, long enough for a loaded machine to send a normal request.
SHORT = {"CHEVET_HTTP_HEADER_TIMEOUT_SECONDS": "3", "CHEVET_HTTP_BODY_TIMEOUT_SECONDS": "3"}
PATIENCE = 60  # seconds a test waits for the server before declaring it never reacted


@pytest.fixture
async def installation(tmp_path: Path) -> Installation:  # type: ignore[misc]
    inst = await new_installation(tmp_path / "data", None, attachments__types="image,pdf,text")
    try:
        yield inst
    finally:
        await inst.close()


def _server(installation: Installation, **env: str) -> Iterator[Server]:
    srv = Server(installation.settings, env={**SHORT, **env})
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def server(installation: Installation) -> Iterator[Server]:
    yield from _server(installation)


def _connect(server: Server) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE)
    return s


def _answer(s: socket.socket, patience: float = PATIENCE) -> bytes:
    """Everything the server sends until it closes the connection (fails if it never does)."""
    chunks = []
    s.settimeout(patience)
    while True:
        try:
            data = s.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def _status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer[9:12])


def _problem(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head.lower()
    assert len(body) < 1024  # a small answer, whatever was sent
    doc: dict[str, object] = json.loads(body)
    return doc


def _closed_while_trickling(s: socket.socket, data: bytes, every: float) -> tuple[int, bytes]:
    """Send ``data`` one byte at a time; return how many bytes went out before the server
    answered or closed, and what it answered."""
    s.settimeout(every)
    for i, byte in enumerate(data):
        try:
            s.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return i, b""
        try:
            first = s.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return i, b""
        return i, first + (_answer(s) if first else b"")
    raise AssertionError("the server waited for the whole trickle")


def _sent_in_pieces(s: socket.socket, data: bytes, pieces: int) -> bytes:
    """Send ``data`` in ``pieces`` separate writes (separate reads for the server); return the
    answer."""
    step = len(data) // pieces + 1
    try:
        for i in range(0, len(data), step):
            s.sendall(data[i:i + step])
            time.sleep(0.05 if pieces > 1 else 0)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return _answer(s)


def test_slow_headers_are_cut_off_with_408(server: Server) -> None:
    with _connect(server) as s:
        head = b"GET /healthz HTTP/1.1\r\nHost: chevet\r\nAccept-Language: fr\r\n" + b"X-Lent: " + b"a" * 400
        sent, answer = _closed_while_trickling(s, head, every=0.25)
    assert sent < len(head)
    assert _status(answer) == 408
    problem = _problem(answer)
    assert problem["code"] == "request_timeout" and "connexion est fermée" in str(problem["detail"])


def test_a_connection_that_sends_nothing_is_closed(server: Server) -> None:
    with _connect(server) as s:
        assert _status(_answer(s)) == 408


@pytest.mark.parametrize("pieces", [1, 16])
def test_huge_header_refused_with_431_and_connection_closed(server: Server, pieces: int) -> None:
    big = b"a" * (64 * 1024)
    head = b"GET /healthz HTTP/1.1\r\nHost: chevet\r\nAccept-Language: en\r\nX-Big: " + big + b"\r\n\r\n"
    with _connect(server) as s:
        answer = _sent_in_pieces(s, head, pieces)
    assert _status(answer) == 431
    assert _problem(answer)["code"] == "headers_too_large"
    assert b"connection: close" in answer.lower()


def test_too_many_headers_refused_with_431(server: Server) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: chevet\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(120)) + b"\r\n"
    with _connect(server) as s:
        s.sendall(head)
        answer = _answer(s)
    assert _status(answer) == 431
    # a request with 90 headers is fine
    head = b"GET /healthz HTTP/1.1\r\nHost: chevet\r\nConnection: close\r\n" + \
        b"".join(b"X-H%d: v\r\n" % i for i in range(90)) + b"\r\n"
    with _connect(server) as s:
        s.sendall(head)
        assert _status(_answer(s)) == 200


@pytest.mark.parametrize("pieces", [1, 8])
def test_long_request_line_refused_with_414(server: Server, pieces: int) -> None:
    line = b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n"
    with _connect(server) as s:
        answer = _sent_in_pieces(s, line, pieces)
    assert _status(answer) == 414
    assert _problem(answer)["code"] == "request_line_too_long"


def test_slow_body_is_cut_off(server: Server) -> None:
    body = json.dumps({"email": "a@b.example", "password": "x" * 200, "otp": "123456"}).encode()
    head = (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: chevet\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    with _connect(server) as s:
        s.sendall(head + body[:10])
        sent, answer = _closed_while_trickling(s, body[10:], every=0.25)
    assert sent < len(body) - 10
    assert answer == b"" or _status(answer) == 408


def _live_connections(server: Server) -> int:
    return int(httpx.get(f"{server.url}/healthz").json()["realtime_connections"])


async def test_connections_per_address_are_capped_websockets_included(installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    for server in _server(installation, CHEVET_HTTP_MAX_CONNECTIONS_PER_ADDRESS="6",
                          CHEVET_HTTP_HEADER_TIMEOUT_SECONDS="60"):
        token = login(server.url, nurse)
        streams = [await websockets.connect(f"{server.ws_url}/api/v1/stream?token={token}") for _ in range(3)]
        idle = [_connect(server) for _ in range(3)]
        try:
            with _connect(server) as extra:
                answer = _answer(extra)
            assert _status(answer) == 429
            assert _problem(answer)["code"] == "too_many_connections"
            # A stream that ends gives its place back: a new connection is served.
            await streams.pop().close()
            for _ in range(100):
                with _connect(server) as again:
                    again.sendall(b"GET /healthz HTTP/1.1\r\nHost: chevet\r\nConnection: close\r\n\r\n")
                    status = _status(_answer(again))
                if status == 200:
                    break
                await asyncio.sleep(0.1)
            assert status == 200
        finally:
            for ws in streams:
                await ws.close()
            for s in idle:
                s.close()


async def test_ordinary_clients_do_not_notice(installation: Installation, server: Server) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    token = login(server.url, nurse)
    h = {"Authorization": f"Bearer {token}"}
    # HTTP keep-alive: many requests over one connection, with pauses shorter than the keep-alive.
    async with httpx.AsyncClient(base_url=server.url, headers=h, timeout=30) as client:
        for _ in range(30):
            assert (await client.get("/api/v1/conversations")).status_code == 200
        conv = (await client.post("/api/v1/conversations",
                                  json={"kind": "group", "title": "Nuit", "member_ids": []})).json()["id"]
        # An upload of several MB at normal speed, longer than the body timeout in total.
        document = (b"Transmissions de nuit, chambre 12.\n" * 200_000)[:7_000_000]

        r = await client.post(f"/api/v1/conversations/{conv}/attachments",
                              files={"file": ("transmissions.txt", document, "text/plain")})
        assert r.status_code == 201, r.text
        boundary = "chevet-limite"
        framed = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.txt\"\r\n"
                  f"Content-Type: text/plain\r\n\r\n").encode() + document + f"\r\n--{boundary}--\r\n".encode()

        async def framed_slowly() -> object:
            for i in range(0, len(framed), 256 * 1024):
                yield framed[i:i + 256 * 1024]
                await asyncio.sleep(0.15)

        r = await client.post(f"/api/v1/conversations/{conv}/attachments", content=framed_slowly(),
                              headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                                       "Content-Length": str(len(framed))})
        assert r.status_code == 201, r.text
    # The stream: open longer than the header timeout, still delivering.
    async with websockets.connect(f"{server.ws_url}/api/v1/stream?token={token}") as ws:
        assert "hello" in str(await ws.recv())
        await ws.send(json.dumps({"type": "resume", "cursors": {}}))
        await asyncio.sleep(4)
        httpx.post(f"{server.url}/api/v1/conversations/{conv}/messages", headers=h,
                   json={"body": "toujours là", "client_id": "c1"})
        seen = []
        while not any("toujours" in m for m in seen):
            seen.append(str(await asyncio.wait_for(ws.recv(), PATIENCE)))
    assert _live_connections(server) >= 0


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def test_memory_stays_bounded_under_slow_and_huge_headers(installation: Installation) -> None:
    """200 slowloris connections and 50 connections pushing 1 MiB headers; the per-address cap is
    raised so that every one of them is admitted (the worst case for memory)."""
    for server in _server(installation, CHEVET_HTTP_MAX_CONNECTIONS_PER_ADDRESS="1000",
                          CHEVET_HTTP_HEADER_TIMEOUT_SECONDS="120"):
        for _ in range(20):
            httpx.get(f"{server.url}/healthz")
        before = _rss(server.proc.pid)
        slow = []
        for _ in range(200):
            s = _connect(server)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: chevet\r\nX-Lent: ")
            slow.append(s)
        huge = [_connect(server) for _ in range(50)]
        refused = 0
        chunk = b"X-Big-%d: " % 0 + b"a" * 8190 + b"\r\n"
        for s in huge:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: chevet\r\n")
        for _ in range(128):  # up to 1 MiB of headers on each connection
            for s in list(huge):
                try:
                    s.sendall(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    huge.remove(s)
                    refused += 1
            for s in slow:
                s.send(b"a")
            if not huge:
                break
        peak = _rss(server.proc.pid)
        growth = peak - before
        print(f"RSS before {before / 2**20:.1f} MiB, under attack {peak / 2**20:.1f} MiB")
        assert growth < 12 * 2**20, f"server grew by {growth / 2**20:.1f} MiB under attack"
        for s in huge:
            try:
                refused += _status(_answer(s, patience=5)) == 431
            except (OSError, AssertionError):
                refused += 1
        alive = 0
        for s in slow:
            s.settimeout(0.01)
            try:
                alive += s.recv(1) == b""
            except TimeoutError:
                alive += 1
            s.close()
        print(f"{refused} huge-header connections refused; {alive} slow connections open")
        assert refused == 50


async def test_memory_stays_bounded_under_unauthenticated_chunked_uploads(installation: Installation) -> None:
    """Bodies without a declared length sent by clients that never signed in, to the route that
    takes the largest bodies (attachment uploads, 20 MB): they are refused when the route asks for
    a session, not read into memory first."""
    for server in _server(installation, CHEVET_HTTP_MAX_CONNECTIONS_PER_ADDRESS="1000"):
        for _ in range(20):
            httpx.get(f"{server.url}/healthz")
        before = _rss(server.proc.pid)
        path = "/api/v1/conversations/00000000-0000-4000-8000-000000000000/attachments"
        piece = b"a" * 65536
        chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
        conns = [_connect(server) for _ in range(24)]
        for s in conns:
            s.sendall(b"POST %s HTTP/1.1\r\nHost: chevet\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n" % path.encode())
        peak = before
        for _ in range(240):  # up to 15 MiB on each connection, 360 MiB in all
            for s in list(conns):
                try:
                    s.sendall(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    conns.remove(s)
            peak = max(peak, _rss(server.proc.pid))
            if not conns:
                break
        growth = peak - before
        print(f"RSS before {before / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB, "
              f"{24 - len(conns)} of 24 connections refused before the end of their body")
        assert growth < 12 * 2**20, f"server grew by {growth / 2**20:.1f} MiB under unauthenticated uploads"
        for s in conns:
            s.close()

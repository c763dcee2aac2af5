"""Real faults on a real server process: Redis killed, PostgreSQL cut off, a full disk, a client
that goes away mid-upload. What a user sees is an honest answer (the message is sent; or 503,
try again, in French), never a 500; what the operator sees is one log line, never an ERROR for
someone else's outage, and a readiness check that names the part that is down.

Nothing here stops the shared PostgreSQL or Redis: Redis is a private ``redis-server`` on its
own port, PostgreSQL is reached through a TCP proxy the test cuts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from chevet.app.messaging import conversations
from chevet.bootstrap import Installation
from tests.support import (
    PG_ADMIN_DSN,
    Member,
    PrivateRedis,
    Server,
    create_pg_database,
    drop_pg_database,
    eventually,
    free_port,
    login,
    make_settings,
    new_installation,
    new_member,
    new_org,
)


class CuttableProxy:
    """A TCP proxy from a loopback port to PostgreSQL. ``cut`` closes every connection through
    it and refuses new ones (a real network fault for the server); ``restore`` listens again
    on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        assert self._listener is not None
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (Linux)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def _log_lines(server: Server) -> list[dict]:
    server.log.flush()
    out = []
    for line in (server.settings.data_dir / f"server-{server.port}.log").read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"level": "RAW", "event": line})
    return out


def _assert_no_error_logged(server: Server) -> None:
    lines = _log_lines(server)
    raw = (server.settings.data_dir / f"server-{server.port}.log").read_text()
    assert "Traceback" not in raw
    bad = [line for line in lines if line.get("level") in ("ERROR", "CRITICAL", "RAW")]
    assert not bad, bad


def _assert_unavailable(r: httpx.Response, code: str, lang: str = "fr") -> dict:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert int(r.headers["retry-after"]) > 0
    body = r.json()
    assert body["status"] == 503 and body["code"] == code
    if lang == "fr":
        assert body["title"] == "Service momentanément indisponible"
        assert "Réessayez" in body["detail"]
    else:
        assert body["title"] == "Service temporarily unavailable" and "Try again" in body["detail"]
    assert "Traceback" not in r.text and "127.0.0.1" not in r.text
    return body


async def _world(installation: Installation) -> tuple[Member, Member, str]:
    svc = installation.services
    org = await new_org(svc)
    nurse, doc = await new_member(svc, org, "nurse"), await new_member(svc, org, "physician")
    view, _ = await conversations.create_conversation(svc, nurse.actor, kind="group", title="Nuit",
                                                      member_ids=[doc.id])
    return nurse, doc, str(view["id"])


# --- Redis ----------------------------------------------------------------------------------

@pytest.fixture
async def redis_world(installation: Installation, tmp_path: Path) -> AsyncIterator[dict]:
    redis = PrivateRedis(tmp_path)
    nurse, doc, conv = await _world(installation)
    server = Server(installation.settings, env={"CHEVET_REDIS_URL": redis.url})
    try:
        yield {"server": server, "redis": redis, "conv": conv,
               "nurse": {"Authorization": f"Bearer {login(server.url, nurse)}"},
               "doc": {"Authorization": f"Bearer {login(server.url, doc)}"}}
    finally:
        server.stop()
        redis.kill()


def test_sends_while_redis_is_down_are_acknowledged_once_and_the_bus_comes_back(redis_world: dict) -> None:
    server, redis, conv, h = redis_world["server"], redis_world["redis"], redis_world["conv"], redis_world["nurse"]
    url = server.url
    send = f"{url}/api/v1/conversations/{conv}/messages"
    assert httpx.post(send, headers=h, json={"body": "avant", "client_id": "before"}).status_code == 201
    redis.kill()
    first = httpx.post(send, headers=h, json={"body": "pendant la panne", "client_id": "during"}, timeout=30)
    assert first.status_code == 201, first.text  # committed: acknowledged as committed
    retry = httpx.post(send, headers=h, json={"body": "pendant la panne", "client_id": "during"}, timeout=30)
    assert retry.status_code == 201 and retry.json()["id"] == first.json()["id"]
    assert retry.headers.get("idempotent-replayed") == "true"
    # Every other action that publishes after commit answers its usual success too.
    mid = first.json()["id"]
    assert httpx.patch(f"{send}/{mid}", headers=h, json={"body": "corrigé"}, timeout=30).status_code == 200
    read = httpx.post(f"{url}/api/v1/conversations/{conv}/read", headers=redis_world["doc"],
                      json={"seq": first.json()["seq"]}, timeout=30)
    assert read.status_code == 200, read.text
    history = httpx.get(send, headers=h, timeout=30).json()
    assert [m.get("id") for m in history].count(mid) == 1
    assert [m.get("body") for m in history if m.get("id") == mid] == ["corrigé"]

    # Liveness stays 200; readiness says which part is down, and nothing else.
    assert httpx.get(f"{url}/healthz", timeout=15).status_code == 200
    down = httpx.get(f"{url}/readyz", timeout=15)
    assert down.status_code == 503 and int(down.headers["retry-after"]) > 0
    assert down.json()["checks"] == {"database": "ok", "bus": "unavailable", "blob_store": "ok"}
    assert str(redis.port) not in down.text and "redis://" not in down.text

    redis.start()  # same port: the bus reconnects by itself
    assert eventually(lambda: httpx.get(f"{url}/readyz", timeout=15).status_code == 200, 30)
    ready = httpx.get(f"{url}/readyz", timeout=15)
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "bus": "ok", "blob_store": "ok"}}
    assert httpx.post(send, headers=h, json={"body": "après", "client_id": "after"}).status_code == 201

    # A Redis that accepts connections and never answers (its process frozen): publishing gives
    # up by itself, the send is still acknowledged, readiness says so; it thaws, all is well.
    os.kill(redis.proc.pid, signal.SIGSTOP)
    try:
        frozen = httpx.post(send, headers=h, json={"body": "gel", "client_id": "frozen"}, timeout=30)
        assert frozen.status_code == 201, frozen.text
        assert httpx.get(f"{url}/readyz", timeout=30).json()["checks"]["bus"] == "unavailable"
    finally:
        os.kill(redis.proc.pid, signal.SIGCONT)
    assert eventually(lambda: httpx.get(f"{url}/readyz", timeout=15).status_code == 200, 30)

    lines = _log_lines(server)
    unpublished = [line for line in lines if line.get("event") == "committed events not published"]
    assert unpublished and all(line["level"] == "WARNING" for line in unpublished)
    assert "pendant la panne" not in (server.settings.data_dir / f"server-{server.port}.log").read_text()
    _assert_no_error_logged(server)


# --- PostgreSQL -----------------------------------------------------------------------------

@pytest.fixture
async def cut_pg_world(tmp_path: Path, pg_required: None) -> AsyncIterator[dict]:
    url = await create_pg_database()
    host, port = "127.0.0.1", int(PG_ADMIN_DSN.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    proxy = CuttableProxy((host, port))
    inst = await new_installation(tmp_path / "data", url)
    try:
        nurse, _, conv = await _world(inst)
        proxied = url.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}")
        server = Server(make_settings(tmp_path / "data", proxied))
        try:
            token = login(server.url, nurse)
            yield {"server": server, "proxy": proxy, "conv": conv, "token": token}
        finally:
            server.stop()
    finally:
        await inst.close()
        proxy.cut()
        await drop_pg_database(url)


def test_postgresql_cut_off_answers_503_in_french_and_recovers(cut_pg_world: dict) -> None:
    server, proxy, conv = cut_pg_world["server"], cut_pg_world["proxy"], cut_pg_world["conv"]
    url, h = server.url, {"Authorization": f"Bearer {cut_pg_world['token']}"}
    send = f"{url}/api/v1/conversations/{conv}/messages"
    assert httpx.post(send, headers=h, json={"body": "avant", "client_id": "before"}).status_code == 201

    proxy.cut()
    time.sleep(2.5)  # past the session cache: every request below needs the database
    # Open pooled connections are broken, new ones are refused: both answer 503.
    for i in range(3):
        _assert_unavailable(httpx.post(send, headers=h, json={"body": "x", "client_id": f"down{i}"}, timeout=30),
                            "database_unavailable")
    _assert_unavailable(httpx.get(send, headers={**h, "Accept-Language": "en"}, timeout=30),
                        "database_unavailable", "en")
    page = httpx.get(f"{url}/c/{conv}", cookies={"chevet_session": cut_pg_world["token"]},
                     headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert int(page.headers["retry-after"]) > 0 and "Service momentanément indisponible" in page.text
    assert httpx.get(f"{url}/healthz", timeout=15).status_code == 200
    down = httpx.get(f"{url}/readyz", timeout=15)
    assert down.status_code == 503
    assert down.json()["checks"] == {"database": "unavailable", "bus": "ok", "blob_store": "ok"}
    assert str(proxy.port) not in down.text

    proxy.restore()
    assert eventually(lambda: httpx.get(f"{url}/readyz", timeout=15).status_code == 200, 30)
    assert httpx.post(send, headers=h, json={"body": "après", "client_id": "after"}).status_code == 201
    bodies = [m.get("body") for m in httpx.get(send, headers=h).json()]
    assert "avant" in bodies and "après" in bodies and "x" not in bodies  # nothing half-done

    lines = _log_lines(server)
    outages = [line for line in lines if line.get("event") == "dependency unavailable"]
    assert outages and all(line["level"] == "WARNING" and line["dependency"] == "database" for line in outages)
    _assert_no_error_logged(server)


# --- Full disk ------------------------------------------------------------------------------

@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 24 MiB tmpfs, reachable by the PostgreSQL server's own user too (for a tablespace)."""
    mount = Path(tempfile.mkdtemp(prefix="chevet-full-"))
    mount.chmod(0o755)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0755", "tmpfs", str(mount)],
                       capture_output=True, check=False)
    if r.returncode != 0:
        mount.rmdir()
        pytest.fail(f"cannot mount a tmpfs (needs root): {r.stderr.decode(errors='replace')}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        mount.rmdir()


def _fill(folder: Path) -> Path:
    ballast = folder / "ballast"
    # Unbuffered: nothing is left to flush (and fail again) when the file is closed.
    with ballast.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    return ballast


def _sends_on_a_full_disk(server: Server, h: dict, conv: str, disk: Path, *, readiness_sees_it: bool) -> None:
    """Fills the disk, then sends until three are refused: each answer is 201 (it fitted) or a
    503 problem, never anything else. Then frees the disk: the server is ready again without a
    restart and every acknowledged message is there exactly once. (PostgreSQL answers the
    readiness check's read on a full disk: only its writes fail.)"""
    url = server.url
    send = f"{url}/api/v1/conversations/{conv}/messages"
    assert httpx.post(send, headers=h, json={"body": "avant", "client_id": "before"}).status_code == 201
    ballast = _fill(disk)
    acknowledged, refused = [], 0
    for i in range(60):  # a WAL reuses the room it already has: a few writes may still fit
        r = httpx.post(send, headers=h, json={"body": "é" * 20000, "client_id": f"full{i}"}, timeout=30)
        assert r.status_code in (201, 503), r.text
        if r.status_code == 201:
            acknowledged.append(r.json()["id"])
        else:
            _assert_unavailable(r, "database_unavailable")
            refused += 1
            if refused >= 3:
                break
    print(f"full disk: {len(acknowledged)} sends acknowledged, {refused} refused with 503")
    assert refused >= 3
    if readiness_sees_it:
        down = httpx.get(f"{url}/readyz", timeout=15)
        assert down.status_code == 503 and down.json()["checks"]["database"] == "unavailable"

    ballast.unlink()
    assert eventually(lambda: httpx.get(f"{url}/readyz", timeout=15).status_code == 200, 30)
    assert httpx.post(send, headers=h, json={"body": "après", "client_id": "after"}).status_code == 201
    ids = [m.get("id") for m in httpx.get(send, headers=h, params={"limit": 200}).json()]
    assert all(ids.count(mid) == 1 for mid in acknowledged)
    _assert_no_error_logged(server)


@pytest.fixture
async def full_disk_world(small_disk: Path, tmp_path: Path) -> tuple[Path, Member, str]:
    """SQLite database and blobs on the small disk; keys and the server's log elsewhere."""
    data = tmp_path / "data"
    inst = await new_installation(data, f"sqlite:///{small_disk / 'chevet.db'}",
                                  attachments__blob_dir=small_disk / "blobs")
    try:
        nurse, _, conv = await _world(inst)
    finally:
        await inst.close()
    return data, nurse, conv


def test_full_disk_answers_503_and_loses_no_acknowledged_message(small_disk: Path,
                                                                 full_disk_world: tuple[Path, Member, str]) -> None:
    data, nurse, conv = full_disk_world
    server = Server(make_settings(data, f"sqlite:///{small_disk / 'chevet.db'}"),
                           env={"CHEVET_BLOB_DIR": str(small_disk / "blobs")})
    try:
        h = {"Authorization": f"Bearer {login(server.url, nurse)}"}
        ballast = _fill(small_disk)
        up = httpx.post(f"{server.url}/api/v1/conversations/{conv}/attachments", headers=h, timeout=30,
                        files={"file": ("note.txt", b"transmission " * 100, "text/plain")})
        _assert_unavailable(up, up.json().get("code", ""))
        assert up.json()["code"] in ("blob_store_unavailable", "database_unavailable")
        ready = httpx.get(f"{server.url}/readyz", timeout=15).json()["checks"]
        assert ready == {"database": "unavailable", "bus": "ok", "blob_store": "unavailable"}
        ballast.unlink()
        _sends_on_a_full_disk(server, h, conv, small_disk, readiness_sees_it=True)
    finally:
        server.stop()


@pytest.fixture
async def pg_full_disk_world(small_disk: Path, tmp_path: Path, pg_required: None) -> AsyncIterator[dict]:
    """A PostgreSQL database whose tablespace is on the small disk (its WAL stays on the shared
    server's own disk, which is never filled)."""
    import asyncpg

    space = small_disk / "pg"
    space.mkdir()
    shutil.chown(space, "postgres", "postgres")
    name = f"chevet_full_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f"CREATE TABLESPACE {name} LOCATION '{space}'")
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TABLESPACE {name}')
        url = f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
        try:
            inst = await new_installation(tmp_path / "data", url)
            try:
                nurse, _, conv = await _world(inst)
            finally:
                await inst.close()
            yield {"settings": make_settings(tmp_path / "data", url), "nurse": nurse, "conv": conv}
        finally:
            await drop_pg_database(url)
    finally:
        await admin.execute(f"DROP TABLESPACE IF EXISTS {name}")
        await admin.close()


def test_postgresql_disk_full_answers_503_and_loses_no_acknowledged_message(small_disk: Path,
                                                                            pg_full_disk_world: dict) -> None:
    server = Server(pg_full_disk_world["settings"])
    try:
        h = {"Authorization": f"Bearer {login(server.url, pg_full_disk_world['nurse'])}"}
        _sends_on_a_full_disk(server, h, pg_full_disk_world["conv"], small_disk, readiness_sees_it=False)
    finally:
        server.stop()


# --- SQLite locked by another process beyond its timeout ------------------------------------

@pytest.fixture
async def sqlite_world(tmp_path: Path) -> tuple[Installation, Member, str]:
    installation = await new_installation(tmp_path / "data", None)
    try:
        nurse, _, conv = await _world(installation)
    finally:
        await installation.close()
    return installation, nurse, conv


def test_sqlite_locked_beyond_its_timeout_answers_503(sqlite_world: tuple[Installation, Member, str]) -> None:
    import sqlite3

    installation, nurse, conv = sqlite_world
    server = Server(installation.settings)
    try:
        h = {"Authorization": f"Bearer {login(server.url, nurse)}"}
        send = f"{server.url}/api/v1/conversations/{conv}/messages"
        holder = sqlite3.connect(server.settings.data_dir / "chevet.db", isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")  # another process (a stuck script) holds the write lock
            _assert_unavailable(httpx.post(send, headers=h, json={"body": "x", "client_id": "locked"}, timeout=60),
                                "database_unavailable")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert httpx.post(send, headers=h, json={"body": "ensuite", "client_id": "after"}).status_code == 201
        _assert_no_error_logged(server)
    finally:
        server.stop()


# --- A client that goes away ----------------------------------------------------------------

async def test_client_gone_mid_upload_is_not_an_error(installation: Installation) -> None:
    nurse, _, conv = await _world(installation)
    server = Server(installation.settings)
    try:
        _abort_uploads(server, login(server.url, nurse), conv)
    finally:
        server.stop()


def _abort_uploads(server: Server, token: str, conv: str) -> None:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode()
    for path in (f"/api/v1/conversations/{conv}/attachments", f"/api/v1/conversations/{conv}/messages"):
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            s.sendall((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                       f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                       f"Content-Length: 200000\r\n\r\n").encode() + head + os.urandom(20000))
            time.sleep(0.5)  # the server is reading the body
    # The next request is answered normally; the aborted ones left no ERROR behind.
    assert eventually(lambda: sum(line.get("event") == "request" and line.get("status") == 499
                                   for line in _log_lines(server)) == 2, 10)
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    _assert_no_error_logged(server)

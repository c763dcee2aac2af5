"""Helpers shared by the test suites: databases, installations, servers, people."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from chevet.app.identity import organisations, people
from chevet.app.services import Actor, Services
from chevet.bootstrap import Installation, initialise, open_installation
from chevet.core import totp
from chevet.core.entities import Organisation
from chevet.settings import Settings, load_settings

PG_ADMIN_DSN = os.environ.get("CHEVET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CHEVET_TEST_REDIS", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"
# Cheap argon2 for tests: the parameters are the production ones' shape, not their cost.
FAST_PASSWORDS = {"passwords__time_cost": 1, "passwords__memory_kib": 1024}
# How long a test server may take to start (a loaded machine imports slowly).
# How long a test server may take to start: generous, the suite runs on a busy machine.
SERVER_START_SECONDS = float(os.environ.get("CHEVET_TEST_SERVER_START", "120"))


def pg_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


async def create_pg_database() -> str:
    import asyncpg

    name = f"chevet_t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{name}"


async def drop_pg_database(url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def make_settings(data_dir: Path, database_url: str | None, **extra: Any) -> Settings:
    return load_settings(data_dir, environ={}, database__url=database_url, **FAST_PASSWORDS, **extra)


async def new_installation(data_dir: Path, database_url: str | None, **extra: Any) -> Installation:
    settings = make_settings(data_dir, database_url, **extra)
    await initialise(settings)
    return open_installation(settings, with_bus=False)


@dataclass
class Member:
    """A person created for a test, with what it takes to sign in."""

    actor: Actor
    email: str
    password: str
    totp_secret: str

    @property
    def id(self) -> uuid.UUID:
        return self.actor.id

    def otp(self, offset_steps: int = 0) -> str:
        return totp.code_at(self.totp_secret, totp.step_of(time.time()) + offset_steps)


async def new_org(services: Services, slug: str | None = None) -> Organisation:
    slug = slug or f"org-{secrets.token_hex(4)}"
    return await organisations.create_organisation(services, slug, f"Organisation {slug}")


async def new_member(services: Services, org: Organisation, role: str = "nurse", name: str | None = None) -> Member:
    password = secrets.token_urlsafe(12)
    email = f"{role}-{secrets.token_hex(4)}@{org.slug}.example"
    added = await people.add_person(services, org, email=email, name=name or f"{role.title()} {secrets.token_hex(2)}",
                                    role=role, password=password)
    return Member(Actor(added.person, org, None, "127.0.0.1"), email, password, added.totp_secret)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[Any], timeout: float = 30,
                 verify: ssl.SSLContext | bool = True) -> None:
    """Wait until a server answers /healthz; fail at once if its process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start")


# The logs of the servers started by the running test: shown with its failure (tests/conftest.py).
SERVER_LOGS: list[Path] = []


class Server:
    """A real `chevet serve` process on loopback."""

    def __init__(self, settings: Settings, env: dict[str, str] | None = None, tls_ca: Path | None = None) -> None:
        """``tls_ca``: the server is started with TLS settings (in ``env``) and its certificate is
        checked against this CA file."""
        self.settings = settings
        self.port = free_port()
        self.ca_file = tls_ca
        self.verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(tls_ca)) if tls_ca else True
        self.url = f"{'https' if tls_ca else 'http'}://127.0.0.1:{self.port}"
        self.ws_url = f"{'wss' if tls_ca else 'ws'}://127.0.0.1:{self.port}"
        full_env = {**os.environ, **(env or {}), "CHEVET_PASSWORD_TIME_COST": "1",
                    "CHEVET_PASSWORD_MEMORY_KIB": "1024"}
        if settings.database.url:
            full_env["CHEVET_DATABASE_URL"] = settings.database.url
        self.log = open(settings.data_dir / f"server-{self.port}.log", "wb")
        SERVER_LOGS.append(Path(self.log.name))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chevet.cli.main", "serve", "--data-dir", str(settings.data_dir),
             "--port", str(self.port)], env=full_env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self.wait_ready()
        except BaseException:
            self.stop()  # a server too slow to start must not outlive its test
            raise

    def wait_ready(self, timeout: float = SERVER_START_SECONDS) -> None:
        wait_healthy(self.url, self.proc, timeout, self.verify)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def login(base_url: str, member: Member, offset_steps: int = 0) -> str:
    r = httpx.post(f"{base_url}/api/v1/auth/login",
                   json={"email": member.email, "password": member.password, "otp": member.otp(offset_steps)})
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


def run(coro: Any) -> Any:
    return asyncio.get_event_loop().run_until_complete(coro)


async def migrate(installation: Installation, target: str, up: bool = True) -> None:
    """Run Alembic on the installation's database, up or down to ``target``."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy.engine import Connection

    from chevet.adapters.db.database import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))

    def step(sync_conn: Connection) -> None:
        cfg.attributes["connection"] = sync_conn
        (command.upgrade if up else command.downgrade)(cfg, target)

    async with installation.services.db.engine.connect() as conn:
        await conn.run_sync(step)
        await conn.commit()


def eventually(check: Callable[[], bool], timeout: float = 20) -> bool:
    """Whether ``check`` comes true within ``timeout`` seconds (polled every 0.2 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


class PrivateRedis:
    """A throw-away ``redis-server`` on its own loopback port, to kill and start again (the
    shared one is never touched). Ready once it answers PING, not merely accepts a connection."""

    def __init__(self, workdir: Path) -> None:
        if shutil.which("redis-server") is None:
            if IN_CI:
                pytest.fail("redis-server is required in CI")
            pytest.skip("redis-server not installed")
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        assert eventually(answers, 20), "private redis-server did not start"

    def pause_writes(self, milliseconds: int) -> None:
        """Every write (PUBLISH included) waits that long; connections stay up."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(f"CLIENT PAUSE {milliseconds} WRITE\r\n".encode())
            assert s.recv(16).startswith(b"+OK")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

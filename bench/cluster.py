"""A Chevet installation for a benchmark: its own data folder and database, its organisation
and people, and one or more ``chevet serve`` processes (several share PostgreSQL and Redis).

The organisation is created with the ``chevet`` command line, people through the application
layer (one process instead of one command per person), sessions through the login API. Only the
5,000-connection scenario mints its sessions straight into the session table, because TOTP
codes are single-use and 5,000 logins would need 5,000 distinct people or time steps.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from chevet.app.identity import organisations, people
from chevet.bootstrap import open_installation
from chevet.core import totp
from chevet.core.entities import Session
from chevet.core.ids import new_id
from chevet.settings import load_settings

PG_ADMIN = os.environ.get("CHEVET_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CHEVET_BENCH_REDIS", "redis://127.0.0.1:6379/0")


def raise_fd_limit(wanted: int = 20000) -> int:
    """Many sockets in this process and in the servers it starts (they inherit the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Login:
    person_id: uuid.UUID
    email: str
    token: str


@dataclass
class Cluster:
    database: str = "sqlite"  # or "postgres"
    processes: int = 1
    keep: bool = False
    env: dict[str, str] = field(default_factory=dict)
    data_dir: Path = field(init=False)
    database_url: str | None = field(init=False, default=None)
    ports: list[int] = field(init=False, default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(init=False, default_factory=list)
    org_slug: str = field(init=False, default="")
    passwords: dict[str, tuple[str, str]] = field(init=False, default_factory=dict)

    # --- life cycle ---------------------------------------------------------------------
    def __post_init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="chevet-bench-"))

    def server_env(self) -> dict[str, str]:
        env = {**os.environ, "CHEVET_PASSWORD_TIME_COST": "1", "CHEVET_PASSWORD_MEMORY_KIB": "1024",
               "CHEVET_LOGIN_ATTEMPTS_PER_MINUTE_PER_IP": "10000",
               # every client of a run comes from 127.0.0.1: thousands of streams on one address
               "CHEVET_HTTP_MAX_CONNECTIONS_PER_ADDRESS": "100000", **self.env}
        if self.database_url:
            env["CHEVET_DATABASE_URL"] = self.database_url
        if self.processes > 1 or self.env.get("CHEVET_REDIS_URL"):
            env["CHEVET_REDIS_URL"] = self.env.get("CHEVET_REDIS_URL", REDIS_URL)
        return env

    def _cli(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run([sys.executable, "-m", "chevet.cli.main", *args, "--data-dir", str(self.data_dir)],
                             env=self.server_env(), input=stdin, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"chevet {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def create(self) -> None:
        if self.database == "postgres":
            self.database_url = asyncio.run(_create_pg())
        self._cli("init")
        self.org_slug = f"bench-{secrets.token_hex(3)}"
        self._cli("org", "create", "--slug", self.org_slug, "--name", "EHPAD du banc d'essai", "--json")

    def start(self) -> None:
        raise_fd_limit()
        env = self.server_env()
        for _ in range(self.processes):
            port = free_port()
            log = open(self.data_dir / f"server-{port}.log", "wb")
            proc = subprocess.Popen([sys.executable, "-m", "chevet.cli.main", "serve", "--data-dir",
                                     str(self.data_dir), "--port", str(port)], env=env, stdout=log,
                                    stderr=subprocess.STDOUT)
            self.ports.append(port)
            self.procs.append(proc)
        for port, proc in zip(self.ports, self.procs, strict=True):
            _wait_ready(port, proc, self.data_dir / f"server-{port}.log")

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        self.ports.clear()

    def destroy(self) -> None:
        self.stop()
        if self.database_url:
            asyncio.run(_drop_pg(self.database_url))
        if not self.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    @property
    def server_pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def url(self, i: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[i % len(self.ports)]}"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "chevet.db"

    # --- people and sessions --------------------------------------------------------------
    def add_people(self, count: int, role: str = "nurse") -> list[tuple[uuid.UUID, str, str, str]]:
        """``count`` active people with a password and TOTP: (id, email, password, totp secret)."""
        settings = load_settings(self.data_dir, environ=self.server_env())

        async def go() -> list[tuple[uuid.UUID, str, str, str]]:
            inst = open_installation(settings, with_bus=False)
            try:
                org = await organisations.organisation_by_slug(inst.services, self.org_slug)
                out = []
                for _ in range(count):
                    password = secrets.token_urlsafe(12)
                    tag = secrets.token_hex(4)
                    added = await people.add_person(inst.services, org, email=f"{role}-{tag}@banc.example",
                                                    name=f"Soignant·e {tag}", role=role, password=password)
                    out.append((added.person.id, added.person.email, password, added.totp_secret))
                return out
            finally:
                await inst.close()

        return asyncio.run(go())

    def login_all(self, persons: list[tuple[uuid.UUID, str, str, str]]) -> list[Login]:
        """Sign everyone in through the API (password + the current TOTP code)."""
        out = []
        with httpx.Client(base_url=self.url(), timeout=30) as client:
            for pid, email, password, secret in persons:
                code = totp.code_at(secret, totp.step_of(time.time()))
                r = client.post("/api/v1/auth/login", json={"email": email, "password": password, "otp": code})
                if r.status_code != 200:
                    raise RuntimeError(f"login failed: {r.status_code} {r.text}")
                out.append(Login(pid, email, r.json()["token"]))
        return out

    def mint_sessions(self, persons: list[tuple[uuid.UUID, str, str, str]], count: int) -> list[Login]:
        """``count`` sessions spread over ``persons`` (many devices per person), written to the
        session table directly: see the module docstring for why."""
        settings = load_settings(self.data_dir, environ=self.server_env())

        async def go() -> list[Login]:
            inst = open_installation(settings, with_bus=False)
            svc = inst.services
            out: list[Login] = []
            try:
                org = await organisations.organisation_by_slug(svc, self.org_slug)
                now = svc.clock.now()
                for start in range(0, count, 500):
                    async with svc.db.transaction() as tx:
                        for i in range(start, min(count, start + 500)):
                            pid, email, _, _ = persons[i % len(persons)]
                            token = secrets.token_urlsafe(32)
                            s = Session(id=new_id(), person_id=pid, org_id=org.id, created_at=now, last_used_at=now,
                                        expires_at=now + timedelta(hours=12), revoked_at=None,
                                        user_agent="chevet-bench", ip="127.0.0.1", method="password+totp")
                            await tx.sessions.add(s, people.token_hash(token))
                            out.append(Login(pid, email, token))
                return out
            finally:
                await inst.close()

        return asyncio.run(go())

    def api(self, login: Login, i: int = 0) -> httpx.Client:
        return httpx.Client(base_url=self.url(i), timeout=60, headers={"Authorization": f"Bearer {login.token}"})

    def create_conversation(self, owner: Login, members: list[Login], title: str) -> dict[str, Any]:
        with self.api(owner) as c:
            r = c.post("/api/v1/conversations", json={
                "kind": "group", "title": title, "member_ids": [str(m.person_id) for m in members]})
            if r.status_code not in (200, 201):
                raise RuntimeError(f"conversation not created: {r.status_code} {r.text}")
            view: dict[str, Any] = r.json()
            return view


def _wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


async def _create_pg() -> str:
    import asyncpg

    name = f"chevet_bench_{secrets.token_hex(5)}"
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"


async def _drop_pg(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, default=str)

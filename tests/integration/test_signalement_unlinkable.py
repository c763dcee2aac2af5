"""Anonymous means unlinkable: the request that files an anonymous report writes nothing of its
reporter, neither in its own transaction nor beside it. Checked on the statements the server
sends to SQLite and PostgreSQL (every write, with its parameters), and on SQLite on the very
pages the filing request added to the write-ahead log, read with the WAL file format
(https://www.sqlite.org/fileformat.html#the_write_ahead_log), not with our code."""

from __future__ import annotations

import sqlite3
import struct
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, update

from chevet.app.identity.people import token_hash
from chevet.bootstrap import Installation
from chevet.web.app import create_app
from chevet.web.deps import SESSION_COOKIE
from tests.signalement_support import ehpad
from tests.support import Member, Server, new_installation

HER_ADDRESS = "198.51.100.23"  # TEST-NET-2: appears nowhere but in her requests
HER_BROWSER = "Mozilla/5.0 (Linux; Android 9; SM-A105FN-Aicha) Chevet-test"
WRITES = ("insert", "update", "delete", "replace", "with")


def _report(now: datetime) -> dict[str, Any]:
    return {"mode": "anonymous", "what": "Contention posée la nuit sans prescription",
            "occurred_at": (now - timedelta(hours=1)).isoformat(), "place": "Unité B", "affected_refs": ["B7"]}


def _needles(member: Member, session_id: uuid.UUID, token: str) -> dict[str, Any]:
    pid = member.actor.person.id
    return {"person id": [pid, pid.bytes, pid.hex, str(pid)], "session id": [session_id, session_id.bytes,
                                                                              session_id.hex, str(session_id)],
            "address": [HER_ADDRESS, HER_ADDRESS.encode()], "user agent": [HER_BROWSER, HER_BROWSER.encode()],
            "session token": [token_hash(token)], "name": [member.actor.person.name, member.email]}


def _holds(value: Any, needle: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_holds(v, needle) for v in value)
    if isinstance(value, dict):
        return any(_holds(v, needle) for v in value.values())
    if isinstance(needle, uuid.UUID):
        return value == needle
    if isinstance(value, (bytes, bytearray, memoryview)):
        return isinstance(needle, bytes) and needle in bytes(value)
    if isinstance(value, str):
        return isinstance(needle, str) and needle in value
    return False


@contextmanager
def captured_writes(installation: Installation) -> Iterator[list[tuple[str, Any]]]:
    """Every writing statement the application sends to the database, with its parameters."""
    engine = installation.services.db.engine  # type: ignore[attr-defined]
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().lower().startswith(WRITES):
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def _sessions(installation: Installation, member: Member) -> list[uuid.UUID]:
    async with installation.services.db.transaction() as tx:
        return [s.id for s in await tx.sessions.for_person(member.id)]


async def _age_sessions(installation: Installation) -> None:
    """Her session was last used half an hour ago: a request that touched it would write."""
    from chevet.adapters.db.schema import session as session_table

    engine = installation.services.db.engine  # type: ignore[attr-defined]
    async with engine.begin() as conn:
        await conn.execute(update(session_table).values(last_used_at=datetime.now(UTC) - timedelta(minutes=30)))


async def test_filing_anonymously_writes_nothing_of_the_reporter(installation: Installation) -> None:
    """The web form and the API, on SQLite and PostgreSQL: the filing's writes hold no id,
    address, browser or session of hers (and no row of the session or person tables at all)."""
    svc = installation.services
    e = await ehpad(svc)
    app = create_app(installation)
    transport = httpx.ASGITransport(app=app, client=(HER_ADDRESS, 50123))
    async with httpx.AsyncClient(transport=transport, base_url="http://chevet.test",
                                 headers={"User-Agent": HER_BROWSER}) as her:
        r = await her.post("/api/v1/auth/login", json={"email": e.carer.email, "password": e.carer.password,
                                                       "otp": e.carer.otp()})
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        [session_id] = await _sessions(installation, e.carer)
        needles = _needles(e.carer, session_id, token)
        await _age_sessions(installation)

        # The API.
        with captured_writes(installation) as writes:
            r = await her.post("/api/v1/reports", json=_report(datetime.now(UTC)),
                               headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
        _assert_clean(writes, needles)

        # The web form, signed in with the session cookie; the form page itself is quiet too.
        her.cookies.set(SESSION_COOKIE, token)
        with captured_writes(installation) as writes:
            page = await her.get("/signalement/nouveau")
            assert page.status_code == 200, page.text[:300]
            csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
            now = datetime.now(UTC).astimezone()
            r = await her.post("/signalement/nouveau", data={
                "csrf": csrf, "mode": "anonymous", "what": "Chute non déclarée la nuit dernière",
                "occurred_at": (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"), "place": "Chambre 4",
                "affected_refs": "", "immediate_measures": "", "team_id": ""})
        assert r.status_code == 201, r.text[:500]
        _assert_clean(writes, needles)


def _assert_clean(writes: list[tuple[str, Any]], needles: dict[str, Any]) -> None:
    assert any("report" in s for s, _ in writes), "the report was written"
    for statement, parameters in writes:
        target = statement.split()[2].strip('"').lower() if statement.lower().startswith(("insert", "delete")) \
            else statement.split()[1].strip('"').lower()
        assert target not in {"session", "person", "session_security", "preferences"}, statement
        for what, values in needles.items():
            for needle in values:
                assert not _holds(parameters, needle), f"{what} written by the filing: {statement[:80]}"


def _wal_frames(wal: bytes, start: int) -> list[tuple[int, bytes]]:
    """(page number, page) of every frame from byte ``start`` (a frame boundary) on."""
    page_size = struct.unpack(">I", wal[8:12])[0]
    frames, at = [], start
    while at + 24 + page_size <= len(wal):
        number = struct.unpack(">I", wal[at:at + 4])[0]
        frames.append((number, wal[at + 24:at + 24 + page_size]))
        at += 24 + page_size
    return frames


def _pages_of(db: Path, tables: set[str]) -> set[int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT name, tbl_name FROM sqlite_schema WHERE type IN ('table', 'index')").fetchall()
        names = [n for n, t in rows if t in tables]
        return {p for (p,) in conn.execute(
            f"SELECT pageno FROM dbstat WHERE name IN ({','.join('?' * len(names))})", names)}


async def test_the_wal_frames_of_an_anonymous_filing_hold_nothing_of_the_reporter(tmp_path: Path) -> None:
    """A real server on SQLite (WAL mode): the pages the filing request appended to the WAL
    belong to no session, person or preference table, and hold neither her address, browser,
    session token, session id nor person id (not even in the audit trail's last page, where her
    sign-in entry is: the filing's own audit entry is appended later, by the periodic job)."""
    installation = await new_installation(tmp_path / "data", None)
    server = Server(installation.settings)
    try:
        e = await ehpad(installation.services)
        with httpx.Client(base_url=server.url, headers={"User-Agent": HER_BROWSER}) as her:
            r = her.post("/api/v1/auth/login", json={"email": e.carer.email, "password": e.carer.password,
                                                     "otp": e.carer.otp()})  # from 127.0.0.1
            assert r.status_code == 200, r.text
            token = r.json()["token"]
            [session_id] = await _sessions(installation, e.carer)
            await _age_sessions(installation)
            db = installation.settings.data_dir / "chevet.db"
            wal_path = Path(f"{db}-wal")
            before = wal_path.read_bytes()
            r = her.post("/api/v1/reports", json=_report(datetime.now(UTC)),
                         headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 201, r.text
            after = wal_path.read_bytes()
        # A WAL restarted by a checkpoint has new salts: then every frame is the filing's.
        start = len(before) if before[16:24] == after[16:24] and len(before) >= 32 else 32
        frames = _wal_frames(after, start)
        assert frames, "the filing was written to the WAL"
        hers = _pages_of(db, {"session", "person", "session_security", "preferences", "passkey"})
        assert not {n for n, _ in frames} & hers, "a page of her session or person rows was rewritten"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            owner = dict(conn.execute("SELECT pageno, name FROM dbstat").fetchall())
        for what, needle in (("session token", token_hash(token)), ("browser", HER_BROWSER.encode()),
                             ("session id", session_id.bytes), ("person id", e.carer.id.bytes),
                             ("address", b"127.0.0.1")):
            where = sorted({owner.get(n, "?") for n, page in frames if needle in page})
            assert not where, f"her {what} is in the filing's WAL frames, in pages of {where}"
    finally:
        server.stop()
        await installation.close()

"""Fixtures. Integration fixtures are parametrised over SQLite and PostgreSQL: the same tests
run on both. In CI (CI=true) a missing service is a failure, never a skip."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from chevet.bootstrap import Installation
from chevet.settings import Settings
from tests.attachment_support import Api

# One SoftHSM2 configuration per test process: the PKCS#11 library reads SOFTHSM2_CONF when it is
# initialised, so two would hide each other's tokens.
from tests.softhsm_support import softhsm, softhsm_token  # noqa: F401
from tests.support import (
    IN_CI,
    SERVER_LOGS,
    Server,
    create_pg_database,
    drop_pg_database,
    make_settings,
    new_installation,
    pg_available,
    redis_available,
)


def _require(available: bool, what: str) -> None:
    if not available:
        if IN_CI:
            pytest.fail(f"{what} is required in CI and is not reachable")
        pytest.skip(f"{what} not reachable")


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    _require(pg_available(), "PostgreSQL on 127.0.0.1:5432")
    url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


@pytest.fixture
def pg_required() -> None:
    _require(pg_available(), "PostgreSQL on 127.0.0.1:5432")


@pytest.fixture
def redis_required() -> None:
    _require(redis_available(), "Redis on 127.0.0.1:6379")


@pytest.fixture
async def installation(tmp_path: Path, database_url: str | None) -> AsyncIterator[Installation]:
    inst = await new_installation(tmp_path / "data", database_url)
    try:
        yield inst
    finally:
        await inst.close()


@pytest.fixture
async def api(installation: Installation) -> AsyncIterator[Api]:
    """The API client of the attachment tests, signed in per member, on the test's installation."""
    client = Api(installation)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def settings(installation: Installation) -> Settings:
    return installation.settings


@pytest.fixture
def server(installation: Installation) -> Iterator[Server]:
    srv = Server(installation.settings)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", None)



@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failing test shows the end of the logs of the servers it started (CI keeps nothing else)."""
    report: pytest.TestReport = yield
    if report.failed:
        for path in SERVER_LOGS:
            with contextlib.suppress(OSError):
                lines = path.read_text(errors="replace").splitlines()
                errors = [line for line in lines[:-40] if '"level":"ERROR"' in line][:5]
                report.sections.append((f"server log {path.name}", "\n".join(errors + lines[-40:])))
    if call.when == "teardown":
        SERVER_LOGS.clear()
    return report

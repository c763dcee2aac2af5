"""Where the MSSanté gateway runs (the rule, checked at start-up), the one-fetcher-per-mailbox
lock, and the supervision of the gateway's loops (a loop that fails is restarted; stopping ends
them at once)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from chevet.adapters.mail.mailbox_lock import MailboxLock
from chevet.bootstrap.mssante import runs_in_server
from chevet.jobs import mssante as jobs
from chevet.settings import SettingsError, load_settings
from chevet.settings.mssante import MssanteSettings, OperatorSettings


def _gateway(runs_in: str | None) -> MssanteSettings:
    return MssanteSettings(nil="NIL", operator=OperatorSettings(smtp_host="smtp.test", trust_anchor=Path("ca.pem")),
                           runs_in=runs_in)


@pytest.mark.parametrize(("redis", "runs_in", "in_server"), [
    (None, None, True),                         # the one-box default: inside chevet serve
    ("redis://127.0.0.1:6379/0", None, False),  # a shared bus: chevet mssante run
    ("redis://127.0.0.1:6379/0", "serve", True),
    ("redis://127.0.0.1:6379/0", "separate", False),
    (None, "serve", True),
])
def test_where_the_gateway_runs(tmp_path: Path, redis: str | None, runs_in: str | None, in_server: bool) -> None:
    settings = load_settings(tmp_path, environ={}, bus__redis_url=redis)
    assert runs_in_server(settings, _gateway(runs_in)) is in_server


def test_a_separate_gateway_without_a_shared_bus_is_refused(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    with pytest.raises(SettingsError, match="needs redis_url"):
        runs_in_server(settings, _gateway("separate"))


def test_runs_in_accepts_only_its_two_values() -> None:
    with pytest.raises(ValueError, match="runs_in"):
        _gateway("both")


def test_one_holder_per_mailbox_and_taken_over_when_released(tmp_path: Path) -> None:
    # flock locks belong to an open file: two holders in one process exclude each other as two
    # processes would.
    first, second = MailboxLock(tmp_path, "Sec@EHPAD.test"), MailboxLock(tmp_path, "sec@ehpad.test")
    other = MailboxLock(tmp_path, "accueil@ehpad.test")
    assert first.acquire() and first.held
    assert not second.acquire() and not second.held
    assert other.acquire()   # another mailbox is independent
    assert "ehpad" not in first.path.name and "sec" not in first.path.name
    first.release()
    assert second.acquire()
    second.release()
    other.release()


async def test_a_failing_loop_is_restarted_with_back_off(monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(jobs, "RESTART_FIRST", 0.01)
    stopping = asyncio.Event()
    runs = 0

    async def loop() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError("patient Mme R. chambre 12")   # must not reach the log
        stopping.set()

    with caplog.at_level(logging.WARNING, logger="chevet.mssante"):
        await asyncio.wait_for(jobs._supervised("outbox", loop, stopping), 10)
    assert runs == 3
    failures = [r for r in caplog.records if r.getMessage() == "mssante task failed"]
    assert [getattr(r, "error", None) for r in failures] == ["RuntimeError", "RuntimeError"]
    assert "Mme R." not in caplog.text


async def test_a_loop_that_ends_is_restarted_and_stopping_wakes_its_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "RESTART_FIRST", 3600.0)   # only the stop can end the pause
    stopping = asyncio.Event()
    runs = 0

    async def loop() -> None:
        nonlocal runs
        runs += 1

    task = asyncio.create_task(jobs._supervised("crl", loop, stopping))
    while runs == 0:
        await asyncio.sleep(0)
    stopping.set()
    await asyncio.wait_for(task, 5)
    assert runs == 1


async def test_every_pass_runs_until_stopped_and_a_failure_is_not_fatal() -> None:
    stopping = asyncio.Event()
    calls = 0

    async def job() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk")
        if calls == 3:
            stopping.set()

    await asyncio.wait_for(jobs._every(0.01, "directory", job, stopping), 10)
    assert calls == 3

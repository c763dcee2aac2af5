"""Where the MSSanté gateway runs, and that what it does reaches the open pages live.

On the one-box default (SQLite, no Redis) the gateway runs inside ``chevet serve``: a mail that
arrives in the Dovecot mailbox, a receipt and a delivery failure appear on an open stream of
that server with no reload, and stopping the server stops the gateway (its IMAP session ends,
the process exits by itself even while IDLE waits). ``chevet mssante run`` then refuses. With
Redis, one ``chevet serve`` and one ``chevet mssante run`` share PostgreSQL and Redis, and a
mailbox is fetched by one worker at a time."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from chevet.bootstrap import Installation
from tests.conftest import _require
from tests.mss_support import (
    configure,
    gp_answers,
    gp_receipt,
    hung_operator,
    imap_sessions,
    inject,
    mail_available,
    mailbox_contents,
    unique,
)
from tests.support import (
    REDIS_URL,
    Server,
    create_pg_database,
    drop_pg_database,
    eventually,
    login,
    new_installation,
    new_member,
    new_org,
)

Event = dict[str, Any]


@pytest.fixture
def mail() -> None:
    _require(mail_available(), "the loopback mail servers (.ci/setup-mail)")


async def _until(ws: websockets.ClientConnection, want: Callable[[Event], bool], timeout: float = 30) -> Event:
    """The first event that matches, skipping the others (pings, the sender's own echo…)."""
    async def first() -> Event:
        while True:
            ev: Event = json.loads(await ws.recv())
            if want(ev):
                return ev
    return await asyncio.wait_for(first(), timeout)


async def _live(url: str, token: str) -> websockets.ClientConnection:
    ws = await websockets.connect(f"{url}/api/v1/stream?token={token}")
    await ws.send(json.dumps({"type": "live"}))
    await _until(ws, lambda e: e.get("type") == "ready", 10)
    return ws


def _exchange(url: str, auth: dict[str, str], to: str) -> str:
    r = httpx.post(f"{url}/api/v1/mssante/exchanges", headers=auth, json={"to": [to], "title": "Sortie"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _send(url: str, auth: dict[str, str], conv: str, body: str, client_id: str, receipt: bool = False) -> str:
    r = httpx.post(f"{url}/api/v1/mssante/exchanges/{conv}/messages", headers=auth,
                   json={"body": body, "client_id": client_id, "subject": "Lettre de liaison",
                         "request_receipt": receipt})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])



def _env(installation: Installation, config: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "CHEVET_MSSANTE_CONFIG": str(config), "CHEVET_PASSWORD_TIME_COST": "1",
           "CHEVET_PASSWORD_MEMORY_KIB": "1024", **extra}
    if installation.settings.database.url:
        env["CHEVET_DATABASE_URL"] = installation.settings.database.url
    return env


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_one_box_server_runs_the_gateway_and_shows_its_events_live(installation: Installation,
                                                                          mail: None) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    box, gp = unique("secretariat", "ehpad.test"), unique("claire.martin", "gp.test")
    # A long IMAP wait: the mail must come through IDLE, and stopping must not wait for it.
    cfg = configure(installation.settings, org.slug, [nurse.email], box,
                    extra="poll_seconds = 600\noutbox_seconds = 0.5")
    server = Server(installation.settings, env={"CHEVET_MSSANTE_CONFIG": str(cfg.path)})
    stopped = False
    try:
        token = login(server.url, nurse)
        auth = {"Authorization": f"Bearer {token}"}
        ws = await _live(server.ws_url, token)
        conv = _exchange(server.url, auth, gp)
        sent_id = _send(server.url, auth, conv, "Bonjour Docteur, voici la lettre.", "l-1", receipt=True)

        # The outbox runs in the server: the sender sees « Envoyé » come in.
        ev = await _until(ws, lambda e: e.get("type") == "mssante.delivery" and e["state"] == "sent")
        assert ev["conversation_id"] == conv and ev["message_id"] == sent_id
        (raw,) = await asyncio.to_thread(mailbox_contents, gp, 1, 30)

        # The GP answers: the server's IMAP IDLE sees it, the reply is on the stream.
        inject(gp_answers(raw, gp, box, "Merci, je passe demain matin.", "r1@gp.test"), gp, [box])
        ev = await _until(ws, lambda e: e.get("type") == "message" and e["conversation_id"] == conv)
        assert ev["message"]["body"] == "Merci, je passe demain matin."
        assert ev["message"]["mssante"]["signature"] == "valid"

        # The GP's read receipt.
        inject(gp_receipt(raw, gp, box, "mdn1@gp.test"), gp, [box])
        ev = await _until(ws, lambda e: e.get("type") == "mssante.receipt")
        assert ev["conversation_id"] == conv and ev["disposition"] == "displayed"

        # A recipient the operator refuses: the author is told, live.
        refused = _exchange(server.url, auth, unique("refuse-dr", "gp.test"))
        failed_id = _send(server.url, auth, refused, "Adresse erronée", "l-2")
        ev = await _until(ws, lambda e: e.get("type") == "mssante.delivery_failed")
        assert ev["conversation_id"] == refused and ev["message_id"] == failed_id
        await ws.close()

        # Stopping the server stops the gateway: its IMAP session ends, and the process exits on
        # its own (SIGTERM) though IDLE had ten minutes left to wait.
        sessions = imap_sessions(box)
        assert sessions in (1, None), sessions
        server.proc.send_signal(signal.SIGTERM)
        try:
            code = server.proc.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail("the server did not stop: a gateway task or thread kept it alive")
        stopped = True
        server.log.close()
        log = (installation.settings.data_dir / f"server-{server.port}.log").read_text()
        # uvicorn ends by raising the signal again once the application has shut down.
        assert code in (0, -signal.SIGTERM), log
        assert "Application shutdown complete" in log
        assert "mssante gateway stopped" in log
        if sessions is not None:
            assert eventually(lambda: imap_sessions(box) == 0)
        # Nothing of the mail's content in the log.
        for secret in ("Merci, je passe", "Bonjour Docteur", gp, "Lettre de liaison"):
            assert secret not in log
    finally:
        if not stopped:
            server.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_separate_gateway_is_refused_without_a_shared_bus(installation: Installation) -> None:
    org = await new_org(installation.services)
    box = unique("sec", "ehpad.test")
    cfg = configure(installation.settings, org.slug, [], box)
    done = subprocess.run([sys.executable, "-m", "chevet.cli.main", "mssante", "run", "--data-dir",
                           str(installation.settings.data_dir)], env=_env(installation, cfg.path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "La passerelle MSSanté fonctionne dans « chevet serve »" in done.stderr, done.stderr
    assert imap_sessions(box) in (0, None)

    # Asking for a separate gateway without Redis is a configuration error, said at start-up.
    separate = cfg.path.with_name("separate.toml")
    separate.write_text('runs_in = "separate"\n' + cfg.path.read_text())
    serve = subprocess.run([sys.executable, "-m", "chevet.cli.main", "serve", "--data-dir",
                            str(installation.settings.data_dir), "--port", "1"],
                           env=_env(installation, separate), capture_output=True, text=True, timeout=60)
    assert serve.returncode == 2 and 'runs_in = "separate" needs redis_url' in serve.stderr, serve.stderr


def _worker(installation: Installation, config: Path, name: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = installation.settings.data_dir / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "chevet.cli.main", "mssante", "run", "--data-dir",
                                 str(installation.settings.data_dir)],
                                env=_env(installation, config, CHEVET_REDIS_URL=REDIS_URL),
                                stdout=subprocess.DEVNULL, stderr=out)
    return proc, log


def _lock_holder(folder: Path) -> int:
    """The process holding the mailbox's lock, as the kernel reports it (/proc/locks)."""
    (lock,) = folder.glob("*.lock")
    inode = os.stat(lock).st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "FLOCK" in fields and fields[-3].endswith(f":{inode}"):
            return int(fields[-4])
    raise AssertionError("nobody holds the mailbox lock")


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@pytest.mark.usefixtures("pg_required", "redis_required")
async def test_separate_gateway_reaches_the_server_through_redis(tmp_path: Path, mail: None) -> None:
    url = await create_pg_database()
    installation = await new_installation(tmp_path / "data", url, bus__redis_url=REDIS_URL)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        svc = installation.services
        org = await new_org(svc)
        nurse = await new_member(svc, org, "nurse")
        box, gp = unique("sec", "ehpad.test"), unique("dr", "gp.test")
        cfg = configure(installation.settings, org.slug, [nurse.email], box,
                        extra="poll_seconds = 2\noutbox_seconds = 0.5")
        server = Server(installation.settings, env={"CHEVET_MSSANTE_CONFIG": str(cfg.path),
                                                    "CHEVET_REDIS_URL": REDIS_URL})
        try:
            token = login(server.url, nurse)
            auth = {"Authorization": f"Bearer {token}"}
            ws = await _live(server.ws_url, token)
            conv = _exchange(server.url, auth, gp)
            sent_id = _send(server.url, auth, conv, "Bonjour", "w-1")
            # With Redis the server leaves the gateway to `chevet mssante run`: nothing goes yet.
            await asyncio.sleep(1.5)
            assert await asyncio.to_thread(mailbox_contents, gp, 1, 0) == []

            first, _ = _worker(installation, cfg.path, "worker-1")
            second, _ = _worker(installation, cfg.path, "worker-2")
            workers += [first, second]
            ev = await _until(ws, lambda e: e.get("type") == "mssante.delivery" and e["state"] == "sent")
            assert ev["message_id"] == sent_id
            (raw,) = await asyncio.to_thread(mailbox_contents, gp, 1, 30)
            # Two workers, one fetcher: a single IMAP session on the mailbox.
            sessions = imap_sessions(box)
            if sessions is not None:
                assert eventually(lambda: imap_sessions(box) == 1)
                await asyncio.sleep(3)   # more than poll_seconds: the other worker had its chance
                assert imap_sessions(box) == 1

            inject(gp_answers(raw, gp, box, "Reçu.", "w-reply@gp.test"), gp, [box])
            ev = await _until(ws, lambda e: e.get("type") == "message" and e["conversation_id"] == conv)
            assert ev["message"]["body"] == "Reçu."

            # The fetching worker dies without a word: the other one takes the mailbox over.
            holder = _lock_holder(installation.settings.data_dir / "mss" / "locks")
            (fetcher,) = [w for w in workers if w.pid == holder]
            fetcher.kill()
            fetcher.wait(10)
            inject(gp_answers(raw, gp, box, "Et une deuxième réponse.", "w-reply-2@gp.test"), gp, [box])
            ev = await _until(ws, lambda e: e.get("type") == "message" and e["conversation_id"] == conv)
            assert ev["message"]["body"] == "Et une deuxième réponse."
            await ws.close()
        finally:
            server.stop()
        (other,) = [w for w in workers if w.returncode is None]
        assert _stop(other) == 0, "the surviving worker did not stop cleanly"
    finally:
        for w in workers:
            _stop(w)
        await installation.close()
        await drop_pg_database(url)


async def test_stopping_the_server_mid_submission_loses_and_doubles_nothing(installation: Installation,
                                                                             mail: None) -> None:
    """SIGTERM while the server's outbox is talking to a hung operator: the server still stops,
    the message is not marked sent, and a later pass submits it once."""
    import uuid

    from chevet.app.mssante import exchanges as mssante
    from chevet.app.mssante import outbox as mssante_outbox

    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    box, gp = unique("secretariat", "ehpad.test"), unique("dr", "gp.test")
    with hung_operator() as port:
        hung = configure(installation.settings, org.slug, [nurse.email], box, smtp_port=port,
                         extra="lease_seconds = 2\noutbox_seconds = 0.5")
        # Retried one second after the hung attempt; the operator gets five seconds to answer.
        hung.path.write_text(hung.path.read_text().replace("retry_first_seconds = 60", "retry_first_seconds = 1")
                             .replace("timeout_seconds = 10", "timeout_seconds = 5"))
        server = Server(installation.settings, env={"CHEVET_MSSANTE_CONFIG": str(hung.path)})
        try:
            exchange = await mssante.open_exchange(svc, hung.runtime.gateway, nurse.actor, to=[gp], title="")
            conv = uuid.UUID(exchange["id"])
            await mssante.send(svc, hung.runtime.gateway, nurse.actor, conv, body="Urgent", client_id="s-1")
            state = None
            for _ in range(100):
                state = (await mssante.exchange_messages(svc, nurse.actor, conv))["messages"][0]["mssante"]["state"]
                if state == "sending":
                    break
                await asyncio.sleep(0.1)
            assert state == "sending"   # the server's outbox holds it, the operator says nothing
            server.proc.send_signal(signal.SIGTERM)
            try:
                code = server.proc.wait(30)
            except subprocess.TimeoutExpired:
                pytest.fail("the server did not stop while a submission hung")
        finally:
            server.stop()
        log = (installation.settings.data_dir / f"server-{server.port}.log").read_text()
        assert code in (0, -signal.SIGTERM) and "mssante gateway stopped" in log, log
    state = (await mssante.exchange_messages(svc, nurse.actor, conv))["messages"][0]["mssante"]["state"]
    assert state in ("sending", "pending")   # leased or to retry, never "sent"
    good = configure(installation.settings, org.slug, [nurse.email], box, name="ok.toml", extra="lease_seconds = 2")
    await asyncio.sleep(2.1)   # past the lease and the retry delay
    assert (await mssante_outbox.deliver_due(svc, good.runtime.gateway, good.runtime.submitter)).sent == 1
    assert (await mssante_outbox.deliver_due(svc, good.runtime.gateway, good.runtime.submitter)).sent == 0
    got = await asyncio.to_thread(mailbox_contents, gp, 1, 15)
    await asyncio.sleep(0.5)
    assert len(await asyncio.to_thread(mailbox_contents, gp, 1, 0)) == len(got) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_server_runs_the_smtp_listener_too(installation: Installation, mail: None) -> None:
    """An organisation with its own MSSanté domain: mail handed to the listener of the running
    server reaches the open stream; the listener closes with the server."""
    import smtplib
    import ssl

    from tests.integration.test_mssante_inbound import _mail
    from tests.mss_support import MAIL_DIR
    from tests.support import free_port

    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    box = unique("accueil", "ehpad.test")
    port = free_port()
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    whitelist = installation.settings.data_dir / "liste-blanche-source.xml"   # fetched by the server at start
    whitelist.write_text('<listeBlanche xmlns="urn:chevet:mssante:liste-blanche:1" '
                         f'dateGeneration="{datetime.now(UTC).isoformat()}"><operateur>'
                         "<domaine>gp.test</domaine></operateur></listeBlanche>")
    cfg.path.write_text(cfg.path.read_text() + f'''
[listener]
host = "127.0.0.1"
port = {port}
tls_certificate = "{MAIL_DIR / 'tls' / 'server.pem'}"
tls_key = "{MAIL_DIR / 'tls' / 'server.key'}"
operator_obligations_acknowledged = true

[listener.whitelist]
source = "{whitelist}"
''')
    server = Server(installation.settings, env={"CHEVET_MSSANTE_CONFIG": str(cfg.path)})
    client_tls = ssl.create_default_context(cafile=str(MAIL_DIR / "tls" / "ca.pem"))

    def hand_over() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.starttls(context=client_tls)
            s.sendmail("dr@gp.test", [box], _mail("dr@gp.test", box, "l-live@gp.test", "Par le listener"))

    try:
        token = login(server.url, nurse)
        ws = await _live(server.ws_url, token)
        await asyncio.to_thread(hand_over)
        ev = await _until(ws, lambda e: e.get("type") == "message")
        assert ev["message"]["body"] == "Par le listener"
        await ws.close()
    finally:
        server.stop()
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", port, timeout=5).quit()
    log = (installation.settings.data_dir / f"server-{server.port}.log").read_text()
    assert box not in log and "dr@gp.test" not in log and "Par le listener" not in log

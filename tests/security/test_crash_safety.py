"""Crash safety: senders keep posting while the server is killed with SIGKILL at random moments
and restarted. Clients retry every unacknowledged message with the same client_id. Afterwards
every acknowledged message is in the conversation exactly once, and nothing is there twice.

CHEVET_KILL_TRIALS sets the number of kills (20 by default, more under ./run.sh bench)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import httpx

from chevet.bootstrap import Installation
from tests.support import Server, login, new_member, new_org

TRIALS = int(os.environ.get("CHEVET_KILL_TRIALS", "20"))


def _restart(server: Server) -> None:
    """The same command on the same port, as a supervisor (systemd) would restart it."""
    env = {**os.environ, "CHEVET_PASSWORD_TIME_COST": "1", "CHEVET_PASSWORD_MEMORY_KIB": "1024"}
    if server.settings.database.url:
        env["CHEVET_DATABASE_URL"] = server.settings.database.url
    server.proc = subprocess.Popen(
        [sys.executable, "-m", "chevet.cli.main", "serve", "--data-dir", str(server.settings.data_dir),
         "--port", str(server.port)], env=env, stdout=server.log, stderr=subprocess.STDOUT)
    try:
        server.wait_ready(60)
    except RuntimeError:
        server.log.flush()
        raise RuntimeError((server.settings.data_dir / f"server-{server.port}.log").read_text()[-3000:]) from None


async def test_no_acknowledged_message_lost_or_duplicated(installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc, "crash")
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician")
    server = Server(installation.settings)
    token = login(server.url, nurse)
    auth = {"Authorization": f"Bearer {token}"}
    conv = httpx.post(f"{server.url}/api/v1/conversations", headers=auth,
                      json={"kind": "group", "title": "Nuit", "member_ids": [str(doctor.id)]}).json()
    acked: dict[str, str] = {}  # client_id → message id
    lock = threading.Lock()
    stop = threading.Event()
    rng = random.Random(int(os.environ.get("CHEVET_KILL_SEED", "8")))

    def sender(name: str) -> None:
        with httpx.Client(timeout=5) as client:  # one client per sender: a new one per request costs CPU
            send_all(name, client)

    def send_all(name: str, client: httpx.Client) -> None:
        i = 0
        while not stop.is_set():
            client_id = f"{name}-{i}"
            while not stop.is_set():
                try:
                    r = client.post(f"{server.url}/api/v1/conversations/{conv['id']}/messages", headers=auth,
                                    json={"body": f"message {client_id}", "client_id": client_id})
                except httpx.HTTPError:
                    time.sleep(0.05)
                    continue  # not acknowledged: retry with the same client_id
                if r.status_code == 201:
                    with lock:
                        assert acked.setdefault(client_id, r.json()["id"]) == r.json()["id"]
                    break
                time.sleep(0.05)
            i += 1

    threads = [threading.Thread(target=sender, args=(f"s{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    try:
        for _ in range(TRIALS):
            time.sleep(rng.uniform(0.05, 0.6))
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait()
            _restart(server)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    try:
        seen: dict[str, int] = {}
        after = 0
        while page := httpx.get(f"{server.url}/api/v1/conversations/{conv['id']}/messages", headers=auth,
                                params={"after_seq": after, "limit": 200}).json():
            for m in page:
                if m.get("body", "").startswith("message "):
                    cid = m["body"].removeprefix("message ")
                    seen[cid] = seen.get(cid, 0) + 1
            after = page[-1]["seq"]
        lost = [c for c in acked if c not in seen]
        twice = [c for c, n in seen.items() if n > 1]
        print(f"crash safety: {TRIALS} kills, {len(acked)} acknowledged, {len(lost)} lost, {len(twice)} duplicated")
        assert len(acked) > TRIALS
        assert not lost and not twice
    finally:
        server.stop()

"""Master-key rotation while the server runs: every data key is re-wrapped and every TOTP
secret re-sealed under the new key, the old key leaves the key file, messages sent before,
during and after stay readable, and signing in with TOTP still works."""

from __future__ import annotations

import subprocess
import sys
import threading

import httpx

from chevet.adapters.keys import read_key_file
from chevet.app.identity import keys as key_actions
from chevet.bootstrap import Installation, open_installation
from chevet.core.audit import INSTALLATION_CHAIN
from tests.support import Server, login, new_member, new_org


async def test_rotation_without_downtime(installation: Installation) -> None:
    svc = installation.services
    settings = installation.settings
    org = await new_org(svc, "rotation")
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician")
    server = Server(settings)
    try:
        auth = {"Authorization": f"Bearer {login(server.url, nurse)}"}
        conv = httpx.post(f"{server.url}/api/v1/conversations", headers=auth, json={
            "kind": "group", "title": "Transmissions", "member_ids": [str(doctor.id)]}).json()
        url = f"{server.url}/api/v1/conversations/{conv['id']}/messages"
        sent: list[str] = []
        stop = threading.Event()

        def keep_sending() -> None:
            i = 0
            while not stop.is_set() and i < 400:
                r = httpx.post(url, headers=auth, json={"body": f"relève {i}", "client_id": f"r-{i}"}, timeout=10)
                assert r.status_code == 201, r.text
                sent.append(f"relève {i}")
                i += 1

        sender = threading.Thread(target=keep_sending)
        sender.start()
        done = subprocess.run([sys.executable, "-m", "chevet.cli.main", "keys", "rotate", "--data-dir",
                               str(settings.data_dir), "--grace", "3"], capture_output=True, text=True,
                              env={"CHEVET_DATABASE_URL": settings.database.url or "", "PATH": ""}, timeout=120)
        stop.set()
        sender.join()
        assert done.returncode == 0, done.stderr
        keys, current = read_key_file(settings.key_file)
        assert current == 2 and set(keys) == {2}, "the old key is destroyed once nothing depends on it"

        # A new conversation (new data key) and every old message, through the same running server.
        texts: list[str] = []
        after = 0
        while page := httpx.get(url, headers=auth, params={"limit": 200, "after_seq": after}).json():
            texts += [m["body"] for m in page if m.get("type", "message") == "message" and "body" in m]
            after = page[-1]["seq"]
        assert sent and set(sent) <= set(texts), "every message sent before, during and after is readable"
        assert httpx.post(f"{server.url}/api/v1/conversations", headers=auth, json={
            "kind": "group", "title": "Après rotation", "member_ids": [str(doctor.id)]}).status_code == 201
        login(server.url, doctor)  # TOTP secret re-sealed under the new key
    finally:
        server.stop()

    fresh = open_installation(settings, with_bus=False)
    try:
        assert await key_actions.count_by_key(fresh.services) == {}
        async with fresh.services.db.transaction() as tx:
            actions = [e.action async for e in tx.audit.entries(INSTALLATION_CHAIN)]
        assert {"keys.key_added", "keys.rewrapped", "keys.retired"} <= set(actions)
    finally:
        await fresh.close()

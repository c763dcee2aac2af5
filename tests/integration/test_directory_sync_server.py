"""In the server: the scheduled sync deactivates a person who left the directory, and her open
live stream is closed at once (4401); ``chevet ldap sync`` previews, then applies."""

from __future__ import annotations

import asyncio
import json
import os

import orjson
import pytest
import websockets

from chevet.app.identity import people
from chevet.app.services import Actor
from chevet.bootstrap import Installation
from chevet.core.entities import PersonStatus
from tests import ldap_support
from tests.governance_support import cli
from tests.ldap_support import ADMIN_DN, ADMIN_PASSWORD, GROUPS, PEOPLE, Slapd, person_dn
from tests.support import Member, Server, login, new_member, new_org

slapd, directory = ldap_support.slapd, ldap_support.directory


def _env(url: str, slug: str, minutes: float = 0) -> dict[str, str]:
    return {"CHEVET_DIRECTORY_SYNC__ORGANISATION": slug, "CHEVET_DIRECTORY_SYNC__URL": url,
            "CHEVET_DIRECTORY_SYNC__START_TLS": "false", "CHEVET_DIRECTORY_SYNC__BIND_DN": ADMIN_DN,
            "CHEVET_DIRECTORY_SYNC__PASSWORD": ADMIN_PASSWORD, "CHEVET_DIRECTORY_SYNC__BASE_DN": PEOPLE,
            "CHEVET_DIRECTORY_SYNC__GROUP_BASE_DN": GROUPS,
            "CHEVET_DIRECTORY_SYNC__SCHEDULE_MINUTES": str(minutes),
            **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {})}


async def test_scheduled_sync_closes_a_leavers_stream(installation: Installation, directory: Slapd) -> None:
    svc = installation.services
    org = await new_org(svc)
    # Emma came from the directory and has enrolled: she is signed in with a live stream.
    added = await people.add_person(svc, org, email="emma.leroy@tilleuls.fr", name="Emma Leroy",
                                    role="care_assistant", password="un mot de passe long")
    emma = Member(Actor(added.person, org, None, "127.0.0.1"), "emma.leroy@tilleuls.fr", "un mot de passe long",
                  added.totp_secret)
    async with svc.unit() as u:
        await u.tx.directory_sync.adopt(org.id, added.person.id, person_dn("emma"))
    conn = directory.admin()
    server = Server(installation.settings, _env(directory.url, org.slug, minutes=0.02))
    try:
        token = login(server.url, emma)
        async with websockets.connect(f"{server.ws_url}/api/v1/stream?token={token}") as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
            conn.delete(person_dn("emma"))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 20)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    finally:
        conn.unbind()
        server.stop()
    async with svc.db.transaction() as tx:
        person = await tx.people.get(org.id, added.person.id)
    assert person is not None and person.status is PersonStatus.DEACTIVATED


async def test_cli_previews_then_applies(installation: Installation, directory: Slapd) -> None:
    org = await new_org(installation.services)
    await new_member(installation.services, org, "admin")
    env = _env(directory.url, org.slug)
    preview = cli(installation, "ldap", "sync", "--org", org.slug, env=env)
    assert preview.returncode == 0, preview.stderr
    assert orjson.loads(preview.stdout) == {"applied": False, "outcome": "done", "reason": None, "created": 5,
                                            "updated": 0, "deactivated": 0}
    applied = cli(installation, "ldap", "sync", "--org", org.slug, "--apply", env=env)
    assert orjson.loads(applied.stdout)["created"] == 5 and applied.returncode == 0
    assert ADMIN_PASSWORD not in applied.stdout + applied.stderr
    down = cli(installation, "ldap", "sync", "--org", org.slug, env={**env, "CHEVET_DIRECTORY_SYNC__URL":
                                                                     "ldap://127.0.0.1:9"})
    assert down.returncode == 1 and orjson.loads(down.stdout)["reason"] == "unreachable"

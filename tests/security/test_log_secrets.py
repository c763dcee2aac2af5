"""No secret reaches the server log, at the default level or at DEBUG (docs/api.md: the server
never logs the stream's ``token`` parameter; docs/hardening.md, ASVS 7.1.1).

A real ``chevet serve`` process is driven through everything that carries a secret in a URL, a
header or a body: API and page sign-in (passwords, TOTP codes, the session cookie), the stream
with ``?token=`` (accepted and refused), an invitation accepted by its code in the path, failing
and malformed requests, WebSocket rejections. Then its whole standard output and error are
searched for every one of those secrets, and for any query string."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import httpx
import pytest
import websockets

from chevet.bootstrap import Installation
from chevet.core import totp
from chevet.web.deps import SESSION_COOKIE
from tests.support import Server, login, new_member, new_org
from tests.web_client import Browserless

# A path, then "?" and a parameter: what a logged URL with its query string looks like.
QUERY_STRING = re.compile(r"[\w/.%-]\?[\w%.-]+=")


async def _refused(url: str, **kw: Any) -> None:
    """A stream the server refuses, at the handshake or by closing it at once."""
    with pytest.raises((websockets.InvalidStatus, websockets.ConnectionClosed)):
        async with websockets.connect(url, **kw) as ws:
            await ws.recv()
            await ws.recv()


async def _exercise(server: Server, installation: Installation) -> set[str]:
    """Drive the server through every secret-carrying request; return the secrets used."""
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin")
    nurse = await new_member(svc, org, "nurse")
    used = {admin.password, nurse.password, admin.totp_secret, nurse.totp_secret}
    url = server.url

    token = login(url, admin)
    used.add(token)
    bearer = {"Authorization": f"Bearer {token}"}
    wrong_password = f"faux-{secrets.token_hex(8)}"
    used.add(wrong_password)
    r = httpx.post(f"{url}/api/v1/auth/login", json={"email": nurse.email, "password": wrong_password,
                                                      "otp": nurse.otp()})
    assert r.status_code == 401
    otp = nurse.otp(-1)
    used.add(otp)
    assert httpx.post(f"{url}/api/v1/auth/login",
                      json={"email": nurse.email, "password": nurse.password, "otp": otp}).status_code in (401, 200)
    forged = secrets.token_urlsafe(32)
    used.add(forged)
    assert httpx.get(f"{url}/api/v1/conversations", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    conversations = httpx.get(f"{url}/api/v1/conversations?q=Dupont-{forged[:6]}&limit=5", headers=bearer)
    assert conversations.status_code < 500
    assert httpx.get(f"{url}/api/v1/nowhere?token={forged}", headers=bearer).status_code == 404
    bad_json = httpx.post(f"{url}/api/v1/conversations", headers={**bearer, "Content-Type": "application/json"},
                          content=f'{{"title": "{forged}"'.encode())
    assert bad_json.status_code == 400

    # The stream: accepted with ?token=; refused with a forged one, a cookie from a foreign origin, a
    # bad cursor, an unknown path.
    async with websockets.connect(f"{server.ws_url}/api/v1/stream?token={token}") as ws:
        assert "hello" in str(await ws.recv())
    await _refused(f"{server.ws_url}/api/v1/stream?token={forged}")
    await _refused(f"{server.ws_url}/api/v1/stream?since=%%%", origin="http://evil.example",
                   additional_headers={"Cookie": f"{SESSION_COOKIE}={token}"})
    async with websockets.connect(f"{server.ws_url}/api/v1/stream?token={token}&since=%%%") as ws:
        assert "cursors_invalid" in str(await ws.recv())
    await _refused(f"{server.ws_url}/api/v1/elsewhere?token={token}")

    # An invitation: its code travels in the path, the chosen password and first code in bodies.
    r = httpx.post(f"{url}/api/v1/users/invitations", headers=bearer,
                   json={"email": "aide@nuit.example", "name": "Aide de nuit", "role": "care_assistant"})
    assert r.status_code == 201, r.text
    code = r.json()["invitation_token"]
    chosen = f"phrase-{secrets.token_hex(8)}"
    used |= {code, chosen}
    assert httpx.get(f"{url}/api/v1/invitations/{code}").status_code == 200
    assert httpx.get(f"{url}/invitation/{code}").status_code == 200
    enrol = httpx.post(f"{url}/api/v1/invitations/{code}/accept", json={"password": chosen})
    assert enrol.status_code == 200, enrol.text
    new_secret = enrol.json()["totp_secret"]
    first = totp.code_at(new_secret, totp.step_of(time.time()))
    used |= {new_secret, first}
    assert httpx.post(f"{url}/api/v1/invitations/{code}/confirm", json={"otp": first}).status_code == 200
    assert httpx.get(f"{url}/api/v1/invitations/{code}").status_code == 404  # used: an error, logged or not

    # The pages: sign-in form and its session cookie, a page behind it.
    browser = Browserless(url)
    try:
        await browser.sign_in(nurse)
        cookie = browser.http.cookies.get(SESSION_COOKIE)
        assert cookie
        used.add(cookie)
        assert (await browser.get(f"/?q=Martin-{forged[:6]}")).status_code < 500
    finally:
        await browser.close()
    return {s for s in used if len(s) >= 6}


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_no_secret_and_no_query_string_in_the_server_log(installation: Installation, level: str) -> None:
    server = Server(installation.settings, env={"CHEVET_LOG_LEVEL": level})
    try:
        used = await _exercise(server, installation)
    finally:
        server.stop()
    log = (installation.settings.data_dir / f"server-{server.port}.log").read_text(errors="replace")
    assert '"logger":"chevet.access"' in log  # the log was written, at that level
    leaked = sorted(s[:8] + "…" for s in used if s in log)
    assert leaked == [], f"secrets in the {level} log: {leaked}"
    queries = QUERY_STRING.findall(log)
    assert queries == [], f"query strings in the {level} log: {queries[:5]}"
    assert "Bearer " not in log and f"{SESSION_COOKIE}=" not in log

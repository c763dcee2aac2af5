"""Guessing is limited: per-account lockout after five wrong attempts (password or TOTP), a
per-address limit on the sign-in, passkey, PSC and invitation endpoints, and a locked account
stays locked even with the right password and code."""

from __future__ import annotations

import secrets

import httpx

from chevet.bootstrap import Installation
from chevet.web.app import create_app
from tests.support import new_member, new_org


def client(installation: Installation) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(installation)), base_url="http://t")


async def test_wrong_totp_locks_the_account(installation: Installation) -> None:
    org = await new_org(installation.services)
    nurse = await new_member(installation.services, org)
    async with client(installation) as c:
        codes = []
        for _ in range(5):
            r = await c.post("/api/v1/auth/login", json={"email": nurse.email, "password": nurse.password,
                                                         "otp": "000000" if nurse.otp() != "000000" else "111111"})
            codes.append(r.status_code)
        assert codes == [401, 401, 401, 401, 429]
        r = await c.post("/api/v1/auth/login", json={"email": nurse.email, "password": nurse.password,
                                                     "otp": nurse.otp()})
        assert r.status_code == 429 and r.json()["code"] == "account_locked" and int(r.headers["retry-after"]) > 0


async def test_wrong_passwords_lock_and_recovery_codes_are_limited_too(installation: Installation) -> None:
    org = await new_org(installation.services)
    nurse = await new_member(installation.services, org)
    async with client(installation) as c:
        for i in range(5):
            r = await c.post("/api/v1/auth/login", json={"email": nurse.email, "password": f"wrong-{i}-pass",
                                                         "otp": "ABCD-EFGH-IJKL-MNOP"})
        assert r.status_code == 429
        # The re-authentication endpoint counts towards the same lockout.
        other = await new_member(installation.services, org)
        token = (await c.post("/api/v1/auth/login", json={"email": other.email, "password": other.password,
                                                          "otp": other.otp()})).json()["token"]
        statuses = [(await c.post("/api/v1/auth/reauthenticate", headers={"Authorization": f"Bearer {token}"},
                                  json={"password": "not-the-password", "otp": "123456"})).status_code
                    for _ in range(5)]
        assert statuses == [401, 401, 401, 401, 429]


async def test_per_address_limit_on_public_endpoints(installation: Installation) -> None:
    limit = installation.settings.sign_in.attempts_per_minute_per_ip
    async with client(installation) as c:
        body = {"email": "x@y.example", "password": "p" * 12, "otp": "1"}
        statuses = [(await c.post("/api/v1/auth/login", json=body)).status_code for _ in range(limit + 1)]
        assert statuses[:limit] == [401] * limit and statuses[-1] == 429
        # Passkey and PSC sign-ins draw on the same per-address budget.
        assert (await c.post("/api/v1/auth/passkey/login/options", json={})).status_code == 429
        assert (await c.get("/api/v1/auth/psc/authorize")).status_code == 429
        statuses = [(await c.get(f"/api/v1/invitations/{secrets.token_urlsafe(32)}")).status_code
                    for _ in range(limit + 1)]
        assert statuses[:limit] == [404] * limit and statuses[-1] == 429

"""Pro Santé Connect against a real OpenID provider on loopback and a real `chevet serve`:
the browser redirects, PKCE, acr eidas1, ID token checks, userinfo as JSON or JWT, linking by
RPPS (pre-linked or first login of an invitation), refusal of strangers, logout propagation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509

from chevet.app.identity import people
from chevet.bootstrap import Installation
from tests.mss_pki import TestCA, write_pem
from tests.oidc_provider import Provider
from tests.support import Server, new_member, new_org


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider()
    try:
        yield p
    finally:
        p.stop()


def psc_login(server: Server, provider: Provider) -> httpx.Response:
    """Walk the browser's redirects by hand; returns the callback's answer."""
    with httpx.Client(base_url=server.url) as browser:
        start = browser.get("/auth/psc/start")
        assert start.status_code == 303
        at_provider = httpx.get(start.headers["location"], verify=provider.verify)
        assert at_provider.status_code == 302
        back = urlsplit(at_provider.headers["location"])
        return browser.get(f"{back.path}?{back.query}")


async def test_psc_login_rules(installation: Installation, provider: Provider) -> None:
    svc = installation.services
    org = await new_org(svc, "clinique-psc")
    physician = await new_member(svc, org, "physician", "Paul Lefèvre")
    async with svc.db.transaction() as tx:  # an administrator pre-links the physician by RPPS
        from sqlalchemy import update

        from chevet.adapters.db.schema import person
        await tx.conn.execute(update(person).where(person.c.id == physician.id).values(rpps="10001234567"))  # type: ignore[attr-defined]
    invited = await people.invite_person(svc, org, None, email="ide@clinique.example", name="Inès Durand",
                                         role="nurse", rpps="10009876543")
    server = Server(installation.settings, env=provider.settings_env())
    try:
        # The authorization request is the one PSC expects.
        r = psc_login(server, provider)
        asked = provider.authorize_requests[-1]
        assert asked["scope"] == "openid scope_all" and asked["acr_values"] == "eidas1"
        assert asked["code_challenge_method"] == "S256" and asked["nonce"] and asked["state"]
        assert "code_verifier" in provider.token_requests[-1]
        assert r.status_code == 303, r.text
        token = r.cookies.get("chevet_session")
        me = httpx.get(f"{server.url}/api/v1/me", cookies={"chevet_session": token}).json()
        assert me["id"] == str(physician.id)
        sessions = httpx.get(f"{server.url}/api/v1/auth/sessions", cookies={"chevet_session": token}).json()
        assert [s["method"] for s in sessions if s["current"]] == ["psc"]

        # Logout propagates to the provider with the ID token as hint.
        out = httpx.post(f"{server.url}/auth/signout", cookies={"chevet_session": token})
        assert out.status_code == 303
        target = urlsplit(out.headers["location"])
        assert target.netloc == urlsplit(provider.url).netloc and target.path == "/logout"
        assert parse_qs(target.query)["id_token_hint"]
        assert httpx.get(f"{server.url}/api/v1/me", cookies={"chevet_session": token}).status_code == 401

        # Every doubtful answer is refused, and no session cookie is set.
        for mode in ("no_acr", "low_acr", "expired", "bad_signature", "wrong_nonce", "wrong_aud"):
            provider.mode = mode
            r = psc_login(server, provider)
            assert r.status_code == 401, (mode, r.status_code)
            assert "chevet_session" not in r.cookies, mode
        provider.mode = "userinfo_jwt"  # userinfo as a signed JWT is accepted
        assert psc_login(server, provider).status_code == 303

        # A stranger's card opens nothing; nobody self-registers.
        provider.mode, provider.subject_name_id = "ok", "810005555555"
        r = psc_login(server, provider)
        assert r.status_code == 401 and "Aucun compte" in r.text

        # The first login of an invited RPPS links and activates the account.
        provider.subject_name_id = "810009876543"
        r = psc_login(server, provider)
        assert r.status_code == 303
        me = httpx.get(f"{server.url}/api/v1/me", cookies={"chevet_session": r.cookies["chevet_session"]}).json()
        assert me["id"] == str(invited.person.id) and me["status"] == "active"

        # Re-authentication with the card before a sensitive action; another card is refused.
        session = r.cookies["chevet_session"]
        for subject, expected in (("810009876543", 303), ("810001234567", 401)):
            provider.subject_name_id = subject
            with httpx.Client(base_url=server.url, cookies={"chevet_session": session}) as browser:
                start = browser.get("/auth/psc/reauth")
                back = urlsplit(httpx.get(start.headers["location"]).headers["location"])
                assert browser.get(f"{back.path}?{back.query}").status_code == expected, subject
        async with svc.db.transaction() as tx:
            actions = [e.action for e in await tx.audit.query(org.id, actor_id=invited.person.id, limit=50)]
        assert actions.count("auth.reauthenticated") == 1

        # A callback without the browser's flow cookie (login CSRF) is refused.
        start = httpx.get(f"{server.url}/auth/psc/start")
        back = urlsplit(httpx.get(start.headers["location"]).headers["location"])
        assert httpx.get(f"{server.url}{back.path}?{back.query}").status_code == 401
    finally:
        server.stop()


async def test_token_endpoint_with_client_certificate(installation: Installation, tmp_path: Path) -> None:
    """Production PSC asks for the client's certificate at the token endpoint (mTLS) and Chevet
    checks the provider's certificate against the configured trust anchor."""
    svc = installation.services
    org = await new_org(svc, "clinique-mtls")
    physician = await new_member(svc, org, "physician", "Paul Lefèvre")
    async with svc.db.transaction() as tx:
        from sqlalchemy import update

        from chevet.adapters.db.schema import person
        await tx.conn.execute(update(person).where(person.c.id == physician.id).values(rpps="10001234567"))  # type: ignore[attr-defined]
    ca, rogue = TestCA("AC TEST PSC"), TestCA("AC INCONNUE")
    provider = Provider(tls=ca, require_client_cert=True)
    ours, theirs = ca.issue("chevet-clinique-mtls", client=True), rogue.issue("chevet-clinique-mtls", client=True)
    cert_env = {"CHEVET_PSC_CLIENT_CERT": str(write_pem(tmp_path / "client.pem", ours.pem())),
                "CHEVET_PSC_CLIENT_KEY": str(write_pem(tmp_path / "client.key", ours.key_pem()))}
    rogue_env = {"CHEVET_PSC_CLIENT_CERT": str(write_pem(tmp_path / "rogue.pem", theirs.pem())),
                 "CHEVET_PSC_CLIENT_KEY": str(write_pem(tmp_path / "rogue.key", theirs.key_pem()))}
    try:
        for env, expected, presented in ((cert_env, 303, "chevet-clinique-mtls"), ({}, 401, None)):
            server = Server(installation.settings, env={**provider.settings_env(), **env})
            try:
                r = psc_login(server, provider)
                assert r.status_code == expected, r.text
                pem = provider.client_certs[-1]
                cn = x509.load_pem_x509_certificate(pem.encode()).subject.rfc4514_string() if pem else None
                assert cn == (f"CN={presented}" if presented else None)
            finally:
                server.stop()
        # A certificate from another authority fails the handshake; the provider hears nothing.
        asked = len(provider.token_requests)
        server = Server(installation.settings, env={**provider.settings_env(), **rogue_env})
        try:
            r = psc_login(server, provider)
            assert r.status_code == 401 and len(provider.token_requests) == asked
        finally:
            server.stop()
        # Without the trust anchor, the provider's certificate is not trusted: nothing is sent.
        env = {k: v for k, v in provider.settings_env().items() if k != "CHEVET_PSC_CA_FILE"}
        server = Server(installation.settings, env={**env, **cert_env})
        try:
            r = psc_login(server, provider)
            assert r.status_code == 401 and len(provider.token_requests) == asked
        finally:
            server.stop()
    finally:
        provider.stop()

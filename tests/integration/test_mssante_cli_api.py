"""``chevet mssante check`` explains failures in plain words; the HTTP API of external exchanges."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from chevet.bootstrap import Installation
from tests.conftest import _require
from tests.mss_pki import crl
from tests.mss_support import MAIL_DIR, SMIME_CA, SMTP_CERT_PORT, configure, mail_available, unique
from tests.support import Server, login, new_member, new_org


@pytest.fixture
def mail() -> None:
    _require(mail_available(), "the loopback mail servers (.ci/setup-mail)")


def _check(installation: Installation, config: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHEVET_MSSANTE_CONFIG": config}
    if installation.settings.database.url:
        env["CHEVET_DATABASE_URL"] = installation.settings.database.url
    return subprocess.run([sys.executable, "-m", "chevet.cli.main", "mssante", "check", "--data-dir",
                           str(installation.settings.data_dir)], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_check_explains_what_is_wrong(installation: Installation, mail: None) -> None:
    org = await new_org(installation.services)
    box = unique("sec", "ehpad.test")
    ok = configure(installation.settings, org.slug, [], box)
    done = _check(installation, str(ok.path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SMTP 127.0.0.1:11587: ok (TLSv1." in done.stdout and "IMAP 127.0.0.1:11143: ok" in done.stdout
    assert "organisation certificate loaded" in done.stdout
    assert "revocation: not checked (no CRL configured" in done.stdout
    crls = installation.settings.data_dir / "crl"
    crls.mkdir()
    (crls / "igc.crl").write_bytes(crl(SMIME_CA, []))
    with_crl = configure(installation.settings, org.slug, [], box, name="crl.toml", extra=f'crl_directory = "{crls}"')
    done = _check(installation, str(with_crl.path))
    assert "revocation: 1 CRL(s) loaded; current for every trust anchor" in done.stdout, done.stdout

    wrong = configure(installation.settings, org.slug, [], box, password="wrong", name="wrong.toml")
    done = _check(installation, str(wrong.path))
    assert done.returncode == 1
    assert "refused the credentials" in done.stdout

    rogue = configure(installation.settings, org.slug, [], box, anchor=MAIL_DIR / "tls" / "rogue-ca.pem",
                      name="rogue.toml")
    done = _check(installation, str(rogue.path))
    assert done.returncode == 1 and "not signed by the configured trust anchor" in done.stdout

    cert = configure(installation.settings, org.slug, [], box, smtp_port=SMTP_CERT_PORT, client_cert=True,
                     name="cert.toml", extra="")
    done = _check(installation, str(cert.path))
    assert "SMTP 127.0.0.1:11588: ok" in done.stdout, done.stdout   # authenticated by the TLS client certificate

    missing = installation.settings.data_dir / "absent.toml"
    done = _check(installation, str(missing))
    assert done.returncode == 2 and "not configured" in done.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_exchange_over_http(installation: Installation, mail: None) -> None:
    svc = installation.services
    org, other = await new_org(svc), await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    stranger = await new_member(svc, other, "admin")
    # The server runs the gateway (SQLite, no Redis); its outbox waits long enough for the
    # message to be seen queued.
    cfg = configure(installation.settings, org.slug, [nurse.email], unique("sec", "ehpad.test"),
                    extra="outbox_seconds = 600")
    server = Server(installation.settings, env={"CHEVET_MSSANTE_CONFIG": str(cfg.path)})
    try:
        auth = {"Authorization": f"Bearer {login(server.url, nurse)}", "Accept-Language": "fr"}
        r = httpx.post(f"{server.url}/api/v1/mssante/exchanges", headers=auth,
                       json={"to": ["pas une adresse"], "title": "x"})
        assert r.status_code == 422 and r.json()["detail"] == "Adresse de messagerie sécurisée invalide."
        r = httpx.post(f"{server.url}/api/v1/mssante/exchanges", headers=auth,
                       json={"to": ["dr.martin@gp.test"], "title": "Sortie chambre 12"})
        assert r.status_code == 201, r.text
        conv = r.json()["id"]
        pdf = b"%PDF-1.4\n% cr\n%%EOF\n"
        r = httpx.post(f"{server.url}/api/v1/conversations/{conv}/attachments", headers=auth,
                       files={"file": ("cr.pdf", pdf, "application/pdf")})
        assert r.status_code == 201, r.text
        pdf_id = r.json()["id"]
        r = httpx.post(f"{server.url}/api/v1/mssante/exchanges/{conv}/messages", headers=auth, json={
            "body": "Bonjour", "client_id": "h-1", "subject": "Sortie", "request_receipt": True,
            "attachment_ids": [pdf_id]})
        assert r.status_code == 201, r.text
        # Already sent with the first message: not available again.
        r = httpx.post(f"{server.url}/api/v1/mssante/exchanges/{conv}/messages", headers=auth, json={
            "body": "x", "client_id": "h-2", "attachment_ids": [pdf_id]})
        assert r.status_code == 422 and r.json()["code"] == "attachment_not_available"
        r = httpx.post(f"{server.url}/api/v1/mssante/exchanges/{conv}/messages", headers=auth, json={
            "body": "x", "client_id": "h-3", "attachment_ids": ["pas-un-identifiant"]})
        assert r.status_code in (404, 422)
        listing = httpx.get(f"{server.url}/api/v1/mssante/exchanges/{conv}/messages", headers=auth).json()
        (msg,) = listing["messages"]
        assert msg["mssante"]["state"] == "pending" and msg["mssante"]["receipt_requested"]
        att = msg["mssante"]["attachments"][0]
        r = httpx.get(f"{server.url}/api/v1/attachments/{att['id']}", headers=auth)
        assert r.content == pdf and "cr.pdf" in r.headers["content-disposition"]

        stranger_auth = {"Authorization": f"Bearer {login(server.url, stranger)}"}
        assert httpx.get(f"{server.url}/api/v1/mssante/exchanges/{conv}/messages",
                         headers=stranger_auth).status_code == 404
        assert httpx.get(f"{server.url}/api/v1/attachments/{att['id']}",
                         headers=stranger_auth).status_code == 404
        r = httpx.post(f"{server.url}/api/v1/mssante/exchanges", headers=stranger_auth, json={"to": ["a@gp.test"]})
        assert r.status_code == 422 and r.json()["code"] == "mss_not_configured"
        assert httpx.get(f"{server.url}/api/v1/mssante/quarantine", headers=auth).status_code == 403
        assert httpx.get(f"{server.url}/api/v1/mssante/quarantine", headers=stranger_auth).json() == []
    finally:
        server.stop()

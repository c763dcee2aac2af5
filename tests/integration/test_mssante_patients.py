"""Writing to a patient through Mon espace santé, on real Postfix and Dovecot, SQLite and PostgreSQL.

References:
- MSSanté Référentiel #2 (clients de messageries sécurisées de santé): ECO.2.4.2 ``X-MSS-INS``
  (``O`` when a qualified INS travels with the CDA, ``N`` otherwise, absent without CDA) and
  ECO.2.2.8 ``X-MSS-MES: FIN`` (to a patient through Mon espace santé, replies not expected);
  patient addresses ``<matricule INS>@patient.mssante.fr`` (Réf #2 §3.4.2.3 as quoted by
  integrators).
- Référentiel national d'identitovigilance (RNIV) volet 1: only a *qualified* identity (validated
  and INS retrieved or verified through INSi) may carry the INS in exchanges.
- CNIL / PGSSI-S: the INS and the traits are health identifiers: kept sealed in the exchange,
  never in a care case's reference, the audit trail or logs.
"""

from __future__ import annotations

import html
import logging
import random
import re
import subprocess
import uuid
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
import pytest

from chevet.app.mssante import exchanges
from chevet.app.mssante import outbox as mssante_outbox
from chevet.bootstrap import Installation
from chevet.core.errors import InvalidInput
from chevet.core.mssante import xdm
from chevet.core.mssante.patient import INS_NIR_TEST, matricule_key
from tests.conftest import _require
from tests.mss_support import SMIME_CA, configure, mail_available, mailbox_contents, unique, upload
from tests.support import new_member, new_org

PATIENT_DOMAIN = "patient.mssante.fr"
# A CDA R2 header without any INS of its own: the exchange's qualified patient is what travels.
CDA = (b'<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3">'
       b'<code code="11488-4" codeSystem="2.16.840.1.113883.6.1"/><recordTarget><patientRole>'
       b'<id root="1.2.250.1.71.4.2.7" extension="EHPAD-42"/></patientRole></recordTarget></ClinicalDocument>')


def _patient_domain_delivered() -> bool:
    try:
        done = subprocess.run(["postconf", "-c", "/etc/postfix-chevet-mss", "-h", "virtual_mailbox_domains"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return PATIENT_DOMAIN in done.stdout.split()


@pytest.fixture
def mail() -> None:
    _require(mail_available(), "the loopback mail servers (.ci/setup-mail)")
    _require(_patient_domain_delivered(), f"{PATIENT_DOMAIN} delivered by the test Postfix (.ci/setup-mail)")


def _matricule() -> str:
    """A fresh, well-formed test matricule (a woman born in Seine-Maritime), so that each run
    writes to an empty Mon espace santé mailbox."""
    first13 = f"2{random.randint(40, 99):02d}{random.randint(1, 12):02d}76{random.randint(0, 999_999):06d}"
    return f"{first13}{matricule_key(first13):02d}"


def _typed(ins: str, status: str = "QUAL") -> dict[str, str]:
    return {"birth_name": "Lefèvre", "first_given_name": "Jeanne", "given_names": "Jeanne Marie",
            "birth_date": "1938-04-17", "sex": "F", "birth_place": "76540", "ins": ins, "ins_oid": INS_NIR_TEST,
            "status": status}


def _openssl_content(raw: bytes, tmp: Path) -> bytes:
    (tmp / "in.eml").write_bytes(raw)
    (tmp / "ca.pem").write_bytes(SMIME_CA.pem())
    out = subprocess.run(["openssl", "cms", "-verify", "-in", str(tmp / "in.eml"), "-CAfile", str(tmp / "ca.pem")],
                         capture_output=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


async def test_a_patient_is_written_to_only_with_her_qualified_ins(installation: Installation, mail: None,
                                                                   tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Without an identity, with a validated (not qualified) one, with another patient's INS:
    refused in French, nothing queued, nothing reaches the operator. With her qualified INS: the
    mail reaches her Mon espace santé mailbox with ``X-MSS-INS: O`` (ECO.2.4.2) and, replies not
    expected, ``X-MSS-MES: FIN`` (ECO.2.2.8); the next message reuses the identity kept in the
    exchange and, replies allowed, carries no ``X-MSS-MES``."""
    caplog.set_level(logging.DEBUG)
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    box = unique("secretariat", "ehpad.test")
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    gw = cfg.runtime.gateway
    ins = _matricule()
    patient_address = f"{ins}@{PATIENT_DOMAIN}"
    conv = uuid.UUID((await exchanges.open_exchange(svc, gw, nurse.actor, to=[patient_address], title=""))["id"])

    refusals = [(None, "mss_patient_identity_required"),
                (exchanges.entered_patient(svc, _typed(ins, "VALI")), "mss_patient_not_qualified"),
                (exchanges.entered_patient(svc, _typed(ins, "RECUP")), "mss_patient_not_qualified"),
                (exchanges.entered_patient(svc, _typed(_matricule())), "mss_patient_address_mismatch")]
    for n, (identity, code) in enumerate(refusals):
        with pytest.raises(InvalidInput) as refused:
            await exchanges.send(svc, gw, nurse.actor, conv, body="Votre compte rendu", client_id=f"r-{n}",
                                 patient=identity)
        assert refused.value.code == code
    view = await exchanges.exchange_messages(svc, nurse.actor, conv)
    assert view["messages"] == [] and "patient" not in view and view["to_patient"]
    assert (await mssante_outbox.deliver_due(svc, gw, cfg.runtime.submitter)).sent == 0

    qualified = exchanges.entered_patient(svc, _typed(ins))
    assert qualified is not None and qualified.qualified and qualified.birth_name == "LEFEVRE"
    cda_id = await upload(svc, nurse.actor, conv, CDA, "lettre-de-liaison.xml")
    await exchanges.send(svc, gw, nurse.actor, conv, body="Votre lettre de liaison.", client_id="ok-1",
                         attachment_ids=[cda_id], patient=qualified, replies_blocked=True)
    await exchanges.send(svc, gw, nurse.actor, conv, body="Rendez-vous jeudi.", client_id="ok-2")
    # A package made elsewhere travels as it is: its CDA names no INS, so X-MSS-INS says N.
    ready = await upload(svc, nurse.actor, conv, xdm.build_xdm([xdm.XdmDocument("DOC0001.XML", "text/xml", CDA)],
                                                               submitted=svc.clock.now()), xdm.XDM_NAME)
    await exchanges.send(svc, gw, nurse.actor, conv, body="Paquet du laboratoire.", client_id="ok-3",
                         attachment_ids=[ready])
    assert (await mssante_outbox.deliver_due(svc, gw, cfg.runtime.submitter)).sent == 3

    by_text = {next(t for t in ("liaison", "Rendez-vous", "laboratoire") if t in m.as_string()): m
               for m in (message_from_bytes(raw) for raw in mailbox_contents(patient_address, expect=3))}
    first, second, third = by_text["liaison"], by_text["Rendez-vous"], by_text["laboratoire"]
    assert first["To"] == second["To"] == third["To"] == patient_address
    assert (first["X-MSS-INS"], first["X-MSS-MES"], first["X-MSS-CODECDA"]) == ("O", "FIN", "11488-4")
    assert (second["X-MSS-INS"], second["X-MSS-MES"]) == (None, None)   # no CDA, replies allowed
    assert (third["X-MSS-INS"], third["X-MSS-MES"]) == ("N", None)
    inner = message_from_bytes(_openssl_content(first.as_bytes(), tmp_path))
    (package,) = [p for p in inner.walk() if p.get_filename() == xdm.XDM_NAME]
    assert xdm.read_xdm(package.get_payload(decode=True)).documents

    shown = await exchanges.exchange_messages(svc, nurse.actor, conv)
    patient = shown.get("patient")
    assert patient is not None and (patient["status"], patient["ins"], patient["qualified"]) == ("QUAL", ins, True)
    assert [m["mssante"]["state"] for m in shown["messages"]] == ["sent", "sent", "sent"]

    # The identity is in the exchange only: not in the conversation's reference, the audit trail
    # or the logs; on SQLite, not readable in the database file.
    async with svc.db.transaction() as tx:
        stored = await tx.conversations.get(org.id, conv)
        trail = await tx.audit.query(org.id, limit=500)
    assert stored is not None and stored.ref_sealed is None
    assert not any(ins in repr(e.detail) or "LEFEVRE" in repr(e.detail) for e in trail)
    assert {e.detail.get("patient_status") for e in trail if e.action == "mssante.message_queued"} == {"QUAL"}
    assert ins not in caplog.text and "LEFEVRE" not in caplog.text
    if installation.settings.database.url is None:
        db = b"".join(f.read_bytes() for f in installation.settings.data_dir.glob("chevet.db*"))   # and its WAL
        assert db and b"LEFEVRE" not in db and b"1938-04-17" not in db and ins.encode() not in db


async def _send_form(client: Any, conv: str, fields: dict[str, str]) -> httpx.Response:
    """The composer as a browser posts it: one multipart form (no file chosen)."""
    token = await client.csrf(f"/mssante/x/{conv}")
    parts = {k: (None, v.encode()) for k, v in {**fields, "csrf": token, "action": "send"}.items()}
    response: httpx.Response = await client.http.post(f"/mssante/x/{conv}/send", files=parts)
    return response


async def test_the_exchange_page_asks_for_the_identity_and_says_why_it_refuses(installation: Installation,
                                                                              mail: None) -> None:
    """The composer of an exchange with a patient asks for the identity traits, the INS and its
    RNIV status; a validated identity is refused in French (English on request) and what was
    typed stays in the form; a qualified one is sent with the "replies not expected" choice."""
    from chevet.web.app import create_app
    from tests.web_client import Browserless

    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    box = unique("secretariat", "ehpad.test")
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    installation_gw = cfg.runtime
    ins = _matricule()
    patient_address = f"{ins}@{PATIENT_DOMAIN}"
    conv = (await exchanges.open_exchange(svc, cfg.runtime.gateway, nurse.actor, to=[patient_address],
                                          title=""))["id"]
    app = create_app(installation)
    app.state.mssante_runtime = installation_gw
    client = Browserless(app=app)
    try:
        await client.sign_in(nurse)
        page = await client.get(f"/mssante/x/{conv}")
        assert page.status_code == 200
        assert 'name="patient_ins"' in page.text and 'name="replies_blocked"' in page.text
        assert "Statut de l'identité" in html.unescape(page.text)
        # The lists always send a value: alone, they are no identity.
        bare = await _send_form(client, conv, {"body": "x", "client_id": "w-0", "patient_ins_oid": INS_NIR_TEST,
                                               "patient_status": "", "patient_sex": ""})
        assert bare.status_code == 422 and "renseignez son identité qualifiée" in html.unescape(bare.text)
        fields = {f"patient_{k}": v for k, v in _typed(ins, "VALI").items()}
        refused = await _send_form(client, conv, {"body": "Votre compte rendu", "client_id": "w-1", **fields})
        assert refused.status_code == 422
        text = html.unescape(refused.text)
        assert "Envoi refusé : l'identité de ce patient n'est pas qualifiée" in text
        assert 'value="LEFEVRE"' not in refused.text and 'value="Lefèvre"' in text   # as typed, to correct
        fields["patient_status"] = "QUAL"
        sent = await _send_form(client, conv, {"body": "Votre compte rendu", "client_id": "w-2",
                                               "replies_blocked": "1", **fields})
        assert sent.status_code in (302, 303), sent.text
        again = await client.get(f"/mssante/x/{conv}")
        assert re.search(r"Identité : LEFEVRE JEANNE, né\(e\) le 17/04/1938 · Qualifiée",
                         html.unescape(again.text))
    finally:
        await client.close()
    assert (await mssante_outbox.deliver_due(svc, cfg.runtime.gateway, cfg.runtime.submitter)).sent == 1
    (raw,) = mailbox_contents(patient_address)
    assert message_from_bytes(raw)["X-MSS-MES"] == "FIN"


async def test_the_api_takes_the_identity_and_refuses_in_the_callers_language(installation: Installation,
                                                                             mail: None) -> None:
    """``POST /api/v1/mssante/exchanges/{id}/messages`` with ``patient``: a mistyped INS key and a
    validated identity are refused as problems (RFC 9457) with their code, in French or English;
    a qualified one is queued and the exchange then shows its status."""
    from chevet.web.app import create_app

    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    cfg = configure(installation.settings, org.slug, [nurse.email], unique("secretariat", "ehpad.test"))
    ins = _matricule()
    conv = (await exchanges.open_exchange(svc, cfg.runtime.gateway, nurse.actor, to=[f"{ins}@{PATIENT_DOMAIN}"],
                                          title=""))["id"]
    app = create_app(installation)
    app.state.mssante_runtime = cfg.runtime
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chevet.test",
                                 timeout=30) as c:
        r = await c.post("/api/v1/auth/login", json={"email": nurse.email, "password": nurse.password,
                                                      "otp": nurse.otp()})
        auth = {"Authorization": f"Bearer {r.json()['token']}"}
        url = f"/api/v1/mssante/exchanges/{conv}/messages"
        wrong_key = ins[:13] + f"{(int(ins[13:]) + 1) % 100:02d}"
        r = await c.post(url, headers={**auth, "Accept-Language": "fr"},
                         json={"body": "x", "client_id": "a-1", "patient": _typed(wrong_key)})
        assert r.status_code == 422 and r.json()["code"] == "mss_patient_ins_invalid"
        assert r.json()["detail"].startswith("Matricule INS invalide")
        r = await c.post(url, headers={**auth, "Accept-Language": "en"},
                         json={"body": "x", "client_id": "a-2", "patient": _typed(ins, "VALI")})
        assert r.status_code == 422 and r.json()["code"] == "mss_patient_not_qualified"
        assert r.json()["detail"].startswith("Not sent: this patient's identity is not qualified")
        r = await c.post(url, headers=auth, json={"body": "x", "client_id": "a-3", "patient": _typed(ins),
                                                  "replies_blocked": True})
        assert r.status_code == 201, r.text
        shown = (await c.get(url, headers=auth)).json()
    assert shown["to_patient"] and shown["patient"]["status"] == "QUAL" and shown["patient"]["qualified"]

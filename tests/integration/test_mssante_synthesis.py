"""« Synthèse de suivi »: from a care case to a GP's MSSanté mailbox, on the real Postfix and
Dovecot of the tests and on SQLite and PostgreSQL. What arrives is read as the GP's software
would: the stdlib ``email`` parser, ``openssl cms -verify`` for the signature, ``zipfile`` and
ElementTree for the IHE_XDM package and the CDA, pypdf for the PDFs.

References: MSSanté Réf #2 ECO.2.4.1 (X-MSS-CODECDA), ECO.2.4.2 (X-MSS-INS); IHE ITI TF-3 §4.2
(XDM package), HL7 CDA R2 §4.3.5 (nonXMLBody), CI-SIS Structuration minimale (header).
"""

from __future__ import annotations

import base64
import io
import re
import subprocess
import uuid
import zipfile
from datetime import date
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from xml.etree import ElementTree as ET

import pypdf
import pytest

from chevet.app.care import handovers
from chevet.app.messaging import conversations, messages
from chevet.app.mssante import outbox as mssante_outbox
from chevet.app.mssante import synthesis
from chevet.bootstrap import Installation
from chevet.bootstrap.mssante import load_gateway
from chevet.core.errors import Forbidden, InvalidInput, NotFound
from chevet.core.mssante.patient import INS_NIR_TEST, IdentityStatus, PatientIdentity, Sex
from tests.conftest import _require
from tests.mss_support import SMIME_CA, configure, mail_available, mailbox_contents, unique
from tests.support import new_member, new_org

H = {"h": "urn:hl7-org:v3"}
RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
QUALIFIED = PatientIdentity("Dupont", "Jeanne", date(1940, 3, 12), Sex.FEMALE, IdentityStatus.QUALIFIED,
                            ins="279035121518989", ins_oid=INS_NIR_TEST)


@pytest.fixture
def mail() -> None:
    _require(mail_available(), "the loopback mail servers (.ci/setup-mail)")


def _verified(raw: bytes, tmp: Path) -> bytes:
    (tmp / "in.eml").write_bytes(raw)
    (tmp / "ca.pem").write_bytes(SMIME_CA.pem())
    out = subprocess.run(["openssl", "cms", "-verify", "-in", str(tmp / "in.eml"), "-CAfile", str(tmp / "ca.pem")],
                         capture_output=True, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout


async def test_a_nurse_sends_a_synthesis_from_a_care_case_to_a_gp(installation: Installation, mail: None,
                                                                 tmp_path: Path) -> None:
    """The picked message and handover note arrive as a PDF and as a CDA R2 level 1 in
    IHE_XDM.zip, signed; the headers announce the CDA type and the qualified INS; the care
    case keeps no trace of the patient's identity."""
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse", "Claire Martin")
    box, gp = unique("infirmerie", "ehpad.test"), unique("dr-synthese", "gp.test")
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    # The establishment's FINESS and kind, on its mailbox (the [[mailboxes]] table ends the file).
    cfg.path.write_text(cfg.path.read_text() + 'finess = "750000001"\nfacility_type = "SA17"\n')
    runtime = load_gateway(installation.settings, cfg.path)
    assert runtime is not None
    cfg.runtime = runtime
    care, _ = await conversations.create_conversation(svc, nurse.actor, kind="care_case", title="Ch. 12",
                                                      member_ids=[], care_case_ref="CH12")
    care_id = uuid.UUID(care["id"])
    await messages.send_message(svc, nurse.actor, care_id, body="Tension 13/8, a bien mangé.", client_id="c-1")
    await messages.send_message(svc, nurse.actor, care_id, body="Ne pas inclure ceci.", client_id="c-2")
    await handovers.write(svc, nurse.actor, care_id, target="Chute", data="Trouvée au sol à 6 h",
                          actions="Surveillance neurologique", results="Consciente")

    offered = await synthesis.choices(svc, nurse.actor, care_id)
    assert {i.kind for i in offered.items} == {"message", "handover"}
    picked = [i.key for i in offered.items if "Ne pas" not in i.text]
    sent = await synthesis.send(svc, cfg.runtime.gateway, nurse.actor, care_id, to=gp, picked=picked,
                                patient=QUALIFIED, client_id="s-1")
    assert (await mssante_outbox.deliver_due(svc, cfg.runtime.gateway, cfg.runtime.submitter)).sent == 1
    # The same form again (a second tap): the first sending, no second exchange, no second mail.
    again = await synthesis.send(svc, cfg.runtime.gateway, nurse.actor, care_id, to=gp, picked=picked,
                                 patient=QUALIFIED, client_id="s-1")
    assert again == sent
    assert (await mssante_outbox.deliver_due(svc, cfg.runtime.gateway, cfg.runtime.submitter)).sent == 0

    (raw,) = mailbox_contents(gp)
    outer = message_from_bytes(raw)
    assert outer["X-MSS-CODECDA"] == "34133-9"
    assert outer["X-MSS-INS"] == "O"
    subject = str(make_header(decode_header(outer["Subject"])))
    assert subject == "Synthèse de suivi"   # headers travel outside S/MIME: no patient in them
    inner = message_from_bytes(_verified(raw, tmp_path))
    files = {p.get_filename(): p.get_payload(decode=True) for p in inner.walk() if p.get_filename()}
    pdf = files["synthese-de-suivi.pdf"]
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "Tension 13/8" in text and "Trouvée au sol" in text and "Ne pas inclure" not in text
    assert "DUPONT Jeanne" in text

    with zipfile.ZipFile(io.BytesIO(files["IHE_XDM.zip"])) as z:
        documents = [n for n in z.namelist() if n.startswith("IHE_XDM/") and n.upper().endswith(".XML")
                     and not n.upper().endswith("METADATA.XML")]
        assert len(documents) == 1
        root = ET.fromstring(z.read(documents[0]))
        (meta_name,) = [n for n in z.namelist() if n.upper().endswith("METADATA.XML")]
        meta = ET.fromstring(z.read(meta_name))
    # The receiving platform's view (IHE ITI TF-3 §4.2.3.2): the document entry's typeCode is
    # the CDA's code, its patientId the qualified INS under its OID (CX, ISO assigning authority).
    (entry,) = meta.iter(f"{{{RIM}}}ExtrinsicObject")
    types = [c.get("nodeRepresentation") for c in entry.iter(f"{{{RIM}}}Classification")
             if c.get("classificationScheme") == "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"]
    assert types == ["34133-9"]
    patient_ids = [x.get("value") for x in entry.iter(f"{{{RIM}}}ExternalIdentifier")
                   if x.get("identificationScheme") == "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"]
    assert len(patient_ids) == 1 and patient_ids[0].startswith(f"279035121518989^^^&{INS_NIR_TEST}&ISO")
    assert root.tag == "{urn:hl7-org:v3}ClinicalDocument"
    assert root.find("h:code", H).get("code") == "34133-9"  # type: ignore[union-attr]
    ids = [(i.get("root"), i.get("extension")) for i in root.findall("h:recordTarget/h:patientRole/h:id", H)]
    assert (INS_NIR_TEST, "279035121518989") in ids
    assert root.find("h:author/h:assignedAuthor/h:assignedPerson/h:name/h:family", H).text == "Martin"  # type: ignore[union-attr]
    custodian = root.find("h:custodian/h:assignedCustodian/h:representedCustodianOrganization/h:id", H)
    assert custodian is not None and custodian.get("extension") == "1750000001"   # "1" + FINESS (CI-SIS)
    facility = root.find("h:componentOf/h:encompassingEncounter/h:location/h:healthCareFacility/h:code", H)
    assert facility is not None and facility.get("code") == "SA17"
    body = root.find("h:component/h:nonXMLBody/h:text", H)
    assert body is not None and body.get("mediaType") == "application/pdf"
    assert base64.b64decode(body.text or "") == pdf

    # The care case itself: no message, title or reference names the patient.
    after = await messages.history(svc, nurse.actor, care_id)
    assert not any("Dupont" in str(m).lower() or "DUPONT" in str(m) or "279035121518989" in str(m) for m in after)
    assert sent.exchange_id != care_id


async def test_refusals_change_nothing(installation: Installation) -> None:
    """Nothing picked, an entry of another care case, or a patient's address without a
    qualified INS: refused with a code, before any exchange is opened. Someone outside the care
    case (another establishment, or a colleague who is not a member) reads nothing of it."""
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse", "Claire Martin")
    box = unique("infirmerie", "ehpad.test")
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    care, _ = await conversations.create_conversation(svc, nurse.actor, kind="care_case", title="Ch. 3",
                                                      member_ids=[], care_case_ref="CH3")
    care_id = uuid.UUID(care["id"])
    await messages.send_message(svc, nurse.actor, care_id, body="Bonne nuit.", client_id="c-1")
    before = len(await conversations.list_conversations(svc, nurse.actor))
    provisional = PatientIdentity("Dupont", "Jeanne", date(1940, 3, 12), Sex.FEMALE, IdentityStatus.PROVISIONAL)
    cases = [
        ({"to": unique("dr", "gp.test"), "picked": [], "patient": QUALIFIED}, "synthesis_nothing_picked"),
        ({"to": unique("dr", "gp.test"), "picked": [f"m-{uuid.uuid4()}"], "patient": QUALIFIED},
         "synthesis_item_unknown"),
        ({"to": "279035121518989@patient.mssante.fr", "picked": ["x"], "patient": provisional},
         "mss_patient_not_qualified"),
    ]
    for kw, code in cases:
        with pytest.raises(InvalidInput) as exc:
            await synthesis.send(svc, cfg.runtime.gateway, nurse.actor, care_id, client_id="s", **kw)  # type: ignore[arg-type]
        assert exc.value.code == code
    # Another establishment's nurse, or a colleague outside this care case: nothing to read or send.
    stranger = await new_member(svc, await new_org(svc), "nurse")
    colleague = await new_member(svc, org, "nurse")
    for outsider in (stranger, colleague):
        with pytest.raises((NotFound, Forbidden)):
            await synthesis.choices(svc, outsider.actor, care_id)
    group, _ = await conversations.create_conversation(svc, nurse.actor, kind="group", title="Équipe", member_ids=[])
    with pytest.raises(InvalidInput) as exc:
        await synthesis.choices(svc, nurse.actor, uuid.UUID(group["id"]))
    assert exc.value.code == "synthesis_only_care_case"
    assert len(await conversations.list_conversations(svc, nurse.actor)) == before + 1   # only the group


async def test_two_taps_from_the_care_case_page(installation: Installation, mail: None) -> None:
    """Without script, as a phone browser: the care case offers « Synthèse »; the page lists the
    week's entries already ticked; « Rechercher » keeps what was typed (and puts nothing of the
    patient in a URL); a wrong birth date is answered in French with the form kept; « Envoyer »
    leaves through the outbox and lands on the exchange."""
    import html

    from chevet.web.app import create_app
    from tests.web_client import Browserless

    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse", "Claire Martin")
    box, gp = unique("infirmerie", "ehpad.test"), unique("dr-page", "gp.test")
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    care, _ = await conversations.create_conversation(svc, nurse.actor, kind="care_case", title="Ch. 7",
                                                      member_ids=[], care_case_ref="CH7")
    care_id = care["id"]
    await messages.send_message(svc, nurse.actor, uuid.UUID(care_id), body="Pansement refait, plaie propre.",
                                client_id="c-1")
    app = create_app(installation)
    app.state.mssante_runtime = cfg.runtime
    client = Browserless(app=app)
    try:
        await client.sign_in(nurse)
        conv_page = await client.get(f"/c/{care_id}")
        assert f'href="/c/{care_id}/synthese"' in conv_page.text
        page = await client.get(f"/c/{care_id}/synthese")
        assert page.status_code == 200
        (pick,) = re.findall(r'name="pick" value="([^"]+)" checked', page.text)
        fields = {"birth_name": "Dupont", "first_given_name": "Jeanne", "birth_date": "1940-03-12", "sex": "F",
                  "ins": "", "ins_kind": "nir", "status": "PROV", "pick": pick, "client_id": "p-1"}
        searched = await client.post(f"/c/{care_id}/synthese", {**fields, "action": "search", "q": "cardio"},
                                     from_page=f"/c/{care_id}/synthese")
        assert searched.status_code == 200 and 'value="Dupont"' in searched.text
        wrong = await client.post(f"/c/{care_id}/synthese", {**fields, "birth_date": "1940-13-40", "other": gp,
                                                             "action": "send"}, from_page=f"/c/{care_id}/synthese")
        assert wrong.status_code == 422
        assert "Date de naissance invalide." in html.unescape(wrong.text)
        assert 'value="Dupont"' in wrong.text and f'value="{gp}"' in wrong.text
        sent = await client.post(f"/c/{care_id}/synthese", {**fields, "other": gp, "action": "send"},
                                 from_page=f"/c/{care_id}/synthese")
        assert sent.status_code == 303, sent.text[:2000]
        assert sent.headers["location"].startswith("/mssante/x/") and "Dupont" not in sent.headers["location"]
    finally:
        await client.close()
    assert (await mssante_outbox.deliver_due(svc, cfg.runtime.gateway, cfg.runtime.submitter)).sent == 1
    (raw,) = mailbox_contents(gp)
    outer = message_from_bytes(raw)
    assert outer["X-MSS-CODECDA"] == "34133-9" and outer["X-MSS-INS"] == "N"   # not qualified: no INS


async def test_without_mssante_the_care_case_offers_no_synthesis_and_the_page_says_why(
        installation: Installation) -> None:
    """An establishment without the gateway: no « Synthèse » button, and an old link to the page
    lands on a page saying MSSanté is not configured here (no form, no error status)."""
    import html

    from chevet.web.app import create_app
    from tests.web_client import Browserless

    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse", "Claire Martin")
    care, _ = await conversations.create_conversation(svc, nurse.actor, kind="care_case", title="Ch. 9",
                                                      member_ids=[], care_case_ref="CH9")
    client = Browserless(app=create_app(installation))
    try:
        await client.sign_in(nurse)
        conv_page = await client.get(f"/c/{care['id']}")
        assert conv_page.status_code == 200 and f"/c/{care['id']}/synthese" not in conv_page.text
        page = await client.get(f"/c/{care['id']}/synthese")
        assert page.status_code == 200 and "n'est pas configurée" in html.unescape(page.text), page.text[:1500]
        assert 'action="/c/' not in page.text
    finally:
        await client.close()

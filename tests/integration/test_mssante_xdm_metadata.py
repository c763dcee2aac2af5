"""XDM packages between the EHPAD and a hospital on real Postfix and Dovecot.

A CDA sent through the gateway reaches a hospital's mailbox with
complete XDS metadata, read there as the hospital's integration platform reads it: the mail
with the standard library's ``email`` parser, the signature opened with ``openssl cms``, the
archive with ``zipfile``, ``METADATA.XML`` with plain ``xml.etree`` and the IHE UUIDs written
out. References: IHE ITI TF-3 §4.1.4 (submission set, HasMember), §4.2.3.2 / §4.2.3.3
(document entry and submission set attributes), §4.2.5 (UUIDs); ANS CI-SIS (patient id CX,
author XCN/XON, TRE_R02 sector); Référentiel INS (INS only for a qualified identity).

The other way, a package written by another producer (two submission sets, backslash paths of
an old Windows tool: ITI TF-2b §3.32.4.1.4, PKWARE APPNOTE §4.4.17.1) is fetched from the
EHPAD's mailbox and every document of both sets reaches the exchange.
"""

from __future__ import annotations

import io
import subprocess
import uuid
import zipfile
from email import message_from_bytes
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from chevet.app.mssante import exchanges, inbound
from chevet.app.mssante import outbox as mssante_outbox
from chevet.app.mssante.inbound import InboundState
from chevet.bootstrap import Installation
from chevet.bootstrap.mssante import load_gateway
from chevet.core.mssante import mime
from chevet.core.mssante.patient import INS_NIR_TEST, matricule_key
from tests.conftest import _require
from tests.mss_support import (
    SMIME_CA,
    configure,
    download,
    inject,
    mail_available,
    mailbox_contents,
    unique,
    upload,
)
from tests.support import new_member, new_org

RIM = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"
SS_NODE = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
SS_PATIENT = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
SS_UNIQUE = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
SS_SOURCE = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
DE_PATIENT = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
DE_UNIQUE = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
DE_AUTHOR = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
DE_FACILITY = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
DE_TYPE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
DE_CLASS = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"

# A CDA with no INS of its own: the exchange's qualified patient is what the metadata names.
CDA = (b'<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3">'
       b'<id root="1.2.250.1.999.7" extension="LL-1"/>'
       b'<code code="11490-0" codeSystem="2.16.840.1.113883.6.1" displayName="Lettre de liaison"/>'
       b'<title>Lettre de liaison</title><effectiveTime value="20261207090000+0100"/>'
       b'<recordTarget><patientRole><id root="1.2.250.1.71.4.2.7" extension="EHPAD-42"/></patientRole>'
       b'</recordTarget></ClinicalDocument>')


@pytest.fixture
def mail() -> None:
    _require(mail_available(), "the loopback mail servers (.ci/setup-mail)")


def _slot(obj: ET.Element, name: str) -> list[str]:
    for s in obj.findall(f"{RIM}Slot"):
        if s.get("name") == name:
            return [v.text or "" for v in s.iter(f"{RIM}Value")]
    return []


def _ext(obj: ET.Element, scheme: str) -> str | None:
    values = [e.get("value") for e in obj.findall(f"{RIM}ExternalIdentifier")
              if e.get("identificationScheme") == scheme]
    return values[0] if values else None


async def test_a_hospital_reads_complete_metadata(installation: Installation, mail: None, tmp_path: Path) -> None:
    """The hospital's mailbox receives the signed mail; inside, IHE_XDM.zip's METADATA.XML
    holds one submission set (classification node, uniqueId, sourceId, patientId = the
    patient's qualified INS under the test NIR OID, submissionTime, intendedRecipient = the
    hospital's address) and the document entry (uniqueId from the CDA id, the same patientId,
    type and class, the nurse as author with the EHPAD's FINESS, the mailbox's sector SA17),
    tied by a HasMember association."""
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    box = unique("infirmerie", "ehpad.test")
    hospital = unique("urgences", "chu.test")
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    with cfg.path.open("a") as f:   # the mailbox's establishment identifiers (mssante.toml)
        f.write('finess = "690000001"\nfacility_type = "SA17"\n')
    runtime = load_gateway(installation.settings, cfg.path)
    assert runtime is not None
    gw = runtime.gateway
    first13 = "2380476540123"
    ins = f"{first13}{matricule_key(first13):02d}"
    patient = exchanges.entered_patient(svc, {
        "birth_name": "Lefèvre", "first_given_name": "Jeanne", "birth_date": "1938-04-17", "sex": "F",
        "birth_place": "76540", "ins": ins, "ins_oid": INS_NIR_TEST, "status": "QUAL"})
    assert patient is not None and patient.qualified

    conv = uuid.UUID((await exchanges.open_exchange(svc, gw, nurse.actor, to=[hospital], title=""))["id"])
    cda_id = await upload(svc, nurse.actor, conv, CDA, "lettre-de-liaison.xml")
    await exchanges.send(svc, gw, nurse.actor, conv, body="Lettre de liaison de Mme Lefèvre.", client_id="x-1",
                         attachment_ids=[cda_id], patient=patient)
    assert (await mssante_outbox.deliver_due(svc, gw, runtime.submitter)).sent == 1

    (raw,) = mailbox_contents(hospital)
    assert message_from_bytes(raw)["X-MSS-INS"] == "O"
    (tmp_path / "in.eml").write_bytes(raw)
    (tmp_path / "ca.pem").write_bytes(SMIME_CA.pem())
    opened = subprocess.run(["openssl", "cms", "-verify", "-in", str(tmp_path / "in.eml"),
                             "-CAfile", str(tmp_path / "ca.pem")], capture_output=True)
    assert opened.returncode == 0, opened.stderr
    (part,) = [p for p in message_from_bytes(opened.stdout).walk() if p.get_filename() == "IHE_XDM.zip"]
    archive = zipfile.ZipFile(io.BytesIO(part.get_payload(decode=True)))  # type: ignore[arg-type]
    root = ET.fromstring(archive.read("IHE_XDM/SUBSET01/METADATA.XML"))
    objects = root.find(f"{RIM}RegistryObjectList")
    assert objects is not None

    cx = f"{ins}^^^&{INS_NIR_TEST}&ISO^NH"
    (ss,) = objects.findall(f"{RIM}RegistryPackage")
    assert [c.get("classifiedObject") for c in objects.findall(f"{RIM}Classification")
            if c.get("classificationNode") == SS_NODE] == [ss.get("id")]
    assert _ext(ss, SS_PATIENT) == cx and _ext(ss, SS_UNIQUE) and _ext(ss, SS_SOURCE)
    assert _slot(ss, "submissionTime") and _slot(ss, "intendedRecipient") == [f"||^^Internet^{hospital}"]

    (entry,) = objects.findall(f"{RIM}ExtrinsicObject")
    assert _ext(entry, DE_PATIENT) == cx and _ext(entry, DE_UNIQUE) == "1.2.250.1.999.7^LL-1"
    assert archive.read(f"IHE_XDM/SUBSET01/{_slot(entry, 'URI')[0]}") == CDA
    codes = {c.get("classificationScheme"): c.get("nodeRepresentation") for c in entry.findall(f"{RIM}Classification")}
    assert (codes[DE_TYPE], codes[DE_CLASS], codes[DE_FACILITY]) == ("11490-0", "10", "SA17")
    (author,) = [c for c in entry.findall(f"{RIM}Classification") if c.get("classificationScheme") == DE_AUTHOR]
    assert _slot(author, "authorPerson") == ["^Sophie Bernard^"]
    assert _slot(author, "authorInstitution")[0].endswith("&1.2.250.1.71.4.2.2&ISO^IDNST^^^1690000001")
    assert _slot(author, "authorTelecommunication") == [f"^^Internet^{box}"]
    (assoc,) = objects.findall(f"{RIM}Association")
    assert (assoc.get("associationType"), assoc.get("sourceObject"), assoc.get("targetObject")) == (
        HAS_MEMBER, ss.get("id"), entry.get("id"))


def _metadata(*uris: tuple[str, str]) -> bytes:
    """METADATA.XML as a hospital's older tool writes it: symbolic ids, URI with backslashes."""
    entries = "".join(f'<rim:ExtrinsicObject id="D{i}" mimeType="{m}" objectType="urn:uuid:7edca82f-054d-47f2-a032-'
                      f'9b2a5b5186c1"><rim:Slot name="URI"><rim:ValueList><rim:Value>{u}</rim:Value></rim:ValueList>'
                      "</rim:Slot></rim:ExtrinsicObject>" for i, (u, m) in enumerate(uris))
    return ('<?xml version="1.0" encoding="UTF-8"?><lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-'
            'regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"><rim:RegistryObjectList>'
            f"{entries}</rim:RegistryObjectList></lcm:SubmitObjectsRequest>").encode()


async def test_a_two_set_package_with_backslash_paths_is_read_in_full(installation: Installation,
                                                                      mail: None) -> None:
    """Both submission sets' documents are integrated (the CDA of the first, the PDF of the
    second), from entries named with backslashes; the package itself is kept as received."""
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    box = unique("secretariat", "ehpad.test")
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    pdf = b"%PDF-1.4 compte rendu\n%%EOF\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("README.TXT", "IHE XDM")
        z.writestr("IHE_XDM\\SUBSET01\\METADATA.XML", _metadata(("DOC0001.XML", "text/xml")))
        z.writestr("IHE_XDM\\SUBSET01\\DOC0001.XML", CDA)
        z.writestr("IHE_XDM\\SUBSET02\\METADATA.XML", _metadata((".\\CR.PDF", "application/pdf")))
        z.writestr("IHE_XDM\\SUBSET02\\CR.PDF", pdf)
    hospital = "urgences@chu.test"
    env = mime.Envelope(sender=hospital, recipients=(box,), subject="Compte rendu et lettre de liaison",
                        message_id=f"{uuid.uuid4()}@chu.test", date=svc.clock.now(), nil="NIL-CHU",
                        cda_codes=("11490-0",), ins_qualified=False)
    content = mime.build_content("Bonjour, voici les documents.",
                                 [mime.Attachment("IHE_XDM.zip", "application/zip", buf.getvalue())])
    inject(mime.assemble(env, content, SMIME_CA.issue("CHU", email=hospital).identity), hospital, [box])
    (raw,) = mailbox_contents(box)   # as Postfix delivered it and Dovecot keeps it
    got = await inbound.ingest(svc, cfg.runtime.gateway, box, raw)
    assert got.state is InboundState.INTEGRATED and got.conversation_id is not None
    view = await exchanges.exchange_messages(svc, nurse.actor, got.conversation_id)
    (message,) = view["messages"]
    files = {a["name"]: a for a in message["attachments"]}
    assert len(files) == 3 and "IHE_XDM.zip" in files
    # Each document is named after its own set.
    (cda_name,) = [n for n in files if n.upper() == "SUBSET01-DOC0001.XML"]
    (pdf_name,) = [n for n in files if n.upper() == "SUBSET02-CR.PDF"]
    assert await download(svc, nurse.actor, files[cda_name]["id"]) == CDA
    assert await download(svc, nurse.actor, files[pdf_name]["id"]) == pdf

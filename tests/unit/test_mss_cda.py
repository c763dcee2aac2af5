"""The CDA R2 level 1 document a care team sends ("synthèse de suivi"), read back as a receiving
system would: stdlib ElementTree on the bytes (not our builder), the PDF body decoded from
base64 and opened with pypdf. References: HL7 CDA R2 (POCD_HD000040) §4.2 header, §4.3.5
``nonXMLBody``; CI-SIS "Volet Structuration minimale des documents de santé" (en-tête);
CI-SIS annexe "Source des données métier pour les professionnels et les structures"
(identifiers); Référentiel INS (OIDs, qualified identity)."""

from __future__ import annotations

import base64
import io
import uuid
from datetime import UTC, date, datetime
from xml.etree import ElementTree as ET

import pypdf
import pytest

from chevet.core.errors import InvalidInput
from chevet.core.mssante import cda, xdm
from chevet.core.mssante.patient import INS_NIR_TEST, IdentityStatus, PatientIdentity, Sex

N = {"h": "urn:hl7-org:v3"}
AT = datetime(2026, 12, 7, 13, 30, tzinfo=UTC)
START = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


def _pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Synthese de suivi")
    return bytes(pdf.output())


PDF = _pdf()
HOME = cda.Organisation("EHPAD Les Tilleuls", finess="750000001", local_oid="1.2.250.1.999.1",
                        facility_type="SA17", facility_type_label="EHPAD")
NURSE = cda.Author("Martin", "Claire", HOME, rpps="10101010101", profession_code="60",
                   profession_label="Infirmier")


def _patient(status: IdentityStatus = IdentityStatus.QUALIFIED, ins: str | None = "279035121518989") -> PatientIdentity:
    return PatientIdentity("Dupont", "Jeanne", date(1940, 3, 12), Sex.FEMALE, status,
                           given_names="Jeanne Marie", used_name="Durand", birth_place="75056",
                           ins=ins, ins_oid=INS_NIR_TEST if ins else None)


def _doc(patient: PatientIdentity | None = None, **kw: object) -> cda.CdaDocument:
    base: dict[str, object] = dict(
        document_id=uuid.UUID(int=1), set_id=uuid.UUID(int=2), title="Synthèse de suivi — Mme DUPONT",
        created_at=AT, patient=patient or _patient(), patient_local_id="P-000123", author=NURSE,
        custodian=HOME, pdf=PDF, service_start=START, service_end=AT)
    base.update(kw)
    return cda.CdaDocument(**base)  # type: ignore[arg-type]


def _root(data: bytes) -> ET.Element:
    root = ET.fromstring(data)
    assert root.tag == "{urn:hl7-org:v3}ClinicalDocument"
    return root


def _one(root: ET.Element, path: str) -> ET.Element:
    found = root.findall(path, N)
    assert len(found) == 1, path
    return found[0]


def test_header_has_every_element_the_ci_sis_requires() -> None:
    """CDA R2 §4.2.1 (typeId, id, code, title, effectiveTime, confidentialityCode,
    languageCode, setId, versionNumber) and CI-SIS Structuration minimale en-tête: realmCode
    FR; templateId 2.16.840.1.113883.2.8.2.1 (HL7 France) and 1.2.250.1.213.1.1.1.1 (CI-SIS);
    effectiveTime with its time-zone offset; the children in the order of the CDA schema."""
    data = cda.build_cda(_doc())
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = _root(data)
    assert _one(root, "h:realmCode").get("code") == "FR"
    type_id = _one(root, "h:typeId")
    assert (type_id.get("root"), type_id.get("extension")) == ("2.16.840.1.113883.1.3", "POCD_HD000040")
    assert [t.get("root") for t in root.findall("h:templateId", N)] == [
        "2.16.840.1.113883.2.8.2.1", "1.2.250.1.213.1.1.1.1"]
    assert _one(root, "h:id").get("root") == f"2.25.{uuid.UUID(int=1).int}"
    code = _one(root, "h:code")
    assert (code.get("code"), code.get("codeSystem")) == ("34133-9", "2.16.840.1.113883.6.1")
    assert code.get("displayName")
    assert _one(root, "h:title").text == "Synthèse de suivi — Mme DUPONT"
    assert _one(root, "h:effectiveTime").get("value") == "20261207143000+0100"   # Paris time
    conf = _one(root, "h:confidentialityCode")
    assert (conf.get("code"), conf.get("codeSystem")) == ("N", "2.16.840.1.113883.5.25")
    assert _one(root, "h:languageCode").get("code") == "fr-FR"
    assert _one(root, "h:setId").get("root") == f"2.25.{uuid.UUID(int=2).int}"
    assert _one(root, "h:versionNumber").get("value") == "1"
    order = [c.tag.split("}")[1] for c in root]
    assert order == ["realmCode", "typeId", "templateId", "templateId", "id", "code", "title", "effectiveTime",
                     "confidentialityCode", "languageCode", "setId", "versionNumber", "recordTarget", "author",
                     "custodian", "documentationOf", "componentOf", "component"]


def test_qualified_patient_carries_the_ins_under_its_oid_and_the_strict_traits() -> None:
    """Référentiel INS / CI-SIS: patientRole/id = matricule INS under its OID (here the test NIR
    OID 1.2.250.1.213.1.4.10) only for a qualified identity, next to the local id; birth name
    (qualifier BR), birth given names, sex (HL7 AdministrativeGender), birth date, birth place
    (code officiel géographique)."""
    root = _root(cda.build_cda(_doc()))
    ids = [(i.get("root"), i.get("extension")) for i in root.findall("h:recordTarget/h:patientRole/h:id", N)]
    assert ids == [(INS_NIR_TEST, "279035121518989"), ("1.2.250.1.999.1", "P-000123")]
    patient = _one(root, "h:recordTarget/h:patientRole/h:patient")
    names = patient.findall("h:name", N)
    birth = names[0]
    assert _one(birth, "h:family").get("qualifier") == "BR"
    assert _one(birth, "h:family").text == "DUPONT"
    assert [g.text for g in birth.findall("h:given", N)] == ["Jeanne", "Marie"]
    assert _one(names[1], "h:family").text == "DURAND" and _one(names[1], "h:family").get("qualifier") == "SP"
    gender = _one(patient, "h:administrativeGenderCode")
    assert (gender.get("code"), gender.get("codeSystem")) == ("F", "2.16.840.1.113883.5.1")
    assert _one(patient, "h:birthTime").get("value") == "19400312"
    assert _one(patient, "h:birthplace/h:place/h:addr/h:county").text == "75056"


@pytest.mark.parametrize("status", [IdentityStatus.PROVISIONAL, IdentityStatus.RETRIEVED, IdentityStatus.VALIDATED])
def test_an_identity_below_qualified_never_carries_the_ins(status: IdentityStatus) -> None:
    """RNIV: the INS may be used (and so sent) only once the identity is qualified; below, the
    document names the patient by her traits and the establishment's local identifier."""
    data = cda.build_cda(_doc(_patient(status)))
    assert b"279035121518989" not in data
    root = _root(data)
    ids = [i.get("root") for i in root.findall("h:recordTarget/h:patientRole/h:id", N)]
    assert ids == ["1.2.250.1.999.1"]
    assert xdm.cda_facts(data) == xdm.CdaFacts("34133-9", False, "N")


def test_author_and_custodian_use_national_identifiers() -> None:
    """CI-SIS annexe Source des données: a professional's id is root 1.2.250.1.71.4.2.1 with
    "8" + RPPS (or "0" + ADELI); a structure's is root 1.2.250.1.71.4.2.2 with "1" + FINESS;
    the profession from TRE_G15-ProfessionSante (1.2.250.1.71.1.2.7). CDA §4.2.2.1 author
    (time, assignedAuthor), §4.2.2.3 custodian."""
    root = _root(cda.build_cda(_doc()))
    assert _one(root, "h:author/h:time").get("value") == "20261207143000+0100"
    assigned = _one(root, "h:author/h:assignedAuthor")
    pid = _one(assigned, "h:id")
    assert (pid.get("root"), pid.get("extension")) == ("1.2.250.1.71.4.2.1", "810101010101")
    prof = _one(assigned, "h:code")
    assert (prof.get("code"), prof.get("codeSystem")) == ("60", "1.2.250.1.71.1.2.7")
    assert _one(assigned, "h:assignedPerson/h:name/h:family").text == "Martin"
    assert _one(assigned, "h:assignedPerson/h:name/h:given").text == "Claire"
    org = _one(assigned, "h:representedOrganization")
    assert (_one(org, "h:id").get("root"), _one(org, "h:id").get("extension")) == ("1.2.250.1.71.4.2.2", "1750000001")
    assert _one(org, "h:name").text == "EHPAD Les Tilleuls"
    cust = _one(root, "h:custodian/h:assignedCustodian/h:representedCustodianOrganization")
    assert _one(cust, "h:id").get("extension") == "1750000001"
    assert _one(cust, "h:name").text == "EHPAD Les Tilleuls"


def test_adeli_or_unknown_identifiers() -> None:
    """An ADELI number is written "0" + ADELI; without any national or local identifier the
    id is nullFlavor UNK (CDA II), never made up."""
    nurse = cda.Author("Martin", "Claire", cda.Organisation("EHPAD", local_oid="1.2.250.1.999.1"), adeli="751234567")
    root = _root(cda.build_cda(_doc(author=nurse, custodian=nurse.organisation)))
    assert _one(root, "h:author/h:assignedAuthor/h:id").get("extension") == "0751234567"
    org_id = _one(root, "h:custodian/h:assignedCustodian/h:representedCustodianOrganization/h:id")
    assert org_id.get("nullFlavor") == "UNK"
    assert root.find("h:componentOf", N) is None   # no facility type known: no encounter location


def test_period_and_facility() -> None:
    """CDA §4.2.3.1 documentationOf/serviceEvent/effectiveTime (the period the synthesis
    covers); componentOf/encompassingEncounter/location/healthCareFacility/code from
    TRE_R02-SecteurActivite (SA17 = EHPAD), the XDS healthcareFacilityTypeCode's source."""
    root = _root(cda.build_cda(_doc()))
    period = _one(root, "h:documentationOf/h:serviceEvent/h:effectiveTime")
    assert _one(period, "h:low").get("value") == "20261201080000+0100"
    assert _one(period, "h:high").get("value") == "20261207143000+0100"
    facility = _one(root, "h:componentOf/h:encompassingEncounter/h:location/h:healthCareFacility/h:code")
    assert (facility.get("code"), facility.get("codeSystem")) == ("SA17", "1.2.250.1.71.4.2.4")


def test_body_is_the_pdf_in_base64_and_opens() -> None:
    """CDA §4.3.5 nonXMLBody: text with mediaType application/pdf and representation B64; the
    decoded bytes are the PDF, which pypdf opens."""
    root = _root(cda.build_cda(_doc()))
    text = _one(root, "h:component/h:nonXMLBody/h:text")
    assert (text.get("mediaType"), text.get("representation")) == ("application/pdf", "B64")
    decoded = base64.b64decode(text.text or "", validate=True)
    assert decoded == PDF
    reader = pypdf.PdfReader(io.BytesIO(decoded))
    assert "Synthese de suivi" in reader.pages[0].extract_text()


def test_travels_in_an_xdm_package_with_its_facts() -> None:
    """The document goes in IHE_XDM.zip as text/xml; what X-MSS-CODECDA and X-MSS-INS need is
    read back from it (MSSanté Réf #2 ECO.2.4.1/2.4.2)."""
    data = cda.build_cda(_doc())
    assert xdm.cda_facts(data) == xdm.CdaFacts("34133-9", True, "N")
    package = xdm.read_xdm(xdm.build_xdm([xdm.XdmDocument("DOC0001.XML", "text/xml", data, ("N",))], submitted=AT))
    assert [d.data for d in package.documents if d.name == "DOC0001.XML"] == [data]


def test_hostile_or_wrong_values_are_refused() -> None:
    """Texts are escaped by the XML writer; control characters, a non-PDF body, a naive time, a
    malformed RPPS or FINESS and an end before the start are refused with a code."""
    data = cda.build_cda(_doc(title='<x> & "y"'))
    assert _one(_root(data), "h:title").text == '<x> & "y"'
    cases: list[tuple[dict[str, object], str]] = [
        ({"title": "a\x00b"}, "cda_title_invalid"),
        ({"pdf": b"<html>"}, "cda_body_not_pdf"),
        ({"created_at": datetime(2026, 12, 7, 13, 30)}, "cda_time_naive"),
        ({"author": cda.Author("M", "C", HOME, rpps="12")}, "cda_rpps_invalid"),
        ({"custodian": cda.Organisation("X", finess="ABC", local_oid="1.2.3")}, "cda_finess_invalid"),
        ({"service_start": AT, "service_end": START}, "cda_period_invalid"),
        ({"custodian": cda.Organisation("X"), "author": cda.Author("M", "C", cda.Organisation("X"))},
         "cda_local_oid_missing"),
    ]
    for kw, code in cases:
        with pytest.raises(InvalidInput) as exc:
            cda.build_cda(_doc(**kw))
        assert exc.value.code == code, kw


def test_the_establishment_s_finess_and_kind_are_checked_when_configured() -> None:
    """The mailbox settings that feed the custodian (FINESS: 9 characters, 2A/2B for Corsica)
    and the facility type (TRE_R02-SecteurActivite: SA + two digits) refuse malformed values
    at start-up rather than write them into documents."""
    from pydantic import ValidationError

    from chevet.settings.mssante import MailboxSettings

    ok = MailboxSettings(address="a@b.test", organisation="o", finess="2a0000012", facility_type="sa17")
    assert (ok.finess, ok.facility_type) == ("2A0000012", "SA17")
    for bad in ({"finess": "12345"}, {"facility_type": "EHPAD"}):
        with pytest.raises(ValidationError):
            MailboxSettings(address="a@b.test", organisation="o", **bad)  # type: ignore[arg-type]

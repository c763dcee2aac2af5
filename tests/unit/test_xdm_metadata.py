"""The XDS metadata of the IHE_XDM.zip we send, read back as a receiving system reads it: the
archive with the standard library's ``zipfile``, ``METADATA.XML`` with plain
``xml.etree.ElementTree``, every scheme named by the literal UUID the IHE ITI Technical
Framework gives (not by our constants). Each test cites the section that requires what it checks:
ITI TF-3 §4.1 (metadata objects), §4.2.3.2 (document entry attributes), §4.2.3.3 (submission
set attributes), §4.2.5 (UUIDs), ITI TF-2b §3.32 (XDM media); the ANS CI-SIS "Volet partage de
documents de santé" (French codes and HL7 v2 data types) and "Volet structuration minimale"
(CDA header → metadata correspondence).
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
import zipfile
from datetime import UTC, date, datetime
from xml.etree import ElementTree as ET

import pytest

from chevet.app.mssante.exchanges import NewAttachment
from chevet.app.mssante.exchanges import _package as package_for
from chevet.app.mssante.gateway import Gateway, Mailbox
from chevet.app.services import Actor
from chevet.core.entities import Organisation, Person, PersonStatus
from chevet.core.errors import InvalidInput
from chevet.core.mssante import xdm
from chevet.core.mssante.patient import INS_NIR, IdentityStatus, PatientIdentity, Sex
from chevet.core.mssante.xds_metadata import XdsAuthor, XdsContext
from chevet.core.roles import Role

RIM = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
INS = "277076322082910"

# A CI-SIS CDA R2 level 1 (PDF body) header, as a hospital or a GP's software writes it.
CDA = f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <realmCode code="FR"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="1.2.250.1.213.1.1.1.1"/>
  <id root="1.2.250.1.999.1.1.4242" extension="DOC-2026-0001"/>
  <code code="11488-4" codeSystem="2.16.840.1.113883.6.1" displayName="Compte rendu de consultation"/>
  <title>Compte rendu de consultation gériatrique</title>
  <effectiveTime value="20261128103000+0100"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="fr-FR"/>
  <recordTarget><patientRole>
    <id root="{INS_NIR}" extension="{INS}"/>
    <patient>
      <name><given>Marie</given><family qualifier="BR">DUPONT</family><family qualifier="SP">MARTIN</family></name>
      <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/>
      <birthTime value="19270722"/>
    </patient>
  </patientRole></recordTarget>
  <author>
    <functionCode code="ATTPHYS" codeSystem="2.16.840.1.113883.5.88" displayName="Médecin traitant"/>
    <time value="20261128103000+0100"/>
    <assignedAuthor>
      <id root="1.2.250.1.71.4.2.1" extension="810001234567"/>
      <code code="G15_10/SM54" codeSystem="1.2.250.1.213.1.1.4.5" displayName="Médecin - Médecine générale (SM)"/>
      <assignedPerson><name><given>Paul</given><family>LEGRAND</family></name></assignedPerson>
      <representedOrganization>
        <id root="1.2.250.1.71.4.2.2" extension="1750000001"/>
        <name>Centre hospitalier de Test</name>
      </representedOrganization>
    </assignedAuthor>
  </author>
  <legalAuthenticator><time value="20261128103000+0100"/><signatureCode code="S"/>
    <assignedEntity><id root="1.2.250.1.71.4.2.1" extension="810001234567"/>
      <assignedPerson><name><given>Paul</given><family>LEGRAND</family></name></assignedPerson></assignedEntity>
  </legalAuthenticator>
  <documentationOf><serviceEvent>
    <code code="GERIA" codeSystem="1.2.250.1.213.2.999" displayName="Consultation de gériatrie"/>
    <effectiveTime><low value="20261128090000+0100"/><high value="20261128100000+0100"/></effectiveTime>
    <performer typeCode="PRF"><assignedEntity><id root="1.2.250.1.71.4.2.1" extension="810001234567"/>
      <representedOrganization>
        <standardIndustryClassCode code="ETABLISSEMENT" codeSystem="1.2.250.1.213.1.1.4.9"
                                   displayName="Etablissement de santé"/>
      </representedOrganization></assignedEntity></performer>
  </serviceEvent></documentationOf>
  <componentOf><encompassingEncounter><effectiveTime value="20261128"/>
    <location><healthCareFacility>
      <code code="SA01" codeSystem="1.2.250.1.71.4.2.4" displayName="Etablissement public de santé"/>
    </healthCareFacility></location>
  </encompassingEncounter></componentOf>
  <component><nonXMLBody><text mediaType="application/pdf" representation="B64">JVBERi0xLjQK</text></nonXMLBody>
  </component>
</ClinicalDocument>""".encode()

# A bare CDA (no author, no facility): the exchange and the establishment fill the rest.
BARE = (b'<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3">'
        b'<code code="34133-9" codeSystem="2.16.840.1.113883.6.1" displayName="Synthese"/>'
        b'<recordTarget><patientRole><patient><name><family>DUPONT</family><given>Marie</given></name>'
        b'</patient></patientRole></recordTarget></ClinicalDocument>')

QUALIFIED = PatientIdentity("DUPONT", "Marie", date(1927, 7, 22), Sex.FEMALE, IdentityStatus.QUALIFIED,
                            used_name="MARTIN", used_given_name="Marie", birth_place="63113", ins=INS,
                            ins_oid=INS_NIR)
PROVISIONAL = PatientIdentity("DUPONT", "Marie", date(1927, 7, 22), Sex.FEMALE, IdentityStatus.PROVISIONAL)
NURSE = XdsAuthor(family="Claire Morel", person_id="810009876543", institution="EHPAD Les Tilleuls",
                  institution_id="1690000001", telecom="infirmerie@ehpad-tilleuls.mssante.fr")
CONTEXT = XdsContext(author=NURSE, sender="infirmerie@ehpad-tilleuls.mssante.fr",
                     recipients=("dr.legrand@ch-test.mssante.fr", "secretariat@ch-test.mssante.fr"))


# --- an independent reader -----------------------------------------------------------------

def _read(package: bytes, subset: str = "SUBSET01") -> ET.Element:
    return ET.fromstring(zipfile.ZipFile(io.BytesIO(package)).read(f"IHE_XDM/{subset}/METADATA.XML"))


def _objects(root: ET.Element, tag: str) -> list[ET.Element]:
    (registry_list,) = root.findall(f"{RIM}RegistryObjectList")
    return registry_list.findall(f"{RIM}{tag}")


def _slot(obj: ET.Element, name: str) -> list[str]:
    for s in obj.findall(f"{RIM}Slot"):
        if s.get("name") == name:
            return [v.text or "" for v in s.iter(f"{RIM}Value")]
    return []


def _classified(obj: ET.Element, scheme: str) -> list[ET.Element]:
    return [c for c in obj.findall(f"{RIM}Classification") if c.get("classificationScheme") == scheme]


def _code(obj: ET.Element, scheme: str) -> tuple[str, str, str]:
    """(code, codingScheme, display) of the one classification of that scheme."""
    (c,) = _classified(obj, scheme)
    (scheme_value,) = _slot(c, "codingScheme")
    display = c.find(f"{RIM}Name/{RIM}LocalizedString")
    return c.get("nodeRepresentation") or "", scheme_value, display.get("value", "") if display is not None else ""


def _external(obj: ET.Element, scheme: str) -> str | None:
    found = [e for e in obj.findall(f"{RIM}ExternalIdentifier") if e.get("identificationScheme") == scheme]
    assert len(found) <= 1
    return found[0].get("value") if found else None


def _submission_set(root: ET.Element) -> ET.Element:
    (ss,) = _objects(root, "RegistryPackage")
    return ss


def _entries(root: ET.Element) -> list[ET.Element]:
    return _objects(root, "ExtrinsicObject")


OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
UUID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DTM = re.compile(r"^\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2})?)?)?)?)?$")

# ITI TF-3 §4.2.5, Table 4.2.5-1 (document entry) and Table 4.2.5-2 (submission set).
DE = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
DE_AUTHOR = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
DE_CLASS = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
DE_CONF = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
DE_EVENT = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
DE_FORMAT = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
DE_FACILITY = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
DE_PRACTICE = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
DE_TYPE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
DE_PATIENT = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
DE_UNIQUE = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
SS_NODE = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
SS_AUTHOR = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
SS_CONTENT = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
SS_PATIENT = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
SS_SOURCE = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
SS_UNIQUE = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
# CI-SIS: the patient's INS as an XDS CX (identifier, ^^^, &OID&ISO, type NH).
PATIENT_CX = f"{INS}^^^&{INS_NIR}&ISO^NH"


def _package(*docs: xdm.XdmDocument, patient: PatientIdentity | None = QUALIFIED,
             context: XdsContext | None = CONTEXT) -> bytes:
    return xdm.build_xdm(list(docs), submitted=NOW, patient=patient, context=context)


def _cda(name: str = "DOC0001.XML", data: bytes = CDA) -> xdm.XdmDocument:
    return xdm.XdmDocument(name, "text/xml", data)


# --- the submission set --------------------------------------------------------------------

def test_submission_set_is_classified_and_identified() -> None:
    """ITI TF-3 §4.1.4 and §4.2.3.3: a RegistryPackage is a submission set by a Classification
    with classificationNode a54d6aa5…; it carries uniqueId (OID, §4.2.3.3.12) and sourceId
    (OID, §4.2.3.3.9) as ExternalIdentifiers, submissionTime (UTC DTM, §4.2.3.3.11) and the
    patientId (CX, §4.2.3.3.8) shared by all its documents."""
    root = _read(_package(_cda()))
    ss = _submission_set(root)
    nodes = [c for c in _objects(root, "Classification") if c.get("classificationNode") == SS_NODE]
    assert [c.get("classifiedObject") for c in nodes] == [ss.get("id")]
    unique, source = _external(ss, SS_UNIQUE), _external(ss, SS_SOURCE)
    assert unique and OID.match(unique) and len(unique) <= 64
    assert source and OID.match(source) and len(source) <= 64
    assert _slot(ss, "submissionTime") == ["20261128120000"]
    assert _external(ss, SS_PATIENT) == PATIENT_CX


def test_submission_set_author_content_type_and_recipients() -> None:
    """ITI TF-3 §4.2.3.3.1 (author: authorPerson XCN, authorInstitution XON, authorSpecialty),
    §4.2.3.3.4 (contentTypeCode; CI-SIS JDV_J07, TRE_R209-TypeActivite 1.2.250.1.213.2.2),
    §4.2.3.3.6 (intendedRecipient XON|XCN|XTN, R2 for XDM media: the MSSanté addresses)."""
    ss = _submission_set(_read(_package(_cda())))
    (author,) = _classified(ss, SS_AUTHOR)
    assert author.get("nodeRepresentation") == ""
    # CI-SIS XCN: national PS identifier ("8"+RPPS) under 1.2.250.1.71.4.2.1, name type D, IDNPS.
    assert _slot(author, "authorPerson") == ["810001234567^LEGRAND^Paul^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"]
    assert _slot(author, "authorInstitution") == [
        "Centre hospitalier de Test^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^1750000001"]
    assert _slot(author, "authorSpecialty") == ["G15_10/SM54^Médecin - Médecine générale (SM)^1.2.250.1.213.1.1.4.5"]
    assert _code(ss, SS_CONTENT)[:2] == ("11", "1.2.250.1.213.2.2")
    assert _slot(ss, "intendedRecipient") == ["||^^Internet^dr.legrand@ch-test.mssante.fr",
                                              "||^^Internet^secretariat@ch-test.mssante.fr"]


def test_each_document_is_a_member_of_the_submission_set() -> None:
    """ITI TF-3 §4.1.4 / §4.2.2: each document entry is tied to its submission set by an
    Association of type HasMember (source: the set, target: the entry) with the slot
    SubmissionSetStatus = Original."""
    root = _read(_package(_cda(), _cda("DOC0002.XML", CDA.replace(b"DOC-2026-0001", b"DOC-2026-0002"))))
    ss = _submission_set(root)
    associations = _objects(root, "Association")
    assert {a.get("targetObject") for a in associations} == {e.get("id") for e in _entries(root)}
    for a in associations:
        assert a.get("associationType") == "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
        assert a.get("sourceObject") == ss.get("id")
        assert _slot(a, "SubmissionSetStatus") == ["Original"]
    assert len(associations) == 2


def test_identifiers_are_uuids_and_every_reference_resolves() -> None:
    """ITI TF-3 §4.2.3.1.1 / §4.2.3.2.8: entryUUIDs are UUID URNs (symbolic ids are for
    registries, not media); every classifiedObject / registryObject / association end names an
    object of the request; ids are unique."""
    root = _read(_package(_cda(), _cda("DOC0002.XML", BARE)))
    ids = [el.get("id") for el in root.iter() if el.get("id")]
    assert len(ids) == len(set(ids)) and all(UUID.match(i or "") for i in ids)
    tops = {el.get("id") for el in root.find(f"{RIM}RegistryObjectList") or []}
    for el in root.iter():
        for ref in ("classifiedObject", "registryObject", "sourceObject", "targetObject"):
            if el.get(ref) is not None:
                assert el.get(ref) in tops, (el.tag, ref)


# --- the document entries ------------------------------------------------------------------

def test_document_entry_from_the_cda_header() -> None:
    """CI-SIS structuration minimale, correspondence CDA header → XDS (ITI TF-3 §4.2.3.2):
    id → uniqueId (root^extension, §4.2.3.2.26); code → typeCode (§4.2.3.2.25) and, through
    ASS_X04, classCode (TRE_A03, §4.2.3.2.3); title (§4.2.3.2.24); effectiveTime → creationTime
    in UTC (§4.2.3.2.6); languageCode (§4.2.3.2.14); confidentialityCode (§4.2.3.2.5);
    serviceEvent effectiveTime → serviceStart/StopTime UTC (§4.2.3.2.19-20); serviceEvent code →
    eventCodeList (§4.2.3.2.8); healthCareFacility code → healthcareFacilityTypeCode (TRE_R02,
    §4.2.3.2.12); standardIndustryClassCode → practiceSettingCode (TRE_A01, §4.2.3.2.17);
    nonXMLBody mediaType → formatCode (ASS_A12, §4.2.3.2.9); legalAuthenticator XCN
    (§4.2.3.2.15); mimeType, size, SHA-1 hash, URI (§4.2.3.2.13, .23, .11, .27)."""
    root = _read(_package(_cda()))
    (e,) = _entries(root)
    assert e.get("objectType") == DE and e.get("mimeType") == "text/xml"
    assert _external(e, DE_UNIQUE) == "1.2.250.1.999.1.1.4242^DOC-2026-0001"
    assert _code(e, DE_TYPE) == ("11488-4", "2.16.840.1.113883.6.1", "Compte rendu de consultation")
    assert _code(e, DE_CLASS) == ("10", "1.2.250.1.213.1.1.4.1", "Compte rendu")
    assert e.find(f"{RIM}Name/{RIM}LocalizedString").get("value") == "Compte rendu de consultation gériatrique"  # type: ignore[union-attr]
    assert _slot(e, "creationTime") == ["20261128093000"]
    assert _slot(e, "languageCode") == ["fr-FR"]
    assert [c.get("nodeRepresentation") for c in _classified(e, DE_CONF)] == ["N"]
    assert _slot(_classified(e, DE_CONF)[0], "codingScheme") == ["2.16.840.1.113883.5.25"]
    assert _slot(e, "serviceStartTime") == ["20261128080000"] and _slot(e, "serviceStopTime") == ["20261128090000"]
    assert _code(e, DE_EVENT)[:2] == ("GERIA", "1.2.250.1.213.2.999")
    assert _code(e, DE_FACILITY)[:2] == ("SA01", "1.2.250.1.71.4.2.4")
    assert _code(e, DE_PRACTICE)[:2] == ("ETABLISSEMENT", "1.2.250.1.213.1.1.4.9")
    assert _code(e, DE_FORMAT)[:2] == ("urn:ihe:iti:xds-sd:pdf:2008", "1.3.6.1.4.1.19376.1.2.3")
    assert _slot(e, "legalAuthenticator") == ["810001234567^LEGRAND^Paul^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"]
    assert _slot(e, "size") == [str(len(CDA))]
    assert _slot(e, "hash") == [hashlib.sha1(CDA).hexdigest()]
    assert _slot(e, "URI") == ["DOC0001.XML"]
    (author,) = _classified(e, DE_AUTHOR)
    assert _slot(author, "authorPerson")[0].startswith("810001234567^LEGRAND^Paul^")
    # The CDA's author is completed with the exchange's address (authorTelecommunication XTN).
    assert _slot(author, "authorTelecommunication") == ["^^Internet^infirmerie@ehpad-tilleuls.mssante.fr"]
    assert _slot(author, "authorRole") == ["ATTPHYS^Médecin traitant^2.16.840.1.113883.5.88"]


def test_patient_id_and_source_patient_info_for_a_qualified_identity() -> None:
    """ITI TF-3 §4.2.3.2.16 (patientId CX), §4.2.3.2.21 (sourcePatientId), §4.2.3.2.22
    (sourcePatientInfo PID fields); CI-SIS: the INS under its OID (1.2.250.1.213.1.4.8 for a
    NIR), PID-5 birth name type L and used name type D, PID-7 birth date, PID-8 sex, PID-11 the
    INSEE code of the birth place (address type BDL), as identity vigilance (RNIV) requires."""
    (e,) = _entries(_read(_package(_cda())))
    assert _external(e, DE_PATIENT) == PATIENT_CX
    assert _slot(e, "sourcePatientId") == [PATIENT_CX]
    assert _slot(e, "sourcePatientInfo") == [f"PID-3|{PATIENT_CX}", "PID-5|DUPONT^Marie^^^^^L",
                                             "PID-5|MARTIN^Marie^^^^^D", "PID-7|19270722", "PID-8|F",
                                             "PID-11|^^^^^^BDL^^63113"]


def test_no_ins_anywhere_without_a_qualified_identity() -> None:
    """CI-SIS / RNIV: the INS may travel only for a qualified identity. A provisional identity
    and a CDA without INS: no patientId (R2 in XDM, ITI TF-3 Table 4.3.1-3), no
    sourcePatientId; the traits still travel in sourcePatientInfo."""
    package = _package(_cda(data=BARE), patient=PROVISIONAL)
    text = zipfile.ZipFile(io.BytesIO(package)).read("IHE_XDM/SUBSET01/METADATA.XML").decode()
    assert INS not in text and "1.2.250.1.213.1.4." not in text
    root = _read(package)
    (e,) = _entries(root)
    assert _external(e, DE_PATIENT) is None and _external(_submission_set(root), SS_PATIENT) is None
    assert _slot(e, "sourcePatientId") == []
    assert _slot(e, "sourcePatientInfo") == ["PID-5|DUPONT^Marie^^^^^L", "PID-7|19270722", "PID-8|F"]
    # A patient whose identity is retrieved but not validated: still no INS, even if given.
    retrieved = PatientIdentity("DUPONT", "Marie", date(1927, 7, 22), Sex.FEMALE, IdentityStatus.RETRIEVED,
                                ins=INS, ins_oid=INS_NIR)
    assert INS.encode() not in zipfile.ZipFile(io.BytesIO(_package(_cda(data=BARE), patient=retrieved))).read(
        "IHE_XDM/SUBSET01/METADATA.XML")


def test_ins_from_the_cda_when_the_exchange_has_no_identity() -> None:
    """The issue's "patient id from the CDA or the exchange": a CDA names the INS under an INS
    OID only for a qualified identity (CI-SIS), so its INS is the submission's patientId."""
    root = _read(_package(_cda(), patient=None))
    assert _external(_submission_set(root), SS_PATIENT) == PATIENT_CX
    (e,) = _entries(root)
    assert _slot(e, "sourcePatientInfo")[:2] == [f"PID-3|{PATIENT_CX}", "PID-5|DUPONT^Marie^^^^^L"]


def test_documents_about_another_patient_are_refused() -> None:
    """ITI TF-3 §4.2.3.3.8: all documents of a submission set share its patientId. A CDA naming
    another INS than the exchange's qualified patient, or two CDAs naming two patients, would
    file a document in the wrong record: refused, nothing built."""
    other = CDA.replace(INS.encode(), b"180012345678901")
    with pytest.raises(InvalidInput, match="xdm_patient_mismatch"):
        _package(_cda(data=other))
    with pytest.raises(InvalidInput, match="xdm_patient_mismatch"):
        _package(_cda(), _cda("DOC0002.XML", other), patient=None)


def test_the_exchange_and_the_establishment_fill_what_the_cda_does_not_say() -> None:
    """CI-SIS: author, healthcareFacilityTypeCode, practiceSettingCode are required; a bare CDA
    names none. The sending member is the author (her national identifier, her institution
    with "1"+FINESS, her address), the establishment's codes are an EHPAD's: SA17 (TRE_R02),
    ESSMS (TRE_A01), contentTypeCode 11 hébergement (TRE_R209); a summary type gives the class
    Synthèse (TRE_A03 11); the body's format, unknown, is mimeTypeSufficient (ITI TF-3
    §4.2.3.2.9); the language defaults to fr-FR and confidentiality to N."""
    root = _read(_package(_cda(data=BARE)))
    (e,) = _entries(root)
    (author,) = _classified(e, DE_AUTHOR)
    assert _slot(author, "authorPerson") == ["810009876543^Claire Morel^^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"]
    assert _slot(author, "authorInstitution") == ["EHPAD Les Tilleuls^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^1690000001"]
    assert _code(e, DE_FACILITY)[:2] == ("SA17", "1.2.250.1.71.4.2.4")
    assert _code(e, DE_PRACTICE)[:2] == ("ESSMS", "1.2.250.1.213.1.1.4.9")
    assert _code(e, DE_CLASS)[:2] == ("11", "1.2.250.1.213.1.1.4.1")
    assert _code(e, DE_FORMAT)[0] == "urn:ihe:iti:xds:2017:mimeTypeSufficient"
    assert _slot(e, "languageCode") == ["fr-FR"]
    assert [c.get("nodeRepresentation") for c in _classified(e, DE_CONF)] == ["N"]
    assert _slot(e, "creationTime") == ["20261128120000"]
    unique = _external(e, DE_UNIQUE)
    assert unique and OID.match(unique) and len(unique) <= 64


def test_times_are_utc_and_never_shifted_by_a_guess() -> None:
    """ITI TF-3 §4.2.3.1.5: DTM in UTC. A CDA time with its offset is converted; without one it
    is kept to the day rather than shifted by a guessed zone."""
    noon_paris = CDA.replace(b"20261128103000+0100", b"20260701120000+0200")
    (e,) = _entries(_read(_package(_cda(data=noon_paris))))
    assert _slot(e, "creationTime") == ["20260701100000"]
    no_zone = CDA.replace(b"20261128103000+0100", b"20261128103000")
    (e,) = _entries(_read(_package(_cda(data=no_zone))))
    assert _slot(e, "creationTime") == ["20261128"]
    for el in _read(_package(_cda())).iter(f"{RIM}Slot"):
        if el.get("name", "").endswith("Time"):
            assert all(DTM.match(v.text or "") for v in el.iter(f"{RIM}Value"))


def test_hl7_delimiters_in_names_cannot_shift_components() -> None:
    """ITI TF-3 §4.2.3.1.7: XCN/XON components are separated by ^ and &; a name holding one
    must not move the identifier a receiving system reads."""
    sly = XdsAuthor(family="Morel^&|Claire", person_id="810009876543", institution="EHPAD ^Tilleuls&")
    root = _read(_package(_cda(data=BARE), context=XdsContext(author=sly)))
    (author,) = _classified(_entries(root)[0], DE_AUTHOR)
    person = _slot(author, "authorPerson")[0]
    assert person.split("^")[0] == "810009876543" and person.split("^")[8] == "&1.2.250.1.71.4.2.1&ISO"
    assert _slot(author, "authorInstitution") == ["EHPAD  Tilleuls"]


def test_restricted_and_renamed_confidentiality_codes() -> None:
    """CI-SIS (MetaDMPMSS): confidentialityCode holds the HL7 code (2.16.840.1.113883.5.25) and
    the French restrictions under 1.2.250.1.213.1.1.4.13."""
    restricted = CDA.replace(b'<confidentialityCode code="N"', b'<confidentialityCode code="R"')
    (e,) = _entries(_read(_package(xdm.XdmDocument("DOC0001.XML", "text/xml", restricted, ("MASQUE_PS",)))))
    got = [(c.get("nodeRepresentation"), _slot(c, "codingScheme")[0]) for c in _classified(e, DE_CONF)]
    assert got == [("R", "2.16.840.1.113883.5.25"), ("MASQUE_PS", "1.2.250.1.213.1.1.4.13")]


def test_exchange_package_names_the_sending_member() -> None:
    """The gateway's own packaging (``_package``): the member sending is the author, her mailbox
    the telecom, the peers the intended recipients; a patient's address (her INS) is named
    only for a qualified identity."""
    org = Organisation(uuid.uuid4(), "tilleuls", "EHPAD Les Tilleuls", NOW)
    nurse = Person(uuid.uuid4(), org.id, "c.morel@tilleuls.test", "Claire Morel", Role.NURSE, PersonStatus.ACTIVE,
                   "10009876543", "fr", NOW)
    actor = Actor(nurse, org, None)
    gw = Gateway(nil="N", mailboxes=())
    peers = ["dr.legrand@ch-test.mssante.fr", f"{INS}@patient.mssante.fr"]
    out, _, _ = package_for([NewAttachment("cr.xml", "text/xml", BARE)], gw, NOW, peers, patient=PROVISIONAL,
                            actor=actor, sender="infirmerie@ehpad-tilleuls.mssante.fr")
    root = _read(out[0].data)
    (author,) = _classified(_entries(root)[0], DE_AUTHOR)
    assert _slot(author, "authorPerson") == ["810009876543^Claire Morel^^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"]
    assert _slot(author, "authorSpecialty") == ["G15_60^Infirmier^1.2.250.1.213.1.1.4.5"]
    assert _slot(author, "authorInstitution") == ["EHPAD Les Tilleuls"]
    assert _slot(_submission_set(root), "intendedRecipient") == ["||^^Internet^dr.legrand@ch-test.mssante.fr"]
    out, _, ins = package_for([NewAttachment("cr.xml", "text/xml", BARE)], gw, NOW, peers, patient=QUALIFIED,
                              actor=actor, sender="infirmerie@ehpad-tilleuls.mssante.fr")
    assert len(_slot(_submission_set(_read(out[0].data)), "intendedRecipient")) == 2
    # MSSanté Réf #2 ECO.2.4.2: X-MSS-INS is O when a qualified INS travels; here the CDA names
    # none but the metadata built for it carries the exchange's qualified INS.
    assert ins is True


def test_the_mailbox_finess_and_activity_sector_are_used() -> None:
    """CI-SIS: authorInstitution carries the structure's national identifier ("1"+FINESS under
    1.2.250.1.71.4.2.2) and healthcareFacilityTypeCode its TRE_R02 sector; both come from the
    sending mailbox's settings when the CDA names neither."""
    org = Organisation(uuid.uuid4(), "cds", "Centre de santé du Parc", NOW)
    nurse = Person(uuid.uuid4(), org.id, "n@cds.test", "Lou Petit", Role.NURSE, PersonStatus.ACTIVE, None, "fr", NOW)
    gw = Gateway(nil="N", mailboxes=(Mailbox("soins@cds-parc.mssante.fr", "cds", finess="690000001",
                                             facility_type="SA05"),))
    out, _, ins = package_for([NewAttachment("cr.xml", "text/xml", BARE)], gw, NOW, ["dr.x@ch.mssante.fr"],
                              patient=PROVISIONAL, actor=Actor(nurse, org, None), sender="soins@cds-parc.mssante.fr")
    (e,) = _entries(_read(out[0].data))
    (author,) = _classified(e, DE_AUTHOR)
    assert _slot(author, "authorInstitution") == [
        "Centre de santé du Parc^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^1690000001"]
    assert _slot(author, "authorPerson") == ["^Lou Petit^"]     # no RPPS recorded: the name only
    assert _code(e, DE_FACILITY) == ("SA05", "1.2.250.1.71.4.2.4", "Centre de santé")
    assert _code(e, DE_PRACTICE)[:2] == ("AMBULATOIRE", "1.2.250.1.213.1.1.4.9")   # TRE_A01, with SA05
    assert ins is False


def test_the_synthesis_document_maps_to_complete_metadata() -> None:
    """The "synthèse de suivi" CDA this gateway writes (``core.mssante.cda``) gives every
    attribute the CI-SIS maps from the header: its INS (test NIR OID 1.2.250.1.213.1.4.10 here),
    type 34133-9 and class Synthèse (11), the nurse with her RPPS, the EHPAD with its FINESS,
    SA17, the PDF format, the service period in UTC; what it does not say (practice setting)
    comes from the establishment: ESSMS."""
    from chevet.core.mssante import cda
    from tests.unit.test_mss_cda import _doc

    data = cda.build_cda(_doc())
    root = _read(_package(_cda(data=data), patient=None, context=XdsContext(sender="soins@tilleuls.mssante.fr")))
    (e,) = _entries(root)
    assert _external(e, DE_PATIENT) == "279035121518989^^^&1.2.250.1.213.1.4.10&ISO^NH"
    assert _external(_submission_set(root), SS_PATIENT) == _external(e, DE_PATIENT)
    assert _code(e, DE_TYPE)[:2] == ("34133-9", "2.16.840.1.113883.6.1")
    assert _code(e, DE_CLASS)[:2] == ("11", "1.2.250.1.213.1.1.4.1")
    assert _code(e, DE_FACILITY)[:2] == ("SA17", "1.2.250.1.71.4.2.4")
    assert _code(e, DE_PRACTICE)[:2] == ("ESSMS", "1.2.250.1.213.1.1.4.9")
    assert _code(e, DE_FORMAT)[0] == "urn:ihe:iti:xds-sd:pdf:2008"
    (author,) = _classified(e, DE_AUTHOR)
    assert _slot(author, "authorPerson")[0].startswith("810101010101^Martin^Claire^")
    assert _slot(author, "authorInstitution")[0].endswith("^IDNST^^^1750000001")
    assert _slot(author, "authorTelecommunication") == ["^^Internet^soins@tilleuls.mssante.fr"]
    assert _slot(e, "serviceStartTime") == ["20261201070000"] and _slot(e, "serviceStopTime") == ["20261207133000"]
    assert _slot(e, "creationTime") == ["20261207133000"]
    assert _external(e, DE_UNIQUE) == "2.25.1"
    assert _slot(e, "sourcePatientInfo")[-1] == "PID-11|^^^^^^BDL^^75056"   # birthplace/place/addr/county


def test_readme_and_index_for_the_person_who_opens_the_package() -> None:
    """ITI TF-2b §3.32.4.1.2.2: README.TXT names the institution and the application that made
    the medium and how it is organised; INDEX.HTM links to each document and to README.TXT.
    In French: a GP opens it."""
    archive = zipfile.ZipFile(io.BytesIO(_package(_cda(), _cda("DOC0002.XML", BARE))))
    readme = archive.read("README.TXT").decode()
    assert "Établissement : EHPAD Les Tilleuls" in readme and "Chevet" in readme
    assert "IHE_XDM/SUBSET01/" in readme and "METADATA.XML" in readme
    index = ET.fromstring(archive.read("INDEX.HTM").decode().removeprefix("<!DOCTYPE html>"))
    links = [a.get("href") for a in index.iter("a")]
    assert links == ["IHE_XDM/SUBSET01/DOC0001.XML", "IHE_XDM/SUBSET01/DOC0002.XML", "README.TXT"]
    assert all(archive.getinfo(str(link)) for link in links)
    assert index.get("lang") == "fr"


def test_the_same_document_to_two_recipients_makes_two_submissions() -> None:
    """ITI TF-3 §4.2.3.3.12: a submission set's uniqueId is globally unique. The same document
    sent in the same second to two correspondents makes two submissions with two uniqueIds;
    the same submission built again (the outbox re-sends the sealed bytes) stays the same."""
    def unique_id(recipient: str) -> str | None:
        ctx = XdsContext(author=NURSE, sender="infirmerie@ehpad-tilleuls.mssante.fr", recipients=(recipient,))
        return _external(_submission_set(_read(_package(_cda(), context=ctx))), SS_UNIQUE)

    assert unique_id("dr.a@gp.mssante.fr") != unique_id("dr.b@gp.mssante.fr")
    assert unique_id("dr.a@gp.mssante.fr") == unique_id("dr.a@gp.mssante.fr")

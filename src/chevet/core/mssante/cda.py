"""An HL7 CDA R2 level 1 document (the body a PDF, ``nonXMLBody``) with the header the French
CI-SIS asks of every document (Volet Structuration minimale des documents de santé): realm,
type and conformity template identifiers, a unique id and its set, the document type, title,
time, confidentiality and language, the patient, the author, the custodian and the period the
document covers.

The patient's INS is written under its OID only when the identity is qualified (RNIV); below
that the strict traits travel with a local identifier of the establishment, never the INS.
Professionals and structures are identified by their national identifiers as the CI-SIS
writes them (RPPS with its ``8`` prefix, ADELI with ``0``, FINESS with ``1``) when known, and
otherwise by an identifier local to the establishment.

Sans-I/O: values in, bytes out. The XML is built with ElementTree, so every text is escaped.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from chevet.core.errors import InvalidInput
from chevet.core.mssante.patient import PatientIdentity, Sex

CDA_NS = "urn:hl7-org:v3"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

# Header identifiers (HL7 CDA R2 §4.2.1; CI-SIS Structuration minimale §2 "En-tête").
TYPE_ID_ROOT = "2.16.840.1.113883.1.3"
TYPE_ID_EXTENSION = "POCD_HD000040"
TEMPLATE_HL7_FRANCE = "2.16.840.1.113883.2.8.2.1"
TEMPLATE_CI_SIS = "1.2.250.1.213.1.1.1.1"
LOINC = "2.16.840.1.113883.6.1"
HL7_CONFIDENTIALITY = "2.16.840.1.113883.5.25"
HL7_GENDER = "2.16.840.1.113883.5.1"
# National identifiers of professionals and structures (CI-SIS, Annexe "Source des données
# métier pour les professionnels et les structures").
IDNAT_PS = "1.2.250.1.71.4.2.1"        # RPPS (8 + number) or ADELI (0 + number)
IDNAT_STRUCT = "1.2.250.1.71.4.2.2"    # FINESS (1 + number), SIRET (3 + number)
PROFESSION_SANTE = "1.2.250.1.71.1.2.7"  # TRE_G15-ProfessionSante
SECTEUR_ACTIVITE = "1.2.250.1.71.4.2.4"  # TRE_R02-SecteurActivite (healthcare facility type)

PARIS = ZoneInfo("Europe/Paris")
PDF_MEDIA_TYPE = "application/pdf"
_DIGITS = re.compile(r"^[0-9]{8,11}$")
_FINESS = re.compile(r"^(?:[0-9]{2}|2A|2B)[0-9]{7}$")
_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_CODE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_TEXT = 500


@dataclass(frozen=True, slots=True)
class DocumentType:
    """The document's ``code``: LOINC, as the CI-SIS type codes (JDV_J07-XdsTypeCode) are."""

    code: str
    display_name: str
    code_system: str = LOINC


# "Synthèse d'épisode de soins" (LOINC 34133-9, in the CI-SIS type codes): what a care team
# writes to the GP or the hospital to say how a patient's stay or follow-up went.
SYNTHESIS = DocumentType("34133-9", "Synthèse d'épisode de soins")


@dataclass(frozen=True, slots=True)
class Organisation:
    """An establishment: the author's organisation and the custodian of the document."""

    name: str
    finess: str | None = None          # FINESS (géographique) number, 9 characters
    local_oid: str | None = None       # the establishment's OID for its local identifiers
    local_id: str | None = None        # its identifier under that OID when it has no FINESS
    facility_type: str | None = None   # TRE_R02-SecteurActivite code, e.g. SA17 (EHPAD)
    facility_type_label: str | None = None


@dataclass(frozen=True, slots=True)
class Author:
    """The professional who writes the document."""

    family_name: str
    given_name: str
    organisation: Organisation
    rpps: str | None = None            # 11 digits
    adeli: str | None = None           # 9 digits
    local_id: str | None = None        # identifier in the establishment when neither is known
    profession_code: str | None = None  # TRE_G15-ProfessionSante, e.g. "60" (infirmier)
    profession_label: str | None = None


@dataclass(frozen=True, slots=True)
class CdaDocument:
    """What the header says and the PDF it wraps."""

    document_id: uuid.UUID
    set_id: uuid.UUID
    title: str
    created_at: datetime                # aware
    patient: PatientIdentity
    patient_local_id: str               # the establishment's identifier for the patient (IPP)
    author: Author
    custodian: Organisation
    pdf: bytes
    document_type: DocumentType = SYNTHESIS
    confidentiality: str = "N"
    language: str = "fr-FR"
    version: int = 1
    service_start: datetime | None = None
    service_end: datetime | None = None
    extra_templates: tuple[str, ...] = field(default=())


def oid_of(value: uuid.UUID) -> str:
    """A UUID as an OID (ISO/IEC 9834-8, arc 2.25): CDA ``II.root`` must be an OID or a UUID,
    and the CI-SIS asks for OIDs."""
    return f"2.25.{value.int}"


def hl7_time(at: datetime) -> str:
    """An HL7 TS with the time-zone offset the CI-SIS requires, in French legal time."""
    if at.tzinfo is None:
        raise InvalidInput("cda_time_naive")
    return at.astimezone(PARIS).strftime("%Y%m%d%H%M%S%z")


def _text(value: str, code: str = "cda_text_invalid") -> str:
    clean = " ".join(value.split())[:MAX_TEXT]
    if not clean or any(ord(c) < 32 for c in clean):
        raise InvalidInput(code)
    return clean


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    e = ET.SubElement(parent, f"{{{CDA_NS}}}{tag}", attrs)
    if text is not None:
        e.text = text
    return e


def _person_id(parent: ET.Element, a: Author) -> None:
    if a.rpps:
        if not _DIGITS.match(a.rpps) or len(a.rpps) != 11:
            raise InvalidInput("cda_rpps_invalid")
        _el(parent, "id", root=IDNAT_PS, extension="8" + a.rpps, assigningAuthorityName="RPPS")
    elif a.adeli:
        if not _DIGITS.match(a.adeli) or len(a.adeli) != 9:
            raise InvalidInput("cda_adeli_invalid")
        _el(parent, "id", root=IDNAT_PS, extension="0" + a.adeli, assigningAuthorityName="ADELI")
    elif a.local_id and a.organisation.local_oid:
        _el(parent, "id", root=a.organisation.local_oid, extension=_text(a.local_id))
    else:
        _el(parent, "id", nullFlavor="UNK")


def _organisation(parent: ET.Element, tag: str, o: Organisation) -> ET.Element:
    org = _el(parent, tag)
    if o.finess:
        if not _FINESS.match(o.finess):
            raise InvalidInput("cda_finess_invalid")
        _el(org, "id", root=IDNAT_STRUCT, extension="1" + o.finess, assigningAuthorityName="FINESS")
    elif o.local_oid and o.local_id:
        _el(org, "id", root=o.local_oid, extension=_text(o.local_id))
    else:
        _el(org, "id", nullFlavor="UNK")
    _el(org, "name", _text(o.name, "cda_organisation_name"))
    return org


def _patient(parent: ET.Element, doc: CdaDocument, local_oid: str) -> None:
    p = doc.patient
    role = _el(_el(parent, "recordTarget"), "patientRole")
    if p.qualified and p.ins and p.ins_oid:
        _el(role, "id", root=p.ins_oid, extension=p.ins)
    _el(role, "id", root=local_oid, extension=_text(doc.patient_local_id, "cda_patient_id"))
    patient = _el(role, "patient")
    birth = _el(patient, "name")
    _el(birth, "family", _text(p.birth_name, "cda_patient_name").upper(), qualifier="BR")
    first = _text(p.first_given_name, "cda_patient_name")
    _el(birth, "given", first)
    others = p.given_names.split()
    if others and others[0].casefold() == first.casefold():
        others = others[1:]
    for name in others[:5]:   # the other birth given names, in order (HL7 PN: one ``given`` each)
        _el(birth, "given", _text(name))
    if p.used_name or p.used_given_name:
        used = _el(patient, "name")
        if p.used_name:
            _el(used, "family", _text(p.used_name).upper(), qualifier="SP")
        if p.used_given_name:
            _el(used, "given", _text(p.used_given_name), qualifier="CL")
    gender = {Sex.FEMALE: "F", Sex.MALE: "M", Sex.UNKNOWN: "UN"}[p.sex]
    _el(patient, "administrativeGenderCode", code=gender, codeSystem=HL7_GENDER)
    _el(patient, "birthTime", value=p.birth_date.strftime("%Y%m%d"))
    if p.birth_place:
        if not _CODE.match(p.birth_place):
            raise InvalidInput("cda_birth_place_invalid")
        _el(_el(_el(_el(patient, "birthplace"), "place"), "addr"), "county", p.birth_place)


def build_cda(doc: CdaDocument) -> bytes:
    """The document as UTF-8 XML, ready to travel in an ``IHE_XDM.zip``."""
    if not doc.pdf.startswith(b"%PDF-"):
        raise InvalidInput("cda_body_not_pdf")
    local_oid = doc.custodian.local_oid or doc.author.organisation.local_oid
    if not local_oid or not _OID.match(local_oid):
        raise InvalidInput("cda_local_oid_missing")
    if not _CODE.match(doc.confidentiality) or not _CODE.match(doc.document_type.code):
        raise InvalidInput("cda_code_invalid")
    ET.register_namespace("", CDA_NS)
    ET.register_namespace("xsi", XSI_NS)
    root = ET.Element(f"{{{CDA_NS}}}ClinicalDocument")
    _el(root, "realmCode", code="FR")
    _el(root, "typeId", root=TYPE_ID_ROOT, extension=TYPE_ID_EXTENSION)
    for template in (TEMPLATE_HL7_FRANCE, TEMPLATE_CI_SIS, *doc.extra_templates):
        _el(root, "templateId", root=template)
    _el(root, "id", root=oid_of(doc.document_id))
    t = doc.document_type
    _el(root, "code", code=t.code, codeSystem=t.code_system, displayName=_text(t.display_name))
    _el(root, "title", _text(doc.title, "cda_title_invalid"))
    created = hl7_time(doc.created_at)
    _el(root, "effectiveTime", value=created)
    _el(root, "confidentialityCode", code=doc.confidentiality, codeSystem=HL7_CONFIDENTIALITY)
    _el(root, "languageCode", code=doc.language)
    _el(root, "setId", root=oid_of(doc.set_id))
    _el(root, "versionNumber", value=str(doc.version))
    _patient(root, doc, local_oid)

    author = _el(root, "author")
    _el(author, "time", value=created)
    assigned = _el(author, "assignedAuthor")
    _person_id(assigned, doc.author)
    a = doc.author
    if a.profession_code:
        if not _CODE.match(a.profession_code):
            raise InvalidInput("cda_code_invalid")
        _el(assigned, "code", code=a.profession_code, codeSystem=PROFESSION_SANTE,
            displayName=_text(a.profession_label or a.profession_code))
    person_name = _el(_el(assigned, "assignedPerson"), "name")
    _el(person_name, "family", _text(a.family_name, "cda_author_name"))
    _el(person_name, "given", _text(a.given_name, "cda_author_name"))
    _organisation(assigned, "representedOrganization", a.organisation)

    custodian = _el(_el(root, "custodian"), "assignedCustodian")
    _organisation(custodian, "representedCustodianOrganization", doc.custodian)

    start = doc.service_start or doc.created_at
    end = doc.service_end or doc.created_at
    if end < start:
        raise InvalidInput("cda_period_invalid")
    event = _el(_el(root, "documentationOf"), "serviceEvent")
    period = _el(event, "effectiveTime")
    _el(period, "low", value=hl7_time(start))
    _el(period, "high", value=hl7_time(end))

    o = doc.custodian
    if o.facility_type:
        if not _CODE.match(o.facility_type):
            raise InvalidInput("cda_code_invalid")
        encounter = _el(_el(root, "componentOf"), "encompassingEncounter")
        when = _el(encounter, "effectiveTime")
        _el(when, "low", value=hl7_time(start))
        _el(when, "high", value=hl7_time(end))
        facility = _el(_el(encounter, "location"), "healthCareFacility")
        _el(facility, "code", code=o.facility_type, codeSystem=SECTEUR_ACTIVITE,
            displayName=_text(o.facility_type_label or o.facility_type))

    body = _el(_el(root, "component"), "nonXMLBody")
    text = _el(body, "text", mediaType=PDF_MEDIA_TYPE, representation="B64")
    text.text = base64.b64encode(doc.pdf).decode("ascii")
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))

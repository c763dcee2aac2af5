"""The XDS metadata of an IHE_XDM.zip: the ebRIM ``SubmitObjectsRequest`` in each subset's
``METADATA.XML`` (IHE ITI TF-3 §4.1 to §4.3, ITI TF-2b §3.32 for XDM media, the French CI-SIS
"Volet partage de documents de santé").

One submission set (``RegistryPackage`` classified as a submission set) holds the documents
(``ExtrinsicObject``s, stable document entries), each tied to it by a ``HasMember``
association. Each document entry carries, where known: uniqueId, patientId, sourcePatientId and
sourcePatientInfo, title, author (person, institution, role, speciality, telecom), class,
type, format, confidentiality, healthcare facility type, practice setting, event codes,
language, creation and service times, legal authenticator, size, hash and URI. The submission
set carries uniqueId, sourceId, patientId, submissionTime, author, contentTypeCode and
intendedRecipient.

Values come from the CDA header as the CI-SIS maps it to XDS (code → type, id → uniqueId,
effectiveTime → creationTime, author/assignedAuthor → author, componentOf/…/healthCareFacility
→ healthcareFacilityType, documentationOf/…/standardIndustryClassCode → practiceSetting), then
from the exchange (the patient's identity, the sending member and organisation, the
recipients), then from the establishment's defaults (an EHPAD: SA17, ESSMS, hébergement).

The INS travels (patientId, sourcePatientId, PID-3) only when the identity is qualified: from
the exchange's ``PatientIdentity`` when ``qualified``, or from a CDA that carries it under an
INS OID (a CDA names the INS only for a qualified identity). Documents naming another patient
than the exchange, or than each other, are refused: one submission set is about one patient.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from chevet.core import untrusted_xml
from chevet.core.errors import InvalidInput
from chevet.core.mssante import xds_codes as codes
from chevet.core.mssante.patient import INS_OIDS, PatientIdentity
from chevet.core.mssante.xds_codes import Code

if TYPE_CHECKING:
    from chevet.core.mssante.xdm import XdmDocument

RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
CDA = "urn:hl7-org:v3"
ET.register_namespace("rim", RIM)
ET.register_namespace("lcm", LCM)

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# A namespace for the identifiers derived here (entryUUIDs, "2.25." OIDs, ISO/IEC 9834-8).
_NS = uuid.UUID("6f1d5c2e-8d0b-5a47-9a43-2b7d2f0c9e15")


@dataclass(frozen=True, slots=True)
class XdsAuthor:
    """Who wrote the documents, as XDS names her (ITI TF-3 §4.2.3.1.4): a person (national
    identifier: "8"+RPPS or "0"+ADELI under 1.2.250.1.71.4.2.1), her institution (national
    identifier: "1"+FINESS under 1.2.250.1.71.4.2.2), role, speciality and address."""

    family: str = ""
    given: str = ""
    person_id: str | None = None        # identifiant national de PS, prefixed ("8…")
    institution: str = ""
    institution_id: str | None = None   # identifiant national de structure, prefixed ("1…")
    specialty: Code | None = None
    role: Code | None = None
    telecom: str | None = None          # the MSSanté address she writes from

    @property
    def empty(self) -> bool:
        return not (self.family or self.given or self.person_id or self.institution)


def rpps_id(rpps: str | None) -> str | None:
    """The national identifier of a professional from her RPPS number (11 digits)."""
    value = (rpps or "").strip()
    return f"8{value}" if re.fullmatch(r"\d{11}", value) else None


def finess_id(finess: str | None) -> str | None:
    """The national identifier of a structure from its FINESS number (9 characters)."""
    value = (finess or "").strip().upper()
    return f"1{value}" if re.fullmatch(r"[0-9][0-9AB][0-9]{7}", value) else None


@dataclass(frozen=True, slots=True)
class XdsContext:
    """What the exchange knows beyond the documents: the sending member and organisation, the
    mailbox, the recipients, and the establishment's codes where a CDA names none."""

    author: XdsAuthor | None = None
    sender: str = ""                                    # the sending mailbox's address
    recipients: tuple[str, ...] = ()                    # intendedRecipient
    source_id: str | None = None                        # the sender's OID, when it has one
    facility_type: Code = codes.FACILITY_ELDERLY
    practice_setting: Code = codes.PRACTICE_MEDICO_SOCIAL
    content_type: Code = codes.CONTENT_RESIDENTIAL
    title: str | None = None


@dataclass(frozen=True, slots=True)
class CdaHeader:
    """The CDA R2 header elements that XDS metadata maps (CI-SIS correspondence table)."""

    unique_id: str | None = None
    type: Code | None = None
    title: str | None = None
    created: str | None = None
    confidentiality: tuple[str, ...] = ()
    language: str | None = None
    ins: tuple[str, str] | None = None          # (matricule, OID)
    patient_family: str = ""
    patient_given: str = ""
    patient_birth: str | None = None
    patient_sex: str | None = None
    author: XdsAuthor | None = None
    legal_authenticator: str | None = None      # XCN
    service_start: str | None = None
    service_stop: str | None = None
    events: tuple[Code, ...] = ()
    facility_type: Code | None = None
    practice_setting: Code | None = None
    body_media_type: str | None = None
    patient_birth_place: str = ""               # INSEE code (birthplace/place/addr/county)


def _q(*path: str) -> str:
    return "/".join(f"{{{CDA}}}{p}" for p in path)


def _code(el: ET.Element | None) -> Code | None:
    if el is None or not (el.get("code") or "").strip():
        return None
    return Code(_clip(el.get("code"), 64), _clip(el.get("codeSystem"), 64), _clip(el.get("displayName"), 200))


def _clip(value: str | None, n: int) -> str:
    return " ".join((value or "").split())[:n]


def _text(el: ET.Element | None) -> str:
    return _clip("".join(el.itertext()), 200) if el is not None else ""


def _ii(el: ET.Element | None) -> tuple[str, str] | None:
    if el is None or not el.get("root"):
        return None
    return _clip(el.get("root"), 64), _clip(el.get("extension"), 64)


def _person(entity: ET.Element | None, person_tag: str) -> tuple[str | None, str, str]:
    """(national identifier, family, given) of an assignedAuthor / assignedEntity."""
    if entity is None:
        return None, "", ""
    pid = None
    for el in entity.iterfind(_q("id")):
        ii = _ii(el)
        if ii and ii[0] == codes.NATIONAL_PS_ID and ii[1]:
            pid = ii[1]
    name = entity.find(_q(person_tag, "name"))
    return pid, _text(name.find(_q("family")) if name is not None else None), \
        _text(name.find(_q("given")) if name is not None else None)


def _organisation(org: ET.Element | None) -> tuple[str, str | None]:
    if org is None:
        return "", None
    oid = None
    for el in org.iterfind(_q("id")):
        ii = _ii(el)
        if ii and ii[0] == codes.NATIONAL_ORG_ID and ii[1]:
            oid = ii[1]
    return _text(org.find(_q("name"))), oid


def cda_header(data: bytes) -> CdaHeader | None:
    """The header of an HL7 CDA R2 document, or None if it is not one (``UnsafeXml`` if it
    asks for a DTD, an entity or an inclusion)."""
    try:
        root = untrusted_xml.parse(data)
    except untrusted_xml.UnsafeXml as exc:
        if exc.reason == "unreadable":
            return None
        raise
    if root.tag != f"{{{CDA}}}ClinicalDocument":
        return None
    doc_id = _ii(root.find(_q("id")))
    unique_id = (f"{doc_id[0]}^{doc_id[1]}" if doc_id[1] else doc_id[0]) if doc_id else None
    ins = None
    patient = root.find(_q("recordTarget", "patientRole"))
    family = given = place = ""
    birth = sex = None
    if patient is not None:
        for el in patient.iterfind(_q("id")):
            ii = _ii(el)
            if ii and ii[0] in INS_OIDS and re.fullmatch(r"[0-9A-Z]{15}", ii[1]):
                ins = (ii[1], ii[0])
        person = patient.find(_q("patient"))
        if person is not None:
            names = list(person.iterfind(_q("name", "family")))
            birth_names = [n for n in names if (n.get("qualifier") or "") == "BR"]
            family = _text((birth_names or names)[0]) if names else ""
            given = _text(person.find(_q("name", "given")))
            birth_el = person.find(_q("birthTime"))
            birth = _ts(birth_el.get("value") if birth_el is not None else None, day_only=True)
            sex_el = person.find(_q("administrativeGenderCode"))
            sex = (sex_el.get("code") or "").upper()[:1] if sex_el is not None else None
            place = _text(person.find(_q("birthplace", "place", "addr", "county")))[:5]
    author = None
    assigned = root.find(_q("author", "assignedAuthor"))
    if assigned is not None:
        pid, a_family, a_given = _person(assigned, "assignedPerson")
        inst, inst_id = _organisation(assigned.find(_q("representedOrganization")))
        spec = _code(assigned.find(_q("code")))
        role = _code(root.find(_q("author", "functionCode")))
        author = XdsAuthor(a_family, a_given, pid, inst, inst_id, spec, role)
    legal = root.find(_q("legalAuthenticator", "assignedEntity"))
    legal_xcn = None
    if legal is not None:
        pid, l_family, l_given = _person(legal, "assignedPerson")
        if l_family or pid:
            legal_xcn = codes.xcn(pid, l_family, l_given, codes.NATIONAL_PS_ID if pid else None, "IDNPS")
    event = root.find(_q("documentationOf", "serviceEvent"))
    start = stop = None
    events: list[Code] = []
    practice = None
    for ev in root.iterfind(_q("documentationOf", "serviceEvent")):
        if (c := _code(ev.find(_q("code")))) is not None:
            events.append(c)
        practice = practice or _code(ev.find(_q("performer", "assignedEntity", "representedOrganization",
                                                "standardIndustryClassCode")))
    if event is not None:
        low, high = event.find(_q("effectiveTime", "low")), event.find(_q("effectiveTime", "high"))
        start = _ts(low.get("value") if low is not None else None)
        stop = _ts(high.get("value") if high is not None else None)
    facility = _code(root.find(_q("componentOf", "encompassingEncounter", "location", "healthCareFacility", "code")))
    body = root.find(_q("component", "nonXMLBody", "text"))
    conf = [k for el in root.iterfind(_q("confidentialityCode")) if (k := _clip(el.get("code"), 40).upper())]
    lang = root.find(_q("languageCode"))
    created = root.find(_q("effectiveTime"))
    return CdaHeader(
        unique_id=unique_id, type=_code(root.find(_q("code"))), title=_text(root.find(_q("title"))) or None,
        created=_ts(created.get("value") if created is not None else None),
        confidentiality=tuple(dict.fromkeys(conf)),
        language=_clip(lang.get("code"), 16) or None if lang is not None else None,
        ins=ins, patient_family=family, patient_given=given, patient_birth=birth, patient_sex=sex,
        author=author, legal_authenticator=legal_xcn, service_start=start, service_stop=stop,
        events=tuple(events[:10]), facility_type=facility, practice_setting=practice,
        body_media_type=_clip(body.get("mediaType"), 100) or None if body is not None else None,
        patient_birth_place=place)


_TS = re.compile(r"^(\d{4,14})(?:\.\d+)?([+-]\d{4})?$")


def _ts(value: str | None, *, day_only: bool = False) -> str | None:
    """An HL7 TS as XDS wants it (ITI TF-3 §4.2.3.1.5: UTC, ``YYYY[MM[DD[hh[mm[ss]]]]]``). A
    time without its offset is cut to the day: never shifted by a guessed zone."""
    m = _TS.match((value or "").strip())
    if not m:
        return None
    digits, offset = m.group(1), m.group(2)
    if day_only or len(digits) <= 8:
        return digits[:8]
    if offset is None:
        return digits[:8]
    try:
        utc = datetime.strptime(digits.ljust(14, "0")[:14] + offset, "%Y%m%d%H%M%S%z").astimezone(UTC)
    except ValueError:
        return None
    return utc.strftime("%Y%m%d%H%M%S")[:len(digits)]


def _stamp(when: datetime) -> str:
    return (when.astimezone(UTC) if when.tzinfo else when).strftime("%Y%m%d%H%M%S")


def _oid(*parts: str) -> str:
    """A "2.25." OID (ISO/IEC 9834-8) derived from the parts: unique without registration."""
    return f"2.25.{uuid.uuid5(_NS, chr(31).join(parts)).int}"


@dataclass(frozen=True, slots=True)
class _Patient:
    ins: tuple[str, str] | None
    family: str
    given: str
    birth: str | None
    sex: str | None
    used_family: str = ""
    used_given: str = ""
    birth_place: str = ""


def _patient(patient: PatientIdentity | None, headers: Sequence[CdaHeader | None]) -> _Patient | None:
    """The one patient of the submission set: the exchange's identity (its INS only when
    qualified), else the CDA header's. Refused when documents, or the exchange, disagree."""
    inses = {h.ins for h in headers if h is not None and h.ins}
    if len(inses) > 1:
        raise InvalidInput("xdm_patient_mismatch")
    cda_ins = next(iter(inses), None)
    if patient is not None:
        ins = (patient.ins or "", patient.ins_oid or "") if patient.qualified else None
        if ins and cda_ins and ins[0] != cda_ins[0]:
            raise InvalidInput("xdm_patient_mismatch")
        return _Patient(ins or cda_ins, patient.birth_name, patient.first_given_name,
                        patient.birth_date.strftime("%Y%m%d"), patient.sex.value, patient.used_name,
                        patient.used_given_name, patient.birth_place)
    first = next((h for h in headers if h is not None and (h.ins or h.patient_family)), None)
    if first is None:
        return None
    return _Patient(cda_ins, first.patient_family, first.patient_given, first.patient_birth, first.patient_sex,
                    birth_place=first.patient_birth_place)


class _Writer:
    """Builds the SubmitObjectsRequest in schema order (ebRIM 3.0: Slot, Name, Description,
    Classification, ExternalIdentifier), with entryUUIDs derived from the submission."""

    def __init__(self, seed: str) -> None:
        self.seed = seed
        self.n = 0

    def uuid(self) -> str:
        self.n += 1
        return f"urn:uuid:{uuid.uuid5(_NS, f'{self.seed}:{self.n}')}"

    @staticmethod
    def slot(parent: ET.Element, name: str, *values: str) -> None:
        values = tuple(v for v in values if v)
        if not values:
            return
        slot = ET.SubElement(parent, f"{{{RIM}}}Slot", name=name)
        vl = ET.SubElement(slot, f"{{{RIM}}}ValueList")
        for v in values:
            ET.SubElement(vl, f"{{{RIM}}}Value").text = v[:256]

    @staticmethod
    def name(parent: ET.Element, text: str | None) -> None:
        if text:
            n = ET.SubElement(parent, f"{{{RIM}}}Name")
            ET.SubElement(n, f"{{{RIM}}}LocalizedString", {_XML_LANG: "fr-FR", "charset": "UTF-8", "value": text[:256]})

    def classification(self, parent: ET.Element, scheme: str, code: Code | None, *,
                       slots: dict[str, tuple[str, ...]] | None = None) -> ET.Element:
        el = ET.SubElement(parent, f"{{{RIM}}}Classification", id=self.uuid(), classificationScheme=scheme,
                           classifiedObject=parent.get("id", ""), nodeRepresentation=code.code if code else "",
                           objectType=codes.CLASSIFICATION_TYPE)
        for k, v in (slots or {}).items():
            self.slot(el, k, *v)
        if code is not None:
            self.slot(el, "codingScheme", code.scheme)
            self.name(el, code.display or code.code)
        return el

    def external_id(self, parent: ET.Element, scheme: str, value: str, label: str) -> None:
        el = ET.SubElement(parent, f"{{{RIM}}}ExternalIdentifier", id=self.uuid(), registryObject=parent.get("id", ""),
                           identificationScheme=scheme, value=value, objectType=codes.EXTERNAL_IDENTIFIER_TYPE)
        self.name(el, label)

    def author(self, parent: ET.Element, scheme: str, author: XdsAuthor) -> None:
        slots: dict[str, tuple[str, ...]] = {}
        if author.family or author.given or author.person_id:
            slots["authorPerson"] = (codes.xcn(author.person_id, author.family, author.given,
                                               codes.NATIONAL_PS_ID if author.person_id else None, "IDNPS"),)
        if author.institution:
            slots["authorInstitution"] = (codes.xon(author.institution, author.institution_id,
                                                    codes.NATIONAL_ORG_ID if author.institution_id else None,
                                                    "IDNST"),)
        if author.role:
            slots["authorRole"] = (codes.ce(author.role),)
        if author.specialty:
            slots["authorSpecialty"] = (codes.ce(author.specialty),)
        if author.telecom:
            slots["authorTelecommunication"] = (f"^^Internet^{author.telecom}",)
        self.classification(parent, scheme, None, slots=slots)


def _merge(cda: XdsAuthor | None, exchange: XdsAuthor | None) -> XdsAuthor | None:
    """The CDA's author, completed by the exchange's (institution, address) where it is silent."""
    if cda is None or cda.empty:
        return exchange
    if exchange is None:
        return cda
    return XdsAuthor(cda.family, cda.given, cda.person_id, cda.institution or exchange.institution,
                     cda.institution_id or exchange.institution_id, cda.specialty or exchange.specialty,
                     cda.role or exchange.role, cda.telecom or exchange.telecom)


def submission(documents: Sequence[XdmDocument], *, submitted: datetime, patient: PatientIdentity | None = None,
               context: XdsContext | None = None) -> bytes:
    """The ``METADATA.XML`` of one subset: a submission set holding the documents."""
    ctx = context or XdsContext()
    if ctx.author is None and ctx.sender:
        # Without a known member, the sending mailbox still completes the CDA's author.
        ctx = replace(ctx, author=XdsAuthor(telecom=ctx.sender))
    headers: list[CdaHeader | None] = []
    for d in documents:
        try:
            headers.append(cda_header(d.data) if d.mime_type in ("text/xml", "application/xml") else None)
        except untrusted_xml.UnsafeXml as exc:
            raise InvalidInput("xdm_document_unsafe") from exc
    who = _patient(patient, headers)
    pid = codes.cx(who.ins[0], who.ins[1], "NH") if who and who.ins else None
    stamp = _stamp(submitted)
    digests = [hashlib.sha256(d.data).hexdigest() for d in documents]
    # Identifiers derived from what makes this submission one: sender, time, recipients, documents.
    w = _Writer(":".join([ctx.sender, stamp, *ctx.recipients, *digests]))
    request = ET.Element(f"{{{LCM}}}SubmitObjectsRequest")
    objects = ET.SubElement(request, f"{{{RIM}}}RegistryObjectList")
    entry_ids = []
    for d, h, digest in zip(documents, headers, digests, strict=True):
        entry_ids.append(_document(w, objects, d, h, digest, who, pid, ctx, stamp))
    ss_id = w.uuid()
    ss = ET.SubElement(objects, f"{{{RIM}}}RegistryPackage", id=ss_id, objectType=codes.REGISTRY_PACKAGE_TYPE,
                       status=codes.APPROVED)
    w.slot(ss, "submissionTime", stamp)
    w.slot(ss, "intendedRecipient", *(f"||^^Internet^{r}" for r in ctx.recipients[:20]))
    w.name(ss, ctx.title or (headers[0].title if headers and headers[0] else None))
    author = _merge(next((h.author for h in headers if h and h.author), None), ctx.author)
    if author is not None and not author.empty:
        w.author(ss, codes.SS_AUTHOR, author)
    w.classification(ss, codes.SS_CONTENT_TYPE, ctx.content_type)
    if pid:
        w.external_id(ss, codes.SS_PATIENT_ID, pid, "XDSSubmissionSet.patientId")
    w.external_id(ss, codes.SS_SOURCE_ID, ctx.source_id or _oid("source", ctx.sender), "XDSSubmissionSet.sourceId")
    w.external_id(ss, codes.SS_UNIQUE_ID, _oid("submission", w.seed), "XDSSubmissionSet.uniqueId")
    ET.SubElement(objects, f"{{{RIM}}}Classification", id=w.uuid(), classifiedObject=ss_id,
                  classificationNode=codes.SUBMISSION_SET_NODE, objectType=codes.CLASSIFICATION_TYPE)
    for entry_id in entry_ids:
        assoc = ET.SubElement(objects, f"{{{RIM}}}Association", id=w.uuid(), associationType=codes.HAS_MEMBER,
                              sourceObject=ss_id, targetObject=entry_id, objectType=codes.ASSOCIATION_TYPE)
        w.slot(assoc, "SubmissionSetStatus", "Original")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(request, encoding="unicode").encode() + b"\n"


def _confidentiality(given: Sequence[str], cda: Sequence[str]) -> list[str]:
    """The document's confidentiality codes: always one HL7 code (the CDA's, else N: CI-SIS
    requires it), then the French restrictions (MASQUE_PS, INVISIBLE_PATIENT…)."""
    all_codes = [c for c in dict.fromkeys(map(codes.confidentiality_code, (*given, *cda))) if c]
    hl7 = [c for c in all_codes if c in ("N", "R", "V")] or ["N"]
    return [*hl7[:1], *(c for c in all_codes if c not in ("N", "R", "V"))]


def _document(w: _Writer, objects: ET.Element, d: XdmDocument, h: CdaHeader | None, digest: str,
              who: _Patient | None, pid: str | None, ctx: XdsContext, stamp: str) -> str:
    entry_id = w.uuid()
    eo = ET.SubElement(objects, f"{{{RIM}}}ExtrinsicObject", id=entry_id, mimeType=d.mime_type,
                       objectType=codes.DOCUMENT_ENTRY_STABLE, status=codes.APPROVED)
    w.slot(eo, "creationTime", (h.created if h else None) or stamp)
    w.slot(eo, "hash", hashlib.sha1(d.data).hexdigest())  # noqa: S324 - ITI TF-3 §4.2.3.2.11 mandates SHA-1
    w.slot(eo, "languageCode", (h.language if h else None) or "fr-FR")
    w.slot(eo, "legalAuthenticator", (h.legal_authenticator or "") if h else "")
    w.slot(eo, "serviceStartTime", (h.service_start or "") if h else "")
    w.slot(eo, "serviceStopTime", (h.service_stop or "") if h else "")
    w.slot(eo, "size", str(len(d.data)))
    if pid:
        w.slot(eo, "sourcePatientId", pid)
    if who is not None:
        info = [f"PID-3|{pid}"] if pid else []
        if who.family:
            info.append(f"PID-5|{codes.xcn(None, who.family, who.given)[1:]}^^^^^L")
        if who.used_family:
            info.append(f"PID-5|{codes.xcn(None, who.used_family, who.used_given)[1:]}^^^^^D")
        if who.birth:
            info.append(f"PID-7|{who.birth}")
        if who.sex in ("F", "M", "U"):
            info.append(f"PID-8|{who.sex}")
        if re.fullmatch(r"[0-9][0-9AB][0-9]{3}", who.birth_place):
            info.append(f"PID-11|^^^^^^BDL^^{who.birth_place}")
        w.slot(eo, "sourcePatientInfo", *info)
    w.slot(eo, "URI", d.name)
    w.name(eo, (h.title if h else None) or d.name)
    author = _merge(h.author if h else None, ctx.author)
    if author is not None and not author.empty:
        w.author(eo, codes.DE_AUTHOR, author)
    type_code = h.type if h else None
    if type_code is not None:
        w.classification(eo, codes.DE_CLASS, codes.class_of(type_code.code))
    for c in _confidentiality(d.confidentiality, h.confidentiality if h else ()):
        w.classification(eo, codes.DE_CONFIDENTIALITY, codes.confidentiality(c))
    for ev in (h.events if h else ()):
        w.classification(eo, codes.DE_EVENT, ev)
    fmt = codes.format_of(h.body_media_type) if h else codes.MIME_TYPE_SUFFICIENT
    w.classification(eo, codes.DE_FORMAT, fmt)
    w.classification(eo, codes.DE_FACILITY_TYPE, (h.facility_type if h else None) or ctx.facility_type)
    w.classification(eo, codes.DE_PRACTICE_SETTING, (h.practice_setting if h else None) or ctx.practice_setting)
    if type_code is not None:
        w.classification(eo, codes.DE_TYPE, type_code)
    if pid:
        w.external_id(eo, codes.DE_PATIENT_ID, pid, "XDSDocumentEntry.patientId")
    unique = (h.unique_id if h else None) or _oid("document", digest)
    w.external_id(eo, codes.DE_UNIQUE_ID, unique, "XDSDocumentEntry.uniqueId")
    return entry_id

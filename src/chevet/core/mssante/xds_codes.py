"""The identifiers and code sets of IHE XDS metadata (ebRIM) as the IHE_XDM.zip packages sent
over MSSanté carry them, with the French CI-SIS terminologies.

Sources: IHE ITI TF-3 §4.2.5 (the UUIDs of classification and identification schemes, object
types), §4.2.3.1.7 (HL7 v2 data types in metadata: CX, XCN, XON); ANS CI-SIS "Volet partage
de documents de santé" and its terminologies (TRE_A03 classes, TRE_A01 practice settings,
TRE_R02 activity sectors, TRE_R209 activity types, TRE_A06 / TRE_A11 format codes), the
correspondences ASS_X04 (type → class) and ASS_A12 (CDA body media type → format code).

Only the codes this gateway writes are here; a receiving system checks codes against the full
terminologies (the reader here never refuses a package for a code it does not know).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# --- ITI TF-3 §4.2.5: object types and schemes --------------------------------------------
DOCUMENT_ENTRY_STABLE = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
SUBMISSION_SET_NODE = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
REGISTRY_PACKAGE_TYPE = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage"
CLASSIFICATION_TYPE = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification"
EXTERNAL_IDENTIFIER_TYPE = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier"
ASSOCIATION_TYPE = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association"
HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"

DE_AUTHOR = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
DE_CLASS = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
DE_CONFIDENTIALITY = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
DE_EVENT = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
DE_FORMAT = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
DE_FACILITY_TYPE = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
DE_PRACTICE_SETTING = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
DE_TYPE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
DE_PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
DE_UNIQUE_ID = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"

SS_AUTHOR = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
SS_CONTENT_TYPE = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
SS_PATIENT_ID = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
SS_SOURCE_ID = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
SS_UNIQUE_ID = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"

# --- Identifier OIDs (CI-SIS, ANS) ---------------------------------------------------------
NATIONAL_PS_ID = "1.2.250.1.71.4.2.1"     # identifiant national de PS: "8"+RPPS, "0"+ADELI
NATIONAL_ORG_ID = "1.2.250.1.71.4.2.2"    # identifiant national de structure: "1"+FINESS, "3"+SIRET
HL7_CONFIDENTIALITY = "2.16.840.1.113883.5.25"
FRENCH_CONFIDENTIALITY = "1.2.250.1.213.1.1.4.13"
LOINC = "2.16.840.1.113883.6.1"
TYPE_COMPLEMENTARY = "1.2.250.1.213.1.1.4.12"   # TRE_A05-TypeDocComplementaire


@dataclass(frozen=True, slots=True)
class Code:
    """A coded value as ebRIM carries it: ``nodeRepresentation``, the ``codingScheme`` slot and
    the display name (``Name/LocalizedString``)."""

    code: str
    scheme: str
    display: str


# TRE_A03-ClasseDocument (1.2.250.1.213.1.1.4.1), JDV_J06-XdsClassCode-CISIS.
CLASS_SCHEME = "1.2.250.1.213.1.1.4.1"
CLASS_REPORT = Code("10", CLASS_SCHEME, "Compte rendu")
CLASS_SUMMARY = Code("11", CLASS_SCHEME, "Synthèse")
CLASS_PRESCRIPTION = Code("42", CLASS_SCHEME, "Prescription")
CLASS_CARE_PLAN = Code("44", CLASS_SCHEME, "Plan de soins, protocole de soins")
CLASS_CERTIFICATE = Code("52", CLASS_SCHEME, "Certificat, déclaration")

# The class of a document from its type code (after ASS_X04-CorrespondanceType-Classe-CISIS, for
# the types a medico-social establishment exchanges); a type not listed is a report.
_CLASS_OF_TYPE = {
    "11488-4": CLASS_REPORT,     # compte rendu de consultation
    "11490-0": CLASS_REPORT,     # lettre de liaison à la sortie
    "11506-3": CLASS_REPORT,     # compte rendu de suivi (progress note)
    "34133-9": CLASS_SUMMARY,    # synthèse d'épisode de soins
    "60591-5": CLASS_SUMMARY,    # synthèse médicale (patient summary)
    "SYNTH": CLASS_SUMMARY,      # synthèse (TRE_A05)
    "57833-6": CLASS_PRESCRIPTION,
    "18776-5": CLASS_CARE_PLAN,  # plan de soins
}


def class_of(type_code: str | None) -> Code:
    return _CLASS_OF_TYPE.get(type_code or "", CLASS_REPORT)


# TRE_A11-IheFormatCode (1.3.6.1.4.1.19376.1.2.3) and TRE_A06-FormatCodeComplementaire; the
# CDA level 1 body's media type gives the format (ASS_A12).
IHE_FORMAT = "1.3.6.1.4.1.19376.1.2.3"
FRENCH_FORMAT = "1.2.250.1.213.1.1.4.2.282"
_FORMAT_OF_BODY = {
    "application/pdf": Code("urn:ihe:iti:xds-sd:pdf:2008", IHE_FORMAT, "Document à corps non structuré en PDF"),
    "text/plain": Code("urn:ihe:iti:xds-sd:text:2008", IHE_FORMAT, "Document à corps non structuré en texte brut"),
    "text/rtf": Code("urn:ihe:iti-fr:xds-sd:rtf:2010", IHE_FORMAT, "Document à corps non structuré en RTF"),
    "image/jpeg": Code("urn:ihe:iti-fr:xds-sd:jpeg:2010", IHE_FORMAT, "Document à corps non structuré en JPEG"),
    "image/tiff": Code("urn:ihe:iti-fr:xds-sd:tiff:2010", IHE_FORMAT, "Document à corps non structuré en TIFF"),
}
# A document whose format no finer code names: its MIME type says enough (ITI TF-3 §4.2.3.2.9).
MIME_TYPE_SUFFICIENT = Code("urn:ihe:iti:xds:2017:mimeTypeSufficient", IHE_FORMAT, "Format défini par le type MIME")


def format_of(body_media_type: str | None) -> Code:
    return _FORMAT_OF_BODY.get((body_media_type or "").strip().lower(), MIME_TYPE_SUFFICIENT)


# TRE_R02-SecteurActivite (1.2.250.1.71.4.2.4): healthcareFacilityTypeCode.
FACILITY_SCHEME = "1.2.250.1.71.4.2.4"
FACILITY_ELDERLY = Code("SA17", FACILITY_SCHEME, "Etablissement pour personnes âgées")
FACILITY_PUBLIC_HOSPITAL = Code("SA01", FACILITY_SCHEME, "Etablissement public de santé")
FACILITY_HEALTH_CENTRE = Code("SA05", FACILITY_SCHEME, "Centre de santé")
_FACILITIES = {c.code: c for c in (FACILITY_ELDERLY, FACILITY_PUBLIC_HOSPITAL, FACILITY_HEALTH_CENTRE)}


def facility(code: str | None) -> Code | None:
    """The establishment's activity sector (``SA`` and two digits) as a coded value."""
    value = (code or "").strip().upper()
    if not re.fullmatch(r"SA\d{2}", value):
        return None
    return _FACILITIES.get(value, Code(value, FACILITY_SCHEME, value))

# TRE_A01-CadreExercice (1.2.250.1.213.1.1.4.9): practiceSettingCode, JDV_J04.
PRACTICE_SCHEME = "1.2.250.1.213.1.1.4.9"
PRACTICE_MEDICO_SOCIAL = Code("ESSMS", PRACTICE_SCHEME, "Etablissement ou Service Social ou Médico-Social")
PRACTICE_HOSPITAL = Code("ETABLISSEMENT", PRACTICE_SCHEME, "Etablissement de santé")
PRACTICE_AMBULATORY = Code("AMBULATOIRE", PRACTICE_SCHEME, "Ambulatoire")
_PRACTICE_OF_FACILITY = {FACILITY_PUBLIC_HOSPITAL.code: PRACTICE_HOSPITAL,
                         FACILITY_HEALTH_CENTRE.code: PRACTICE_AMBULATORY}


def practice_of(facility_code: Code | None) -> Code:
    """The practice setting that goes with an activity sector: a hospital's, a health centre's
    (ambulatory), else a medico-social establishment's (this gateway's usual sender)."""
    return _PRACTICE_OF_FACILITY.get(facility_code.code if facility_code else "", PRACTICE_MEDICO_SOCIAL)

# TRE_R209-TypeActivite (1.2.250.1.213.2.2): the submission set's contentTypeCode, JDV_J07.
CONTENT_TYPE_SCHEME = "1.2.250.1.213.2.2"
CONTENT_RESIDENTIAL = Code("11", CONTENT_TYPE_SCHEME, "Hébergement complet ou internat")
CONTENT_DAY_CARE = Code("21", CONTENT_TYPE_SCHEME, "Accueil de jour")
CONTENT_OUTPATIENT = Code("07", CONTENT_TYPE_SCHEME, "Consultation soins externes")

# The author's speciality (JDV_J01-XdsAuthorSpecialty-CISIS, 1.2.250.1.213.1.1.4.5): the
# profession (G15) with its ordinal speciality when there is one.
SPECIALTY_SCHEME = "1.2.250.1.213.1.1.4.5"
SPECIALTY_NURSE = Code("G15_60", SPECIALTY_SCHEME, "Infirmier")
SPECIALTY_PHYSICIAN = Code("G15_10", SPECIALTY_SCHEME, "Médecin")

_CONFIDENTIALITY_DISPLAY = {
    "N": "Normal", "R": "Restreint", "V": "Très restreint",
    "MASQUE_PS": "Document masqué aux professionnels de santé",
    "INVISIBLE_PATIENT": "Document non visible par le patient",
    "INVISIBLE_REP_LEGAUX": "Document non visible par les représentants légaux du patient",
}


_CODE = re.compile(r"^[A-Z0-9_]{1,40}$")
_ALIASES = {"INVISIBLE_REPRESENTANTS_LEGAUX": "INVISIBLE_REP_LEGAUX"}   # the code's former, longer name


def confidentiality_code(value: str | None) -> str | None:
    """A confidentiality code as stored: upper case, the current name of a renamed code."""
    code = (value or "").strip().upper()
    code = _ALIASES.get(code, code)
    return code if _CODE.match(code) else None


def confidentiality(code: str) -> Code:
    scheme = HL7_CONFIDENTIALITY if code in ("N", "R", "V") else FRENCH_CONFIDENTIALITY
    return Code(code, scheme, _CONFIDENTIALITY_DISPLAY.get(code, code))


# --- HL7 v2 data types (ITI TF-3 §4.2.3.1.7) ----------------------------------------------
_DELIMITERS = re.compile(r"[|^&~\\\r\n]")


def _v2(value: str) -> str:
    """A component with the HL7 v2 delimiters removed (they would shift the components a
    receiving system reads) and its length bounded."""
    return _DELIMITERS.sub(" ", value).strip()[:250]


def cx(identifier: str, authority_oid: str, id_type: str | None = None) -> str:
    """CX: ``id^^^&OID&ISO`` (+ ``^type``), as patientId and sourcePatientId carry it."""
    out = f"{_v2(identifier)}^^^&{_v2(authority_oid)}&ISO"
    return f"{out}^{_v2(id_type)}" if id_type else out


def xcn(identifier: str | None, family: str, given: str, authority_oid: str | None = None,
        id_type: str | None = None) -> str:
    """XCN: ``id^FAMILY^Given^^^^^^&OID&ISO^D^^^type`` (CI-SIS: ``D`` name, ``IDNPS`` for the
    national identifier of a professional); without an identifier, only the names."""
    if identifier and authority_oid:
        return (f"{_v2(identifier)}^{_v2(family)}^{_v2(given)}^^^^^^&{_v2(authority_oid)}&ISO^D^^^"
                f"{_v2(id_type or '')}")
    return f"^{_v2(family)}^{_v2(given)}"


def xon(name: str, identifier: str | None = None, authority_oid: str | None = None,
        id_type: str | None = None) -> str:
    """XON: ``Name^^^^^&OID&ISO^type^^^id`` (CI-SIS: ``IDNST`` for "1"+FINESS); only the name
    without an identifier."""
    if identifier and authority_oid:
        return f"{_v2(name)}^^^^^&{_v2(authority_oid)}&ISO^{_v2(id_type or '')}^^^{_v2(identifier)}"
    return _v2(name)


def ce(code: Code) -> str:
    """``code^display^scheme``: how authorRole and authorSpecialty carry a coded value."""
    return f"{_v2(code.code)}^{_v2(code.display)}^{_v2(code.scheme)}"

"""The subject of a receipt, as the ANS guide writes it for documents integrated from an
MSSanté mail (volet « Transmission au LPS de documents CDA provenant d'un courriel MSSanté »,
« Objet du MDN »):

- integrated: ``XDM/1.0/DDM+<libellé> <NOM> <prénom> <date de naissance>``;
- not integrated: ``[KO Intégration système !][<code erreur>] XDM/1.0/DDM+…``.

The libellé is the CDA's ``title``, the patient's birth name (``family``, in capitals), first
given name and birth date (``birthTime``, written JJ/MM/AAAA) come from the CDA header
(``recordTarget/patientRole/patient``). A mail without a CDA has no such heading: its receipt
keeps a French label and the mail's own subject.

These values are health data: the subject travels in the trust space as the guide asks, is
stored sealed like every subject, and is never logged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chevet.core import untrusted_xml
from chevet.core.mssante.xds_metadata import cda_header

PREFIX = "XDM/1.0/DDM+"
MAX_SUBJECT = 200
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class DocumentHeading:
    title: str
    family: str | None = None
    given: str | None = None
    birth_date: str | None = None        # JJ/MM/AAAA


def _text(value: str | None) -> str:
    return _SPACES.sub(" ", value or "").strip()


def _birth_date(value: str | None) -> str | None:
    digits = (value or "").strip()[:8]
    if len(digits) != 8 or not digits.isdigit():
        return None
    return f"{digits[6:8]}/{digits[4:6]}/{digits[0:4]}"


def document_heading(cda: bytes) -> DocumentHeading | None:
    """The heading of an HL7 CDA R2 document (its header read by the one CDA header reader,
    ``xds_metadata.cda_header``), or None when it is not one, is refused, or has no title."""
    if b"ClinicalDocument" not in cda[:65536]:
        return None
    try:
        header = cda_header(cda)
    except untrusted_xml.UnsafeXml:
        return None
    if header is None:
        return None
    title = _text(header.title) or _text(header.type.display if header.type is not None else None)
    if not title:
        return None
    return DocumentHeading(title, _text(header.patient_family) or None, _text(header.patient_given) or None,
                           _birth_date(header.patient_birth))


def integration_subject(heading: DocumentHeading, error_code: str | None = None) -> str:
    """``XDM/1.0/DDM+<libellé> <NOM> <prénom> <date de naissance>``, with the KO prefix for an error."""
    parts = [heading.title, heading.family.upper() if heading.family else None, heading.given, heading.birth_date]
    subject = PREFIX + " ".join(p for p in parts if p)
    if error_code:
        subject = f"[KO Intégration système !][{_text(error_code)[:20]}] {subject}"
    return subject[:MAX_SUBJECT]


def receipt_subject(heading: DocumentHeading | None, original_subject: str, label: str,
                    error_code: str | None = None) -> str:
    """The receipt's subject: the guide's form when the mail carried a CDA, else ``label : subject``
    (with the KO prefix too when integration failed)."""
    if heading is not None:
        return integration_subject(heading, error_code)
    subject = f"{label} : {_text(original_subject)}"
    if error_code:
        subject = f"[KO Intégration système !][{_text(error_code)[:20]}] {subject}"
    return subject[:MAX_SUBJECT]

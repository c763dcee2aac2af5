"""Receipts (MDN) as a plain RFC 8098 / RFC 6522 reader sees them: Python's stdlib ``email``
parser, which knows nothing of S/MIME, reading the bytes the gateway sends.

References: RFC 6522 §3 (multipart/report, its parts in order), RFC 8098 §3.2.6–3.2.7
(Disposition grammar, the ``error`` modifier and the ``Error:`` field), ANS volet « Transmission
au LPS de documents CDA provenant d'un courriel MSSanté » v1.1.3, « Structure du MDN » and
« Objet du MDN »."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import Message

import pytest

from chevet.core.mssante import mime, xdm
from chevet.core.mssante.mdn import (
    UNKNOWN_PATIENT,
    Disposition,
    DispositionType,
    integration_error,
    parse_disposition,
)
from chevet.core.mssante.receipt_subject import DocumentHeading, document_heading, receipt_subject
from tests.mss_pki import TestCA

NOW = datetime.now(UTC)
CA = TestCA()
SENDER = CA.issue("CH B", email="servicey@chb.mssante.fr")
CDA = ('<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3">'
       '<code code="11528-7" codeSystem="2.16.840.1.113883.6.1" displayName="CR d\'imagerie médicale"/>'
       "<title>ECHOGRAPHIE ABDOMINOPELVIENNE</title><recordTarget><patientRole>"
       '<id root="1.2.250.1.213.1.4.8" extension="277076322082910"/><patient>'
       '<name><given>Figatellix</given><family qualifier="SP">Dupont</family><family qualifier="BR">Corse</family>'
       '</name><birthTime value="19881012"/></patient></patientRole></recordTarget></ClinicalDocument>').encode()


def _package() -> bytes:
    """A package as another producer writes it (built here with zipfile, not by our builder)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("IHE_XDM/SUBSET01/DOC0001.XML", CDA)
        z.writestr("IHE_XDM/SUBSET01/METADATA.XML", b"<SubmitObjectsRequest/>")
    return out.getvalue()


def _original() -> tuple[mime.InboundMail, bytes]:
    pdf = mime.Attachment("20220531_CR.pdf", "application/pdf", b"%PDF-1.4\n" + bytes(range(256)) * 2)
    package = mime.Attachment(xdm.XDM_NAME, "application/zip", _package())
    env = mime.Envelope(sender="servicey@chb.mssante.fr", recipients=("accueil@ehpad.mssante.fr",),
                        subject="Compte rendu", message_id="20240219230100.23456@chb.mssante.fr", date=NOW,
                        nil="NIL", request_mdn=True)
    raw = mime.assemble(env, mime.build_content("Bonjour,", [package, pdf]), SENDER.identity)
    return mime.parse_inbound(raw, max_bytes=1 << 22, anchors=[CA.cert], at=NOW), raw


def _sent_receipt(disposition: Disposition, subject: str = "XDM/1.0/DDM+X") -> bytes:
    original, raw = _original()
    content = mime.build_mdn_content(original, raw, reporting_ua="pfi.ehpad.mssante.fr; Chevet",
                                     final_recipient="accueil@ehpad.mssante.fr", disposition=disposition,
                                     human_text="Le document n'a pas pu être intégré.")
    env = mime.Envelope(sender="accueil@ehpad.mssante.fr", recipients=("servicey@chb.mssante.fr",),
                        subject=subject, message_id="r1@ehpad.mssante.fr", date=NOW, nil="NIL")
    return mime.assemble(env, content, None)


def _fields(report: Message) -> Message:
    notification = report.get_payload()[1]  # type: ignore[index]
    inner = notification.get_payload()
    # The stdlib reads message/disposition-notification as a list of header blocks (RFC 8098 §3.1).
    return inner[0] if isinstance(inner, list) else message_from_bytes(notification.get_payload(decode=True))


def test_a_plain_reader_meets_the_report_at_the_top_with_the_three_parts_in_order() -> None:
    """RFC 6522 §3: ``multipart/report; report-type=disposition-notification`` is the message's
    own type, parts text/plain, message/disposition-notification, then the original
    (message/rfc822, required by the ANS volet). Not wrapped in multipart/signed."""
    report = message_from_bytes(_sent_receipt(Disposition(DispositionType.PROCESSED)), policy=policy.default)
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "disposition-notification"
    parts = report.get_payload()
    assert isinstance(parts, list)
    assert [p.get_content_type() for p in parts] == ["text/plain", "message/disposition-notification",
                                                     "message/rfc822"]


def test_the_original_travels_whole_and_once_inside_the_report() -> None:
    """ANS volet v1.1.3, « Troisième partie »: the original with its headers, body and attachments,
    IHE_XDM.zip and PDF included, not repeated as extra parts of the report."""
    report = message_from_bytes(_sent_receipt(Disposition(DispositionType.PROCESSED)), policy=policy.default)
    original = report.get_payload()[2].get_payload()[0]  # type: ignore[index]
    assert original["Message-ID"] == "<20240219230100.23456@chb.mssante.fr>"
    names = [p.get_filename() for p in original.walk() if p.get_filename()]
    assert sorted(names) == ["20220531_CR.pdf", "IHE_XDM.zip", "smime.p7s"]   # the original, signature included


def test_the_machine_readable_fields_the_ans_requires() -> None:
    """RFC 8098 §3.1–3.2 and the ANS volet: Final-Recipient and Disposition (required),
    Original-Message-ID and Original-Recipient (required by the volet), Reporting-UA (SHOULD)."""
    fields = _fields(message_from_bytes(_sent_receipt(Disposition(DispositionType.PROCESSED))))
    assert fields["Final-Recipient"] == "rfc822;accueil@ehpad.mssante.fr"
    assert fields["Original-Recipient"] == "rfc822;accueil@ehpad.mssante.fr"
    assert fields["Original-Message-ID"] == "<20240219230100.23456@chb.mssante.fr>"
    assert fields["Reporting-UA"].startswith("pfi.ehpad.mssante.fr")
    assert fields["Disposition"] == "automatic-action/MDN-sent-automatically; processed"
    assert fields["Error"] is None


def test_original_recipient_comes_from_the_mails_own_header() -> None:
    """RFC 8098 §3.2.3: the Original-Recipient field repeats the received mail's
    ``Original-Recipient`` header (written by the receiving MTA from ORCPT) when there is one."""
    original, raw = _original()
    raw = b"Original-Recipient: rfc822; Secretariat@EHPAD.mssante.fr\r\n" + raw
    content = mime.build_mdn_content(original, raw, reporting_ua="Chevet", final_recipient="accueil@ehpad.mssante.fr",
                                     disposition=Disposition(DispositionType.PROCESSED), human_text="Traité")
    fields = _fields(message_from_bytes(content))
    assert fields["Original-Recipient"] == "rfc822;secretariat@ehpad.mssante.fr"
    assert fields["Final-Recipient"] == "rfc822;accueil@ehpad.mssante.fr"


def test_an_error_receipt_uses_the_rfc_8098_error_modifier_and_field() -> None:
    """RFC 8098 §3.2.6: after ``/`` only the atom ``error``; §3.2.7: the diagnostic in ``Error:``.
    ANS volet v1.1.3: ``processed/error`` and ``Error: 902^Identifiant de patient inconnu``."""
    fields = _fields(message_from_bytes(_sent_receipt(UNKNOWN_PATIENT.disposition())))
    assert fields["Disposition"] == "automatic-action/MDN-sent-automatically; processed/error"
    assert fields["Error"] == "902^Identifiant de patient inconnu"
    # The fields are 7-bit (RFC 8098 §3.1): a French label loses its accents there, not in the text part.
    accented = Disposition(DispositionType.PROCESSED, error_code="207", error_label="Document masqué : non intégré")
    report = message_from_bytes(_sent_receipt(accented))
    assert _fields(report)["Error"] == "207^Document masque : non integre"


def test_our_reader_reads_both_error_forms_and_our_own_receipts() -> None:
    """The guide's earlier form (``processed/Error: code^label``) and the current one both give
    the code and label back."""
    old = parse_disposition("automatic-action/MDN-sent-automatically; processed/Error: 902^Identifiant patient inconnu")
    assert old is not None and (old.error_code, old.error_label) == ("902", "Identifiant patient inconnu")
    got = mime.parse_inbound(_sent_receipt(UNKNOWN_PATIENT.disposition()), max_bytes=1 << 22, anchors=[CA.cert],
                             at=NOW)
    assert got.disposition is not None and got.disposition.failed
    assert (got.disposition.error_code, got.disposition.error_label) == ("902", "Identifiant de patient inconnu")
    assert got.disposition.original_message_id == "20240219230100.23456@chb.mssante.fr"


def test_subject_follows_the_ans_guide_from_the_cda_header() -> None:
    """ANS « Objet du MDN »: ``XDM/1.0/DDM+<libellé> <NOM> <prénom> <date de naissance>``, and
    ``[KO Intégration système !][<code>] …`` for an error (the guide's example:
    ``[KO Intégration système !][902] XDM/1.0/DDM+ECHOGRAPHIE ABDOMINOPELVIENNE CORSE …``).
    The NOM is the birth name (CDA family qualifier BR); the date JJ/MM/AAAA from birthTime."""
    heading = document_heading(CDA)
    assert heading == DocumentHeading("ECHOGRAPHIE ABDOMINOPELVIENNE", "Corse", "Figatellix", "12/10/1988")
    assert receipt_subject(heading, "Compte rendu", "Accusé de traitement") == \
        "XDM/1.0/DDM+ECHOGRAPHIE ABDOMINOPELVIENNE CORSE Figatellix 12/10/1988"
    assert receipt_subject(heading, "Compte rendu", "Accusé de traitement", "902") == \
        "[KO Intégration système !][902] XDM/1.0/DDM+ECHOGRAPHIE ABDOMINOPELVIENNE CORSE Figatellix 12/10/1988"
    # Without a CDA there is no heading: a French label and the mail's subject.
    assert receipt_subject(None, "Bilan\r\n du jour", "Accusé de lecture") == "Accusé de lecture : Bilan du jour"


def test_the_subject_reaches_a_plain_reader_intact() -> None:
    """RFC 2047: the non-ASCII subject is encoded, and decodes back to the guide's text."""
    subject = "[KO Intégration système !][902] XDM/1.0/DDM+ECHOGRAPHIE CORSE Figatellix 12/10/1988"
    report = message_from_bytes(_sent_receipt(UNKNOWN_PATIENT.disposition(), subject), policy=policy.default)
    assert str(report["Subject"]) == subject


@pytest.mark.parametrize(("reason", "code"), [("xdm_masked_for_professionals", "207"), ("xdm_zip_bomb", "102"),
                                              ("mss_patient_unknown", "902"), ("something_else", "207")])
def test_quarantine_reasons_map_to_the_receipt_codes(reason: str, code: str) -> None:
    """HL7 v2 table 0357 (messageErrorCondition: 102 data type error, 207 application internal
    error) and the French application code 902 of the ANS volet's « Codes d'erreur »."""
    assert integration_error(reason).code == code


def test_a_hostile_or_foreign_document_has_no_heading() -> None:
    assert document_heading(b'<!DOCTYPE x [<!ENTITY a "b">]><ClinicalDocument xmlns="urn:hl7-org:v3"/>') is None
    assert document_heading(b"<ClinicalDocument><title>x</title></ClinicalDocument>") is None
    assert document_heading(b"%PDF-1.4") is None

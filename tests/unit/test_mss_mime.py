"""MSSanté messages: what a GP's software and an auditor check in what Chevet sends, and how
Chevet reads what it receives (including hostile input)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chevet.core.mssante import mime, smime, xdm
from chevet.core.mssante.mdn import Disposition, DispositionType, parse_disposition
from tests.mss_pki import TestCA

NOW = datetime.now(UTC)
CA = TestCA()
ORG = CA.issue("EHPAD Les Tilleuls", email="secretariat@ehpad.test")
GP = CA.issue("Dr Martin", email="gp@gp.test")
ROGUE = TestCA("AC PIRATE")
CDA = (b'<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3">'
       b'<code code="11488-4" codeSystem="2.16.840.1.113883.6.1"/><recordTarget><patientRole>'
       b'<id root="1.2.250.1.213.1.4.8" extension="277076322082910"/></patientRole></recordTarget>'
       b"</ClinicalDocument>")


def envelope(**kw: object) -> mime.Envelope:
    base: dict[str, object] = dict(sender="secretariat@ehpad.test", recipients=("gp@gp.test",),
                                   subject="Compte rendu de séjour", message_id="m1@ehpad.test", date=NOW, nil="NIL-42")
    base.update(kw)
    return mime.Envelope(**base)  # type: ignore[arg-type]


def signed_mail(text: str = "Bonjour docteur,\nvoici le compte rendu.\n", **kw: object) -> bytes:
    pdf = mime.Attachment("compte-rendu.pdf", "application/pdf", b"%PDF-1.4\n" + bytes(range(256)) * 4)
    return mime.assemble(envelope(**kw), mime.build_content(text, [pdf]), ORG.identity)


def test_signed_message_verifies_with_openssl_and_carries_the_mssante_headers(tmp_path: Path) -> None:
    raw = signed_mail(request_mdn=True)
    (tmp_path / "m.eml").write_bytes(raw)
    (tmp_path / "ca.pem").write_bytes(CA.pem())
    out = subprocess.run(["openssl", "cms", "-verify", "-in", str(tmp_path / "m.eml"), "-CAfile",
                          str(tmp_path / "ca.pem"), "-out", str(tmp_path / "content")], capture_output=True)
    assert out.returncode == 0, out.stderr
    assert b"compte-rendu.pdf" in (tmp_path / "content").read_bytes()
    msg = message_from_bytes(raw)
    assert msg["X-MSS-NIL"] == "NIL-42"
    assert msg["X-MSS-CODECDA"] is None and msg["X-MSS-INS"] is None   # no CDA: headers omitted
    assert msg["Disposition-Notification-To"] == "secretariat@ehpad.test"
    assert msg["Message-ID"] == "<m1@ehpad.test>"
    assert msg.get_content_type() == "multipart/signed"
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert max(raw) < 128   # 7-bit: no relay may re-encode signed bytes


def test_cda_headers_follow_the_documents() -> None:
    env = envelope(cda_codes=("11488-4", "34112-3"), ins_qualified=True)
    msg = message_from_bytes(mime.assemble(env, mime.build_content("x", []), ORG.identity))
    assert msg["X-MSS-CODECDA"] == "11488-4,34112-3"
    assert msg["X-MSS-INS"] == "O"
    assert xdm.cda_facts(CDA) == xdm.CdaFacts("11488-4", True)


def test_openssl_refuses_a_tampered_message(tmp_path: Path) -> None:
    raw = signed_mail().replace(b"voici le", b"voila le")
    (tmp_path / "m.eml").write_bytes(raw)
    (tmp_path / "ca.pem").write_bytes(CA.pem())
    out = subprocess.run(["openssl", "cms", "-verify", "-in", str(tmp_path / "m.eml"), "-CAfile",
                          str(tmp_path / "ca.pem"), "-out", "/dev/null"], capture_output=True)
    assert out.returncode != 0
    parsed = mime.parse_inbound(raw, max_bytes=1 << 22, anchors=[CA.cert], at=NOW)
    assert parsed.signature.status is smime.SignatureStatus.INVALID


def test_reading_a_signed_message() -> None:
    parsed = mime.parse_inbound(signed_mail(), max_bytes=1 << 22, anchors=[CA.cert], at=NOW)
    assert parsed.signature.status is smime.SignatureStatus.VALID
    assert parsed.signature.signer_emails == ("secretariat@ehpad.test",)
    assert parsed.text.startswith("Bonjour docteur,")
    assert [a.filename for a in parsed.attachments] == ["compte-rendu.pdf"]
    assert parsed.attachments[0].data.startswith(b"%PDF-1.4")


def test_signature_from_outside_the_trust_space_is_not_valid() -> None:
    parsed = mime.parse_inbound(signed_mail(), max_bytes=1 << 22, anchors=[ROGUE.cert], at=NOW)
    assert parsed.signature.status is smime.SignatureStatus.UNTRUSTED


def test_expired_signer_is_reported() -> None:
    old = CA.issue("Old", email="old@ehpad.test", not_before=NOW - timedelta(days=400), days=30)
    raw = mime.assemble(envelope(), mime.build_content("x", []), old.identity)
    parsed = mime.parse_inbound(raw, max_bytes=1 << 22, anchors=[CA.cert], at=NOW)
    assert parsed.signature.status is smime.SignatureStatus.EXPIRED


def test_encrypted_to_the_recipient_and_only_the_recipient(tmp_path: Path) -> None:
    raw = mime.assemble(envelope(), mime.build_content("secret médical", []), ORG.identity, [GP.cert])
    assert b"dical" not in raw and b"secret m" not in raw
    (tmp_path / "m.eml").write_bytes(raw)
    (tmp_path / "gp.pem").write_bytes(GP.pem() + GP.key_pem())
    out = subprocess.run(["openssl", "cms", "-decrypt", "-in", str(tmp_path / "m.eml"), "-recip",
                          str(tmp_path / "gp.pem")], capture_output=True)
    assert out.returncode == 0 and b"multipart/signed" in out.stdout
    parsed = mime.parse_inbound(raw, max_bytes=1 << 22, anchors=[CA.cert], at=NOW,
                                decrypt=lambda der: smime.decrypt(der, GP.identity))
    assert parsed.encrypted and parsed.signature.status is smime.SignatureStatus.VALID
    assert parsed.text == "secret médical"
    with pytest.raises(mime.MalformedMail) as refused:
        mime.parse_inbound(raw, max_bytes=1 << 22, anchors=[CA.cert], at=NOW,
                           decrypt=lambda der: smime.decrypt(der, ORG.identity))
    assert refused.value.reason == "decrypt_failed"


def test_receipt_round_trip_follows_the_ans_structure() -> None:
    original_raw = signed_mail(request_mdn=True)
    original = mime.parse_inbound(original_raw, max_bytes=1 << 22, anchors=[CA.cert], at=NOW)
    content = mime.build_mdn_content(original, original_raw, reporting_ua="Chevet", final_recipient="gp@gp.test",
                                     disposition=Disposition(DispositionType.PROCESSED), human_text="Traité")
    report = message_from_bytes(content)
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "disposition-notification"
    parts = [p.get_content_type() for p in report.get_payload()]  # type: ignore[union-attr]
    assert parts == ["text/plain", "message/disposition-notification", "message/rfc822"]
    # The original documents travel once, inside the original (ANS volet v1.1.3).
    assert "application/pdf" in [p.get_content_type() for p in report.get_payload()[2].walk()]  # type: ignore[index]
    env = envelope(sender="gp@gp.test", recipients=("secretariat@ehpad.test",), message_id="mdn1@gp.test")
    parsed = mime.parse_inbound(mime.assemble(env, content, GP.identity), max_bytes=1 << 22, anchors=[CA.cert], at=NOW)
    assert parsed.disposition is not None
    assert parsed.disposition.type is DispositionType.PROCESSED and not parsed.disposition.failed
    assert parsed.disposition.original_message_id == "m1@ehpad.test"
    assert parsed.disposition.final_recipient == "gp@gp.test"


def test_error_dispositions_keep_the_ans_code() -> None:
    d = parse_disposition("automatic-action/MDN-sent-automatically; processed/Error: 902^Identifiant patient inconnu")
    assert d is not None and d.error_code == "902" and d.error_label == "Identifiant patient inconnu"
    assert Disposition(DispositionType.PROCESSED, error_code="902", error_label="x").field().endswith("processed/error")
    assert parse_disposition(Disposition(DispositionType.DISPLAYED, automatic=False).field()) == Disposition(
        DispositionType.DISPLAYED, automatic=False)


MALFORMED = {
    b"": "empty",
    b"Subject: no sender\r\n\r\nbody": "sender_invalid",
    b"From: a@b.test, c@d.test\r\n\r\ntwo senders": "sender_invalid",
    b"From: a@b.test\r\nContent-Type: multipart/signed; boundary=zz\r\n\r\n--zz\r\nnope": "signed_structure",
    b"From: a@b.test\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nAAAA": "encrypted_no_key",
    b"From: a@b.test\r\nContent-Type: multipart/report; report-type=disposition-notification; boundary=q\r\n\r\n"
    b"--q\r\nContent-Type: text/plain\r\n\r\nhi\r\n--q--\r\n": "mdn_structure",
    b"From: MAILER-DAEMON@op.test\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=q\r\n\r\n"
    b"--q\r\nContent-Type: text/plain\r\n\r\nundeliverable\r\n--q--\r\n": "dsn_without_original",
}


@pytest.mark.parametrize("raw,reason", list(MALFORMED.items()))
def test_malformed_mail_is_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(mime.MalformedMail) as refused:
        mime.parse_inbound(raw, max_bytes=1 << 20, anchors=[CA.cert], at=NOW)
    assert refused.value.reason == reason


def test_too_large_and_too_deep_mail_are_refused() -> None:
    with pytest.raises(mime.MalformedMail, match="mss_malformed"):
        mime.parse_inbound(b"From: a@b.test\r\n\r\n" + b"x" * 2000, max_bytes=1000, anchors=[], at=NOW)
    nested = b"".join(b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1) for i in range(60))
    raw = b"From: a@b.test\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n" + nested
    with pytest.raises(mime.MalformedMail) as refused:
        mime.parse_inbound(raw, max_bytes=1 << 20, anchors=[], at=NOW)
    assert refused.value.reason in ("too_deep", "too_many_parts")


def test_attachment_names_never_become_paths() -> None:
    raw = (b"From: a@b.test\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Type: text/plain\r\n\r\n"
           b"hi\r\n--z\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
           b'filename="../../etc/passwd"\r\n\r\nx\r\n--z--\r\n')
    parsed = mime.parse_inbound(raw, max_bytes=1 << 20, anchors=[], at=NOW)
    assert [a.filename for a in parsed.attachments] == ["passwd"]
    assert parsed.signature.status is smime.SignatureStatus.UNSIGNED


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_any_bytes_are_either_read_or_refused_with_a_reason(raw: bytes) -> None:
    try:
        mime.parse_inbound(b"From: a@b.test\r\n" + raw, max_bytes=1 << 20, anchors=[CA.cert], at=NOW)
    except mime.MalformedMail as exc:
        assert exc.reason


_printable = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=300)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_printable.filter(lambda t: t.strip() != ""),
       name=st.text(st.characters(whitelist_categories=("L", "N"), max_codepoint=0x2FF), min_size=1, max_size=40),
       data=st.binary(max_size=2000))
def test_what_is_signed_is_what_is_read(text: str, name: str, data: bytes) -> None:
    att = mime.Attachment(name + ".bin", "application/octet-stream", data)
    raw = mime.assemble(envelope(), mime.build_content(text, [att]), ORG.identity)
    parsed = mime.parse_inbound(raw, max_bytes=1 << 22, anchors=[CA.cert], at=NOW)
    assert parsed.signature.status is smime.SignatureStatus.VALID
    assert parsed.text.replace("\r\n", "\n").strip("\n") == text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    assert [(a.filename, a.data) for a in parsed.attachments] == [(att.filename, data)]

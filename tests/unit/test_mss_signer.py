"""Who may sign a received mail (RFC 8550 §3, §4.4.2, §4.4.4): a certificate of the trust
space is not enough; it must have been issued to the sender and be meant for signing mail.
OpenSSL verifies each of these mails cryptographically, so every refusal here is ours, by policy."""

from __future__ import annotations

import base64
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID

from chevet.core.mssante import mime, smime
from tests.mss_pki import Issued, TestCA

NOW = datetime.now(UTC)
CA = TestCA()
SENDER = "dr.martin@gp.test"
Status = smime.SignatureStatus

SIGNERS: dict[str, Issued] = {
    "own": CA.issue("Dr Martin", email=SENDER),
    "own_other_case": CA.issue("Dr Martin", email="Dr.Martin@GP.test"),
    "other_address": CA.issue("Dr Durand", email="dr.durand@gp.test"),
    "subject_email_only": CA.issue("Dr Martin", subject_email=SENDER),
    "subject_email_other": CA.issue("Dr Durand", subject_email="dr.durand@gp.test"),
    "no_address": CA.issue("Cabinet du Dr Martin"),
    "no_digital_signature": CA.issue("Dr Martin", email=SENDER, signing=False),
    "eku_without_email": CA.issue("Dr Martin", email=SENDER, ekus=[ExtendedKeyUsageOID.CLIENT_AUTH]),
    "eku_any": CA.issue("Dr Martin", email=SENDER, ekus=[ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]),
}


def _mail(signer: Issued, sender: str = SENDER) -> bytes:
    env = mime.Envelope(sender=sender, recipients=("secretariat@ehpad.test",), subject="Résultats",
                        message_id="r1@gp.test", date=NOW, nil="N")
    return mime.assemble(env, mime.build_content("Bonjour,\nles résultats.\n", []), signer.identity)


def _read(raw: bytes) -> smime.SignatureCheck:
    return mime.parse_inbound(raw, max_bytes=1 << 22, anchors=[CA.cert], at=NOW).signature


@pytest.mark.parametrize(("signer", "status", "reason"), [
    ("own", "valid", None),
    ("own_other_case", "valid", None),
    ("other_address", "mismatch", "sender_mismatch"),
    ("subject_email_only", "valid", None),
    ("subject_email_other", "mismatch", "sender_mismatch"),
    ("no_address", "valid", None),    # RFC 8550 §3: only addresses present are compared
    ("no_digital_signature", "untrusted", "key_usage"),
    ("eku_without_email", "untrusted", "extended_key_usage"),
    ("eku_any", "valid", None),
])
def test_the_signer_must_be_the_sender_and_fit_for_mail(tmp_path: Path, signer: str, status: str,
                                                        reason: str | None) -> None:
    raw = _mail(SIGNERS[signer])
    # The mail itself is cryptographically sound: OpenSSL (which does not compare addresses)
    # verifies it, so a refusal below is our policy, not a broken signature.
    (tmp_path / "m.eml").write_bytes(raw)
    (tmp_path / "ca.pem").write_bytes(CA.pem())
    out = subprocess.run(["openssl", "cms", "-verify", "-purpose", "any", "-in", str(tmp_path / "m.eml"),
                          "-CAfile", str(tmp_path / "ca.pem"), "-out", str(tmp_path / "content")],
                         capture_output=True, check=False)
    assert out.returncode == 0, out.stderr
    check = _read(raw)
    assert (check.status.value, check.reason) == (status, reason)
    assert check.intact


def test_a_mismatch_names_the_certificate_s_addresses() -> None:
    check = _read(_mail(SIGNERS["other_address"]))
    assert check.signer_emails == ("dr.durand@gp.test",)
    assert check.status is not Status.VALID


def test_openssl_with_the_smime_purpose_agrees_on_unfit_certificates(tmp_path: Path) -> None:
    """An independent check of the key usage rules: OpenSSL's S/MIME signing purpose refuses
    the same two certificates that we refuse, and accepts the sender's own."""
    (tmp_path / "ca.pem").write_bytes(CA.pem())
    verdicts = {}
    for name in ("own", "no_digital_signature", "eku_without_email"):
        (tmp_path / "m.eml").write_bytes(_mail(SIGNERS[name]))
        out = subprocess.run(["openssl", "cms", "-verify", "-purpose", "smimesign", "-in", str(tmp_path / "m.eml"),
                              "-CAfile", str(tmp_path / "ca.pem"), "-out", str(tmp_path / "content")],
                             capture_output=True, check=False)
        verdicts[name] = out.returncode == 0
    assert verdicts == {"own": True, "no_digital_signature": False, "eku_without_email": False}


def test_a_forged_from_in_an_opaque_signature_is_a_mismatch() -> None:
    """The same rule for ``application/pkcs7-mime; smime-type=signed-data`` (content inside the
    signature): a signer of the trust space cannot speak for another address either."""
    signer = SIGNERS["other_address"]
    inner = mime.build_content("Texte signé\n", [])
    der = pkcs7.PKCS7SignatureBuilder().set_data(inner).add_signer(signer.cert, signer.key, hashes.SHA256()) \
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    body = base64.encodebytes(der).replace(b"\n", b"\r\n")
    raw = (f"From: {SENDER}\r\nTo: secretariat@ehpad.test\r\nSubject: x\r\nMessage-ID: <o1@gp.test>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n").encode() + body
    check = _read(raw)
    assert (check.status, check.reason) == ("mismatch", "sender_mismatch")

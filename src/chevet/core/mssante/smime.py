"""S/MIME (CMS) signing, verification, encryption and decryption.

``cryptography`` signs and encrypts; it cannot verify a CMS signature, so verification parses
the SignedData with ``asn1crypto`` and checks, in order: the content digest against the signed
``message-digest`` attribute, the signature over the signed attributes with the signer's key,
and the signer's chain up to one of the configured trust anchors (IGC-Santé in production),
with validity dates at the time of the check, then, when CRLs are configured, revocation of
each certificate of that chain (``revocation``; OCSP would need the network and is not used).
A chain that reaches the trust space is not enough: the signer's certificate must be one for
signing mail (key usage, extended key usage) and must have been issued to the sender.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from chevet.core.errors import InvalidInput
from chevet.core.mssante.revocation import Revocation, RevocationPolicy
from chevet.core.mssante.revocation import status as revocation_status

_DIGESTS: dict[str, type[hashes.SHA1 | hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
MAX_CHAIN = 6


class SignatureStatus(StrEnum):
    """What a reader is shown about a received message's signature."""

    VALID = "valid"            # intact and signed by a certificate of the trust space
    UNTRUSTED = "untrusted"    # intact, but the signer's chain does not reach a trust anchor
    EXPIRED = "expired"        # intact, but a certificate of the chain was not valid at check time
    INVALID = "invalid"        # altered content or broken signature
    REVOKED = "revoked"        # intact, but a certificate of the chain is on its issuer's CRL
    MISMATCH = "mismatch"      # intact and trusted, but issued to another address than the sender's
    UNSIGNED = "unsigned"


@dataclass(frozen=True, slots=True)
class SigningIdentity:
    """The organisation's certificate and key (and the chain to send along)."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    chain: tuple[x509.Certificate, ...] = ()

    def __repr__(self) -> str:
        return f"SigningIdentity({self.certificate.subject.rfc4514_string()})"


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    status: SignatureStatus
    signer: str | None = None          # subject of the signing certificate
    signer_emails: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.status in (SignatureStatus.VALID, SignatureStatus.UNTRUSTED, SignatureStatus.EXPIRED,
                               SignatureStatus.MISMATCH)


def load_identity(data: bytes, password: bytes | None = None, key_data: bytes | None = None) -> SigningIdentity:
    """From a PKCS#12 file, or from PEM certificate(s) plus a PEM key (in ``data`` or ``key_data``)."""
    if b"-----BEGIN" not in data:
        from cryptography.hazmat.primitives.serialization import pkcs12

        try:
            p12 = pkcs12.load_pkcs12(data, password)
        except ValueError as exc:
            raise InvalidInput("mss_identity_unreadable") from exc
        if p12.cert is None or p12.key is None:
            raise InvalidInput("mss_identity_unreadable")
        key = p12.key
        cert = p12.cert.certificate
        chain = tuple(c.certificate for c in p12.additional_certs)
    else:
        certs = x509.load_pem_x509_certificates(data)
        try:
            key = serialization.load_pem_private_key(key_data or data, password)
        except (ValueError, TypeError) as exc:
            raise InvalidInput("mss_identity_unreadable") from exc
        cert, chain = certs[0], tuple(certs[1:])
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise InvalidInput("mss_identity_unreadable")
    if cert.public_key() != key.public_key():
        raise InvalidInput("mss_identity_key_mismatch")
    return SigningIdentity(cert, key, chain)


def sign_detached(data: bytes, identity: SigningIdentity) -> bytes:
    """A detached SignedData (DER) over exactly ``data`` (already canonical CRLF MIME)."""
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(
        identity.certificate, identity.key, hashes.SHA256())
    for c in identity.chain:
        builder = builder.add_certificate(c)
    return builder.sign(serialization.Encoding.DER,
                        [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])


def encrypt(data: bytes, recipients: list[x509.Certificate]) -> bytes:
    """An EnvelopedData (DER, AES-256-CBC) that each recipient certificate can open."""
    if not recipients:
        raise ValueError("at least one recipient certificate")
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(data).set_content_encryption_algorithm(
        algorithms_aes256())
    for cert in recipients:
        builder = builder.add_recipient(cert)
    return builder.encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])


def algorithms_aes256() -> type:
    from cryptography.hazmat.primitives.ciphers import algorithms

    return algorithms.AES256


def decrypt(der: bytes, identity: SigningIdentity) -> bytes:
    if not isinstance(identity.key, rsa.RSAPrivateKey):
        raise InvalidInput("mss_decrypt_failed")
    try:
        return pkcs7.pkcs7_decrypt_der(der, identity.certificate, identity.key, [])
    except (ValueError, TypeError) as exc:
        raise InvalidInput("mss_decrypt_failed") from exc


def _parse_signed_data(der: bytes) -> asn1_cms.SignedData:
    info = asn1_cms.ContentInfo.load(der)
    if info["content_type"].native != "signed_data":
        raise ValueError("not a SignedData")
    signed: asn1_cms.SignedData = info["content"]
    _ = signed.native  # force full parsing now, so that malformed DER fails here
    return signed


def opaque_content(der: bytes) -> bytes:
    """The content embedded in an opaque (``signed-data``) S/MIME message."""
    try:
        signed = _parse_signed_data(der)
        content = signed["encap_content_info"]["content"]
        return bytes(content.native or b"")
    except Exception as exc:  # asn1crypto raises many types on hostile input
        raise InvalidInput("mss_signature_unreadable") from exc


def verify(content: bytes | None, der: bytes, anchors: list[x509.Certificate], at: datetime,
           revocation: RevocationPolicy | None = None, sender: str | None = None,
           purpose: Literal["mail", "timestamping"] = "mail") -> SignatureCheck:
    """Check a detached (``content`` given) or opaque (``content`` None) signature; with
    ``sender`` (the From address), also that the signer's certificate was issued to it.
    ``purpose`` says what the signer's certificate must be fit for: signing mail, or
    (an RFC 3161 time-stamp token, whose content is the TSTInfo) time-stamping."""
    try:
        signed = _parse_signed_data(der)
        if content is None:
            content = bytes(signed["encap_content_info"]["content"].native or b"")
        certs = [x509.load_der_x509_certificate(c.chosen.dump()) for c in signed["certificates"]
                 if c.name == "certificate"] if signed["certificates"].native else []
        signer_infos = list(signed["signer_infos"])
    except Exception:  # asn1crypto raises many types on hostile input
        return SignatureCheck(SignatureStatus.INVALID, reason="unreadable")
    if len(signer_infos) != 1:
        return SignatureCheck(SignatureStatus.INVALID, reason="signer_count")
    si = signer_infos[0]
    try:
        signer = _find_signer(si, certs)
    except Exception:
        signer = None
    if signer is None:
        return SignatureCheck(SignatureStatus.INVALID, reason="signer_certificate_missing")
    subject = signer.subject.rfc4514_string()
    emails = _emails(signer)
    try:
        _check_signature(si, content, signer)
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return SignatureCheck(SignatureStatus.INVALID, subject, emails, reason="signature_mismatch")
    chain_status, reason, path = _check_chain(signer, certs, anchors, at)
    if chain_status is SignatureStatus.VALID and revocation is not None and revocation.active:
        revoked = revocation_status(path, revocation.crls, at)
        if revoked is Revocation.REVOKED:
            return SignatureCheck(SignatureStatus.REVOKED, subject, emails, "certificate_revoked")
        if revoked is Revocation.UNKNOWN and revocation.required:
            return SignatureCheck(SignatureStatus.UNTRUSTED, subject, emails, "revocation_unknown")
    if chain_status is SignatureStatus.VALID:
        if (unfit := (_unfit_for_mail if purpose == "mail" else _unfit_for_timestamps)(signer)) is not None:
            return SignatureCheck(SignatureStatus.UNTRUSTED, subject, emails, unfit)
        if sender is not None and not signed_by_sender(emails, sender):
            return SignatureCheck(SignatureStatus.MISMATCH, subject, emails, "sender_mismatch")
    return SignatureCheck(chain_status, subject, emails, reason)


def signed_by_sender(signer_emails: tuple[str, ...], sender: str) -> bool:
    """RFC 8550 §3: a receiving agent MUST check that the From address matches an address of
    the signer's certificate when the certificate has addresses. A certificate without any
    address (one issued to an organisation or a service) names no sender: it matches, and the
    reader is shown its subject. Addresses compare case-insensitively, as they are delivered."""
    return not signer_emails or sender.strip().lower() in signer_emails


def _unfit_for_mail(cert: x509.Certificate) -> str | None:
    """Why the certificate may not sign mail, or None. RFC 8550 §4.4.2: a key usage extension,
    if present, must allow digitalSignature or nonRepudiation (contentCommitment); §4.4.4: an
    extended key usage extension, if present, must include id-kp-emailProtection or
    anyExtendedKeyUsage."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not (usage.digital_signature or usage.content_commitment):
            return "key_usage"
    except x509.ExtensionNotFound:
        pass
    try:
        purposes = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.EMAIL_PROTECTION not in purposes and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE \
                not in purposes:
            return "extended_key_usage"
    except x509.ExtensionNotFound:
        pass
    return None


def _unfit_for_timestamps(cert: x509.Certificate) -> str | None:
    """RFC 3161 §2.3: a TSA's certificate has exactly one extended key usage, id-kp-timeStamping,
    marked critical."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return "extended_key_usage"
    if not ext.critical or list(ext.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        return "extended_key_usage"
    return None


def _find_signer(si: asn1_cms.SignerInfo, certs: list[x509.Certificate]) -> x509.Certificate | None:
    sid = si["sid"]
    if sid.name == "issuer_and_serial_number":
        serial = sid.chosen["serial_number"].native
        issuer = sid.chosen["issuer"].dump()
        for c in certs:
            if c.serial_number == serial and c.issuer.public_bytes() == issuer:
                return c
        # Some encoders re-encode the issuer name: fall back on the serial number alone.
        matches = [c for c in certs if c.serial_number == serial]
        return matches[0] if len(matches) == 1 else None
    ski = sid.chosen.native
    for c in certs:
        try:
            if c.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest == ski:
                return c
        except x509.ExtensionNotFound:
            continue
    return None


def _emails(cert: x509.Certificate) -> tuple[str, ...]:
    """The certificate's mail addresses: the rfc822Name entries of its subjectAltName or, in
    an older certificate without them, the emailAddress attributes of its subject (RFC 8550 §3)."""
    found: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        found = list(san.get_values_for_type(x509.RFC822Name))
    except x509.ExtensionNotFound:
        pass
    if not found:
        found = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)]
    return tuple(e.strip().lower() for e in found)


def _check_signature(si: asn1_cms.SignerInfo, content: bytes, signer: x509.Certificate) -> None:
    algo = si["digest_algorithm"]["algorithm"].native
    if algo not in _DIGESTS:
        raise ValueError("digest algorithm")
    hash_cls = _DIGESTS[algo]
    signed_attrs = si["signed_attrs"]
    signature = si["signature"].native
    if signed_attrs.native:
        digest = None
        for attr in signed_attrs:
            if attr["type"].native == "message_digest":
                digest = attr["values"][0].native
        if digest is None or digest != hashlib.new(algo, content).digest():
            raise ValueError("digest")
        to_verify = signed_attrs.untag().dump()
    else:
        to_verify = content
    key = signer.public_key()
    sig_algo = si["signature_algorithm"]["algorithm"].native
    if isinstance(key, rsa.RSAPublicKey):
        if sig_algo == "rsassa_pss":
            params = si["signature_algorithm"]["parameters"]
            mgf_hash = _DIGESTS[params["mask_gen_algorithm"]["parameters"]["algorithm"].native]()
            key.verify(signature, to_verify, padding.PSS(padding.MGF1(mgf_hash), params["salt_length"].native),
                       hash_cls())
        else:
            key.verify(signature, to_verify, padding.PKCS1v15(), hash_cls())
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, to_verify, ec.ECDSA(hash_cls()))
    else:
        raise ValueError("key type")


def _valid_at(cert: x509.Certificate, at: datetime) -> bool:
    return cert.not_valid_before_utc <= at <= cert.not_valid_after_utc


def _check_chain(signer: x509.Certificate, certs: list[x509.Certificate], anchors: list[x509.Certificate],
                 at: datetime) -> tuple[SignatureStatus, str | None, list[x509.Certificate]]:
    """The chain's verdict, and the path found (signer first, trust anchor last)."""
    current = signer
    path = [signer]
    expired = not _valid_at(signer, at)
    for _ in range(MAX_CHAIN):
        for anchor in anchors:
            if current.issuer == anchor.subject:
                try:
                    current.verify_directly_issued_by(anchor)
                except (InvalidSignature, ValueError, TypeError):
                    continue
                if expired or not _valid_at(anchor, at):
                    return SignatureStatus.EXPIRED, "certificate_expired", [*path, anchor]
                return SignatureStatus.VALID, None, [*path, anchor]
            if current == anchor:
                if expired:
                    return SignatureStatus.EXPIRED, "certificate_expired", path
                return SignatureStatus.VALID, None, path
        parent = None
        for c in certs:
            if c != current and c.subject == current.issuer:
                try:
                    current.verify_directly_issued_by(c)
                except (InvalidSignature, ValueError, TypeError):
                    continue
                parent = c
                break
        if parent is None:
            return SignatureStatus.UNTRUSTED, "no_trust_anchor", path
        expired = expired or not _valid_at(parent, at)
        current = parent
        path.append(parent)
    return SignatureStatus.UNTRUSTED, "chain_too_long", path

"""Revocation of signer certificates from certificate revocation lists (CRL, RFC 5280 §6.3,
the part that matters here): for each certificate of the signer's path below the trust
anchor, a CRL issued by that certificate's issuer, whose signature that issuer's key checks,
current at the time of the check, either lists its serial number (revoked) or not (good).

CRLs come from files the administrator keeps up to date (or from addresses the administrator
configured, fetched by the gateway itself); nothing here touches the network. Without a
current CRL for some issuer the answer is "unknown", which an administrator may choose to
treat as a failure (``required``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import pairwise

from cryptography import x509
from cryptography.hazmat.primitives import serialization


class Revocation(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"      # no current CRL from some issuer of the path


@dataclass(frozen=True, slots=True)
class RevocationPolicy:
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    required: bool = False   # "unknown" then counts as untrusted

    @property
    def active(self) -> bool:
        return bool(self.crls) or self.required


def load_crls(data: bytes) -> list[x509.CertificateRevocationList]:
    """Every CRL of a file, PEM (one or more) or DER. Raises ``ValueError`` if there is none."""
    if b"-----BEGIN X509 CRL-----" in data:
        out = []
        for block in data.split(b"-----END X509 CRL-----")[:-1]:
            start = block.find(b"-----BEGIN X509 CRL-----")
            out.append(x509.load_pem_x509_crl(block[start:] + b"-----END X509 CRL-----\n"))
        return out
    return [x509.load_der_x509_crl(data)]


def _issued_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    if crl.issuer != issuer.subject:
        return False
    try:
        return crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _current(crl: x509.CertificateRevocationList, at: datetime) -> bool:
    next_update = crl.next_update_utc
    return crl.last_update_utc <= at and (next_update is None or at <= next_update)


def status(path: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList],
           at: datetime) -> Revocation:
    """``path``: the signer first, then each issuer up to (and including) the trust anchor."""
    unknown = False
    for cert, issuer in pairwise(path):
        found = [c for c in crls if _issued_by(c, issuer) and _current(c, at)]
        if not found:
            unknown = True
            continue
        for crl in found:
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is not None and entry.revocation_date_utc <= at:
                return Revocation.REVOKED
    return Revocation.UNKNOWN if unknown else Revocation.GOOD


def has_current(issuer: x509.Certificate, crls: Sequence[x509.CertificateRevocationList], at: datetime) -> bool:
    """Whether a current CRL signed by ``issuer`` is at hand (for ``chevet mssante check``)."""
    return any(_issued_by(c, issuer) and _current(c, at) for c in crls)


def der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.DER)

"""A throw-away certificate authority standing in for IGC-Santé in tests (nothing committed)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from chevet.core.mssante.smime import SigningIdentity


@dataclass
class Issued:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def identity(self) -> SigningIdentity:
        return SigningIdentity(self.cert, self.key)

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def p12(self, password: bytes, chain: list[x509.Certificate] = ()) -> bytes:  # type: ignore[assignment]
        return pkcs12.serialize_key_and_certificates(b"chevet", self.key, self.cert, list(chain),
                                                     serialization.BestAvailableEncryption(password))


_KEYS: list[rsa.RSAPrivateKey] = []


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class TestCA:
    """Root CA that issues S/MIME and TLS certificates."""

    __test__ = False

    def __init__(self, name: str = "AC TEST IGC-SANTE") -> None:
        self.key = _key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Chevet tests")])
        now = datetime.now(UTC)
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                    critical=True)
                     .sign(self.key, hashes.SHA256()))

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, common_name: str, *, email: str | None = None, dns: list[str] | None = None,
              server: bool = False, client: bool = False, days: int = 365,
              not_before: datetime | None = None, subject_email: str | None = None,
              signing: bool = True, ekus: list[x509.ObjectIdentifier] | None = None) -> Issued:
        """``email`` goes in the subjectAltName, ``subject_email`` in the subject DN (as older
        certificates have it); ``signing=False`` leaves digitalSignature and nonRepudiation out
        of the key usage; ``ekus`` replaces the extended key usages that follow from the rest."""
        key = _key()
        now = not_before or datetime.now(UTC) - timedelta(hours=1)
        sans: list[x509.GeneralName] = []
        if email:
            sans.append(x509.RFC822Name(email))
        for d in dns or []:
            sans.append(x509.DNSName(d))
        if server:
            sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        purposes = []
        if email or subject_email:
            purposes.append(ExtendedKeyUsageOID.EMAIL_PROTECTION)
        if server:
            purposes.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if client:
            purposes.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        if ekus is not None:
            purposes = list(ekus)
        names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        if subject_email:
            names.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, subject_email))
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name(names))
                   .issuer_name(self.cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now).not_valid_after(now + timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(signing, False, True, False, False, False, False, False, False),
                                  critical=True)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        if purposes:
            builder = builder.add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
        return Issued(builder.sign(self.key, hashes.SHA256()), key)


def crl(ca: TestCA, revoked: list[Issued], *, days: int = 7, last_update: datetime | None = None) -> bytes:
    """A CRL of ``ca`` (PEM) listing ``revoked``, as the CA would publish it."""
    now = last_update or datetime.now(UTC) - timedelta(minutes=5)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject)
               .last_update(now).next_update(now + timedelta(days=days)))
    for r in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(r.cert.serial_number)
            .revocation_date(now - timedelta(minutes=1)).build())
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def write_pem(path: Path, *blobs: bytes) -> Path:
    path.write_bytes(b"".join(blobs))
    path.chmod(0o600)
    return path

"""The statement an organisation receives when it leaves an installation: what was destroyed,
when, and how much became unreadable, signed with the installation's audit key.

It is written for the DPO, in French, as plain UTF-8 text. The signature is Ed25519 over the
exact bytes of that text (nothing is added or normalised), so that the DPO can check it with
standard tools, without Chevet::

    openssl pkeyutl -verify -rawin -pubin -inkey cle-audit.pem -in attestation.txt -sigfile attestation.sig

The public key is the installation's audit key, the one that signs the audit trail's
checkpoints (``chevet audit public-key``): an auditor who kept it from before can tell that the
statement was signed by the same installation.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PARIS = ZoneInfo("Europe/Paris")
FORMAT = "chevet-attestation-destruction-1"
_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre")
_PROVIDERS = {"file": "fichier de clés de l'installation", "pkcs11": "jeton PKCS#11 (HSM, carte ou clé USB)"}


@dataclass(frozen=True, slots=True)
class DestroyedKey:
    version: int
    provider: str             # "file" or "pkcs11"
    reference: str            # pkcs11: "<token name>/<object label>"; file: ""
    description: str          # the provider's own words (object, token, serial); empty if destroyed before
    created_at: datetime
    destroyed_at: datetime


@dataclass(frozen=True, slots=True)
class Unreadable:
    """What the destroyed keys leave unreadable, counted just before destruction."""

    conversations: int = 0
    messages: int = 0
    reports: int = 0
    files: int = 0           # blobs of the blob store: attachments, report files
    data_keys: int = 0       # wrapped data keys deleted (conversations, reports, people, mail)
    legacy_data_keys: int = 0  # of which still wrapped by the installation master key


@dataclass(frozen=True, slots=True)
class ShredStatement:
    org_id: uuid.UUID
    slug: str
    name: str
    at: datetime
    keys: Sequence[DestroyedKey]
    unreadable: Unreadable
    exported_at: datetime | None     # the last archive export before, None: shredded without one
    installation: str                # the installation's address (its origin)
    audit_key_id: str
    key_backup_rewritten: bool


def local(at: datetime) -> str:
    """« 4 décembre 2026 à 23:12:59, heure de Paris (UTC+01:00) »: the wall-clock time the DPO
    lives in, with the offset that makes it unambiguous."""
    if at.tzinfo is None:
        raise ValueError("naive datetime refused")
    p = at.astimezone(PARIS)
    offset = p.strftime("%z")
    return (f"{p.day} {_MONTHS[p.month - 1]} {p.year} à {p:%H:%M:%S}, heure de Paris "
            f"(UTC{offset[:3]}:{offset[3:]})")


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def text(s: ShredStatement) -> str:
    """The statement itself: these exact UTF-8 bytes are signed."""
    u = s.unreadable
    lines = [
        "ATTESTATION DE DESTRUCTION DES CLÉS D'UN ÉTABLISSEMENT",
        f"Format : {FORMAT}",
        "",
        f"Établissement : {s.name}",
        f"Identifiant : {s.slug} ({s.org_id})",
        f"Installation Chevet : {s.installation}",
        f"Date de la destruction : {local(s.at)}",
        f"Date de la destruction (UTC) : {_utc(s.at)}",
        ("Export de l'archive de l'établissement : " + (local(s.exported_at) if s.exported_at is not None
                                                       else "AUCUN (destruction demandée sans export)")),
        "",
        f"Clés de l'établissement détruites ({len(s.keys)}) :",
    ]
    for k in sorted(s.keys, key=lambda k: k.version):
        lines.append(f"- version {k.version} : {_PROVIDERS.get(k.provider, k.provider)}"
                     + (f", référence {k.reference}" if k.reference else ""))
        lines.append(f"  créée le {local(k.created_at)}, détruite le {local(k.destroyed_at)}")
        if k.description:
            lines.append(f"  détail : {k.description}")
    if not s.keys:
        lines.append("- aucune (l'établissement n'avait pas encore de clé propre)")
    lines += [
        "",
        "Rendus illisibles :",
        f"- conversations : {u.conversations}",
        f"- messages : {u.messages}",
        f"- signalements : {u.reports}",
        f"- fichiers chiffrés du stockage (pièces jointes, fichiers de signalements) : {u.files}",
        f"- clés de données supprimées : {u.data_keys}",
        "",
        "Portée :",
        "- Le contenu de l'établissement (messages, pièces jointes, signalements) était chiffré par des clés de",
        "  données, elles-mêmes chiffrées par les clés ci-dessus. Ces clés et les clés de données sont détruites :",
        "  la base de données, le stockage des fichiers et les sauvegardes de la base ne peuvent plus être lus.",
    ]
    if any(k.provider == "file" for k in s.keys) or u.legacy_data_keys:
        lines += [
            "- Une clé tenue par le fichier de clés de l'installation était aussi recopiée dans la sauvegarde des",
            "  clés. " + ("La sauvegarde des clés configurée a été réécrite sans elle. " if s.key_backup_rewritten
                          else "Aucune sauvegarde des clés n'est configurée : réécrivez la vôtre (chevet backup "
                               "--keys-only). ")
            + "Toute copie plus ancienne de la",
            f"  sauvegarde des clés (écrite avant le {_utc(s.at)}) doit être détruite.",
        ]
    if u.legacy_data_keys:
        lines.append(f"- Dont {u.legacy_data_keys} clé(s) de données encore chiffrée(s) par la clé maîtresse de "
                     "l'installation (jamais renouvelées) : supprimées, même remarque.")
    if any(k.provider == "pkcs11" for k in s.keys):
        lines.append("- Une clé tenue par un jeton PKCS#11 n'a jamais quitté le jeton ; sa destruction sur le jeton "
                     "suffit, sauf copie de sauvegarde propre au HSM, hors de Chevet.")
    lines += [
        "",
        f"Signé avec la clé d'audit de l'installation (Ed25519, identifiant {s.audit_key_id}).",
        "Vérification : openssl pkeyutl -verify -rawin -pubin -inkey cle-audit.pem -in attestation.txt "
        "-sigfile attestation.sig",
    ]
    return "\n".join(lines) + "\n"


def public_key_pem(public_raw: bytes) -> str:
    """The audit key's public half as openssl reads it (SubjectPublicKeyInfo, PEM)."""
    return Ed25519PublicKey.from_public_bytes(public_raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def signed_document(statement: str, signature: bytes, public_raw: bytes) -> str:
    """What is printed: the statement, then its signature and the public key, each in a block
    the DPO can cut out (the statement's bytes end at its last line feed)."""
    return (statement + "\n-----BEGIN CHEVET SIGNATURE ED25519-----\n" + base64.b64encode(signature).decode()
            + "\n-----END CHEVET SIGNATURE ED25519-----\n\n" + public_key_pem(public_raw))


def signature_valid(statement: str, signature: bytes, public_raw: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, statement.encode("utf-8"))
        return True
    except (InvalidSignature, ValueError):
        return False

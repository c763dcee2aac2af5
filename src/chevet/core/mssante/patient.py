"""A patient's identity as MSSanté documents and headers carry it: the INS (identifiant national
de santé: matricule and the OID of its kind) and the identity traits it is bound to, with the
status the national identity-vigilance rules (RNIV) give the identity.

Only a *qualified* identity (status ``QUAL``: the identity validated from an identity document
and the INS retrieved or verified through the INSi teleservice) may be sent as an INS: the
``X-MSS-INS`` header is then ``O``, the CDA header and the XDM metadata carry the matricule
under its OID. Below ``QUAL`` the traits may travel, never the INS.

Sans-I/O values only; where they are kept (sealed, in the exchange only) is the application's
business.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from chevet.core.errors import InvalidInput

INS_NIR = "1.2.250.1.213.1.4.8"
INS_NIA = "1.2.250.1.213.1.4.9"
INS_NIR_TEST = "1.2.250.1.213.1.4.10"
INS_NIA_TEST = "1.2.250.1.213.1.4.11"
INS_OIDS = (INS_NIR, INS_NIA, INS_NIR_TEST, INS_NIA_TEST)


class IdentityStatus(StrEnum):
    """RNIV statuses of an identity."""

    PROVISIONAL = "PROV"   # identité provisoire: neither validated nor INS retrieved
    RETRIEVED = "RECUP"    # identité récupérée: INS retrieved, identity not validated
    VALIDATED = "VALI"     # identité validée: checked on an identity document, INS not retrieved
    QUALIFIED = "QUAL"     # identité qualifiée: validated and INS retrieved or verified


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"
    UNKNOWN = "U"


@dataclass(frozen=True, slots=True)
class PatientIdentity:
    """The strict traits (birth name, first given name, birth date, sex, birth place code) and,
    when known, the INS."""

    birth_name: str                 # nom de naissance
    first_given_name: str           # premier prénom de naissance
    birth_date: date
    sex: Sex
    status: IdentityStatus
    given_names: str = ""           # liste des prénoms de naissance
    used_name: str = ""             # nom utilisé
    used_given_name: str = ""       # prénom utilisé
    birth_place: str = ""           # code officiel géographique (INSEE) of the birth place
    ins: str | None = None          # matricule INS: 15 characters (NIR or NIA and its key)
    ins_oid: str | None = None      # one of INS_OIDS
    doubtful: bool = False          # RNIV attribute « identité douteuse »: never validated nor qualified
    fictitious: bool = False        # RNIV attribute « identité fictive » (an alias kept on purpose): likewise

    @property
    def qualified(self) -> bool:
        """The INS may travel (documents, metadata, X-MSS-INS: O) only then."""
        return (self.status == IdentityStatus.QUALIFIED and bool(self.ins) and self.ins_oid in INS_OIDS
                and not self.doubtful and not self.fictitious)


# --- validation of what a professional enters -----------------------------------------------

# Matricule INS (NIR or NIA): sex/kind (1 digit), year (2), month (2), department (2, or 2A/2B
# for Corsica), commune (3), order (3), then the two-digit key: 97 - (the 13 first, Corsica's
# 2A/2B read as 19/18) mod 97. The NIA has the NIR's shape (INSEE, "numéro d'identification
# d'attente"). Kinds 1/2 are NIR, 3/4 and 7/8 temporary or foreign-born registrations.
_MATRICULE = re.compile(r"^[1-8][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{8}$")
# Code officiel géographique: a French commune (department 01–95, 2A/2B, 97x overseas) or 99xxx abroad.
_BIRTH_PLACE = re.compile(r"^(?:[0-9]{2}|2A|2B)[0-9]{3}$")
# Strict traits are entered as the national identity-vigilance rules write them: capital letters
# without diacritics, with spaces, hyphens and apostrophes between names.
_NAME = re.compile(r"^[A-Z]+(?:(?:[ '-]|--)[A-Z]+)*$")
MAX_NAME = 100
OLDEST_BIRTH = date(1880, 1, 1)


def matricule_key(first13: str) -> int:
    """The control key of a NIR/NIA's 13 first characters."""
    digits = first13[:5] + first13[5:7].replace("2A", "19").replace("2B", "18") + first13[7:]
    return 97 - int(digits) % 97


def clean_matricule(value: str) -> str:
    """A 15-character matricule INS whose key is right (spaces and dots ignored), or
    ``InvalidInput('mss_patient_ins_invalid')``: a mistyped digit never reaches a document."""
    compact = re.sub(r"[\s.]", "", value or "").upper()
    if not _MATRICULE.match(compact) or matricule_key(compact[:13]) != int(compact[13:]):
        raise InvalidInput("mss_patient_ins_invalid")
    return compact


def clean_name(value: str, code: str, *, required: bool = True) -> str:
    """A name as the strict traits hold it: capitals without diacritics (É → E, œ → OE),
    single spaces; digits or other signs refused."""
    text = unicodedata.normalize("NFKD", " ".join((value or "").split()))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("Œ", "OE").replace("œ", "OE").replace("Æ", "AE").replace("æ", "AE")
    text = text.replace("’", "'").upper()
    if not text:
        if required:
            raise InvalidInput(code)
        return ""
    if len(text) > MAX_NAME or not _NAME.match(text):
        raise InvalidInput(code)
    return text


def clean_identity(*, birth_name: str, first_given_name: str, birth_date: date | None, sex: str, status: str,
                   today: date, ins: str = "", ins_oid: str = "", given_names: str = "", used_name: str = "",
                   used_given_name: str = "", birth_place: str = "", doubtful: bool = False,
                   fictitious: bool = False) -> PatientIdentity:
    """The identity a professional entered, checked; each broken rule is one ``InvalidInput``
    whose code says which (``mss_patient_*``). An INS is kept only with a status that has one
    (récupérée, qualifiée); a qualified identity needs the INS, its OID and every strict trait;
    a doubtful or fictitious identity is neither validated nor qualified (RNIV attributes)."""
    try:
        state = IdentityStatus(status)
    except ValueError:
        raise InvalidInput("mss_patient_status_invalid") from None
    try:
        gender = Sex(sex)
    except ValueError:
        raise InvalidInput("mss_patient_sex_invalid") from None
    if birth_date is None or not OLDEST_BIRTH <= birth_date <= today:
        raise InvalidInput("mss_patient_birth_date_invalid")
    if (doubtful or fictitious) and state in (IdentityStatus.VALIDATED, IdentityStatus.QUALIFIED):
        raise InvalidInput("mss_patient_doubtful_not_validated")
    place = (birth_place or "").strip().upper()
    if place and not _BIRTH_PLACE.match(place):
        raise InvalidInput("mss_patient_birth_place_invalid")
    matricule: str | None = None
    oid: str | None = None
    if state in (IdentityStatus.RETRIEVED, IdentityStatus.QUALIFIED):
        if not (ins or "").strip():
            raise InvalidInput("mss_patient_ins_required")
        matricule = clean_matricule(ins)
        oid = (ins_oid or INS_NIR).strip()
        if oid not in INS_OIDS:
            raise InvalidInput("mss_patient_ins_oid_invalid")
    return PatientIdentity(
        birth_name=clean_name(birth_name, "mss_patient_birth_name_invalid"),
        first_given_name=clean_name(first_given_name, "mss_patient_first_given_name_invalid"),
        birth_date=birth_date, sex=gender, status=state,
        given_names=clean_name(given_names, "mss_patient_given_names_invalid", required=False),
        used_name=clean_name(used_name, "mss_patient_used_name_invalid", required=False),
        used_given_name=clean_name(used_given_name, "mss_patient_used_name_invalid", required=False),
        birth_place=place, ins=matricule, ins_oid=oid, doubtful=doubtful, fictitious=fictitious)


def address_matricule(address: str) -> str | None:
    """The matricule a Mon Espace Santé address is made of (``<matricule>@patient.mssante.fr``),
    when its local part has that shape."""
    local = address.partition("@")[0].upper()
    return local if _MATRICULE.match(local) else None


def check_patient_recipient(identity: PatientIdentity | None, address: str) -> None:
    """Writing to a patient's Mon Espace Santé mailbox: only with her qualified identity, and
    only to the address made of that INS."""
    if identity is None:
        raise InvalidInput("mss_patient_identity_required")
    if not identity.qualified:
        raise InvalidInput("mss_patient_not_qualified", rniv=identity.status.value)
    matricule = address_matricule(address)
    if matricule is not None and matricule != identity.ins:
        raise InvalidInput("mss_patient_address_mismatch")


# --- the sealed form (kept in the exchange only) -----------------------------------------------

def identity_record(identity: PatientIdentity) -> dict[str, str]:
    """The identity as a plain mapping, to be sealed with the exchange's data key."""
    return {"birth_name": identity.birth_name, "first_given_name": identity.first_given_name,
            "birth_date": identity.birth_date.isoformat(), "sex": identity.sex.value,
            "status": identity.status.value, "given_names": identity.given_names,
            "used_name": identity.used_name, "used_given_name": identity.used_given_name,
            "birth_place": identity.birth_place, "ins": identity.ins or "", "ins_oid": identity.ins_oid or "",
            "doubtful": "1" if identity.doubtful else "", "fictitious": "1" if identity.fictitious else ""}


def identity_from_record(record: Mapping[str, Any]) -> PatientIdentity | None:
    """The identity a sealed record holds, or None when it is not one (never raises)."""
    try:
        return PatientIdentity(
            birth_name=str(record["birth_name"]), first_given_name=str(record["first_given_name"]),
            birth_date=date.fromisoformat(str(record["birth_date"])), sex=Sex(str(record["sex"])),
            status=IdentityStatus(str(record["status"])), given_names=str(record.get("given_names", "")),
            used_name=str(record.get("used_name", "")), used_given_name=str(record.get("used_given_name", "")),
            birth_place=str(record.get("birth_place", "")), ins=str(record.get("ins") or "") or None,
            ins_oid=str(record.get("ins_oid") or "") or None, doubtful=record.get("doubtful") == "1",
            fictitious=record.get("fictitious") == "1")
    except (KeyError, ValueError, TypeError, AttributeError):
        return None

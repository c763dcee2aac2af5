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

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

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

    @property
    def qualified(self) -> bool:
        """The INS may travel (documents, metadata, X-MSS-INS: O) only then."""
        return self.status == IdentityStatus.QUALIFIED and bool(self.ins) and self.ins_oid in INS_OIDS

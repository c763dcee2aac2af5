"""A patient's identity as a professional enters it and as MSSanté carries it to Mon espace santé.

References:
- INSEE, numéro d'inscription au répertoire (NIR): 13 characters then a two-digit key,
  ``97 - (NIR mod 97)``, Corsica's departments 2A and 2B counted as 19 and 18; the matricule
  INS is that 15-character number (NIR, or NIA of the same shape), under the OID of its kind
  (ANS, Guide d'implémentation de l'INS: 1.2.250.1.213.1.4.8 NIR, .9 NIA, .10/.11 test).
- Référentiel national d'identitovigilance (RNIV), volet 1: the four statuses (provisoire,
  récupérée, validée, qualifiée) and the strict traits (nom de naissance, premier prénom de
  naissance, date de naissance, sexe, lieu de naissance), written in capitals without
  diacritics; only a qualified identity may carry the INS in exchanges.
- MSSanté Référentiel #2 (clients de messageries sécurisées de santé) ECO.2.4.2 ``X-MSS-INS``
  and ECO.2.2.8 ``X-MSS-MES: FIN`` (patient through Mon espace santé, replies not expected).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_bytes
from typing import Any

import pytest

from chevet.core.errors import InvalidInput
from chevet.core.mssante import mime
from chevet.core.mssante.patient import (
    INS_NIA,
    INS_NIR,
    IdentityStatus,
    Sex,
    address_matricule,
    check_patient_recipient,
    clean_identity,
    clean_matricule,
    identity_from_record,
    identity_record,
    matricule_key,
)

TODAY = date(2026, 12, 7)
# The NIR used as the example of the INSEE key computation: 1 84 12 76 451 089, key 46.
EXAMPLE_NIR = "184127645108946"


def _identity(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"birth_name": "DUPONT", "first_given_name": "MARIE", "birth_date": date(1984, 12, 3),
                                 "sex": "M", "status": "QUAL", "today": TODAY, "ins": EXAMPLE_NIR,
                                 "ins_oid": INS_NIR}
    fields.update(changes)
    return fields


def test_the_insee_key_of_the_example_nir() -> None:
    """INSEE: key = 97 - (13 first digits mod 97)."""
    assert matricule_key("1841276451089") == 46
    assert clean_matricule("1 84 12 76 451 089 46") == EXAMPLE_NIR


def test_corsican_departments_count_as_19_and_18() -> None:
    """INSEE: 2A is read 19 and 2B 18 for the key."""
    first13 = "18405" + "2A" + "004123"
    key = 97 - int(first13.replace("2A", "19")) % 97
    assert clean_matricule(f"{first13}{key:02d}") == f"{first13}{key:02d}"
    first13b = first13.replace("2A", "2B")
    key_b = 97 - int(first13b.replace("2B", "18")) % 97
    assert clean_matricule(f"{first13b.lower()}{key_b:02d}") == f"{first13b}{key_b:02d}"


@pytest.mark.parametrize("typed", ["184127645108947",      # wrong key: one mistyped digit never travels
                                   "184127645108",          # too short
                                   "1841276451089460",      # too long
                                   "984127645108946",       # not a kind of NIR/NIA
                                   "18412764510894A", ""])
def test_a_wrong_matricule_is_refused_in_words(typed: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_matricule(typed)
    assert caught.value.code == "mss_patient_ins_invalid"


def test_strict_traits_are_kept_as_the_rniv_writes_them() -> None:
    """RNIV volet 1: capitals, no diacritics, spaces, hyphens and apostrophes kept."""
    p = clean_identity(**_identity(birth_name="  de la  Fontaine-Lévêque ", first_given_name="Hélène",
                                   given_names="Hélène Anne-Sophie", used_name="d’Œillet"))
    assert (p.birth_name, p.first_given_name, p.given_names, p.used_name) == (
        "DE LA FONTAINE-LEVEQUE", "HELENE", "HELENE ANNE-SOPHIE", "D'OEILLET")
    assert p.qualified and p.ins == EXAMPLE_NIR and p.ins_oid == INS_NIR and p.sex is Sex.MALE


@pytest.mark.parametrize(("changes", "code"), [
    ({"birth_name": ""}, "mss_patient_birth_name_invalid"),
    ({"birth_name": "DUPONT2"}, "mss_patient_birth_name_invalid"),
    ({"first_given_name": "<b>"}, "mss_patient_first_given_name_invalid"),
    ({"birth_date": date(2027, 1, 1)}, "mss_patient_birth_date_invalid"),
    ({"birth_date": None}, "mss_patient_birth_date_invalid"),
    ({"sex": "X"}, "mss_patient_sex_invalid"),
    ({"status": "OK"}, "mss_patient_status_invalid"),
    ({"ins": ""}, "mss_patient_ins_required"),
    ({"ins_oid": "1.2.3"}, "mss_patient_ins_oid_invalid"),
    ({"birth_place": "7505"}, "mss_patient_birth_place_invalid"),
])
def test_each_broken_rule_has_its_own_words(changes: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_identity(**_identity(**changes))
    assert caught.value.code == code


def test_below_retrieved_the_ins_is_not_kept() -> None:
    """RNIV: a provisional or validated identity has no INS retrieved; what was typed is dropped."""
    for status in ("PROV", "VALI"):
        p = clean_identity(**_identity(status=status))
        assert p.ins is None and p.ins_oid is None and not p.qualified
    retrieved = clean_identity(**_identity(status="RECUP", ins_oid=INS_NIA))
    assert retrieved.ins == EXAMPLE_NIR and retrieved.status is IdentityStatus.RETRIEVED and not retrieved.qualified


def test_only_a_qualified_identity_writes_to_its_own_mon_espace_sante_address() -> None:
    """Mon espace santé addresses are ``<matricule INS>@patient.mssante.fr``; RNIV: INS used only qualified."""
    address = f"{EXAMPLE_NIR}@patient.mssante.fr"
    assert address_matricule(address) == EXAMPLE_NIR
    check_patient_recipient(clean_identity(**_identity()), address)
    refusals = [(None, address, "mss_patient_identity_required"),
                (clean_identity(**_identity(status="VALI")), address, "mss_patient_not_qualified"),
                (clean_identity(**_identity(status="RECUP")), address, "mss_patient_not_qualified"),
                (clean_identity(**_identity()), "269029934173285@patient.mssante.fr",
                 "mss_patient_address_mismatch")]
    for identity, to, code in refusals:
        with pytest.raises(InvalidInput) as caught:
            check_patient_recipient(identity, to)
        assert caught.value.code == code


def test_the_sealed_record_gives_the_same_identity_back() -> None:
    p = clean_identity(**_identity(given_names="MARIE ANNE", birth_place="76451"))
    assert identity_from_record(identity_record(p)) == p
    assert identity_from_record({"birth_name": "X"}) is None
    assert identity_from_record({**identity_record(p), "status": "??"}) is None


def _headers(**env: Any) -> dict[str, str | None]:
    e = mime.Envelope(sender="secretariat@ehpad.mssante.fr", recipients=(f"{EXAMPLE_NIR}@patient.mssante.fr",),
                      subject="Compte rendu", message_id="m-1@ehpad.mssante.fr",
                      date=datetime(2026, 12, 7, 9, 0, tzinfo=UTC), nil="NIL-1", **env)
    msg = message_from_bytes(mime.header_block(e) + b"\r\nx\r\n")
    return {h: msg[h] for h in ("X-MSS-INS", "X-MSS-MES", "X-MSS-NIL")}


def test_x_mss_headers_as_a_plain_rfc_5322_reader_sees_them() -> None:
    """Réf #2 ECO.2.4.2: X-MSS-INS is O with a qualified INS, N without, absent with no CDA;
    ECO.2.2.8: X-MSS-MES: FIN only when the patient is not expected to reply."""
    assert _headers() == {"X-MSS-INS": None, "X-MSS-MES": None, "X-MSS-NIL": "NIL-1"}
    assert _headers(ins_qualified=True, patient_replies_blocked=True) == {
        "X-MSS-INS": "O", "X-MSS-MES": "FIN", "X-MSS-NIL": "NIL-1"}
    assert _headers(ins_qualified=False)["X-MSS-INS"] == "N"


def test_a_doubtful_or_fictitious_identity_is_never_qualified() -> None:
    """RNIV volet 1, attributes « identité douteuse » and « identité fictive »: such an identity
    cannot be validated nor qualified, so its INS never travels."""
    for attribute in ("doubtful", "fictitious"):
        for status in ("VALI", "QUAL"):
            with pytest.raises(InvalidInput) as caught:
                clean_identity(**_identity(status=status, **{attribute: True}))
            assert caught.value.code == "mss_patient_doubtful_not_validated"
        retrieved = clean_identity(**_identity(status="RECUP", **{attribute: True}))
        assert getattr(retrieved, attribute) and not retrieved.qualified
        assert identity_from_record(identity_record(retrieved)) == retrieved

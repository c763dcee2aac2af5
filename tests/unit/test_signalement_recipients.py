"""Who the report form says will receive a report, per set of designations, and which
designations make sense; the categories in the arrêté's own words."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from chevet.core.entities import Person, PersonStatus
from chevet.core.errors import InvalidInput
from chevet.core.roles import Role
from chevet.core.signalement.recipients import check_designation, receivers_of
from chevet.core.signalement.report import ReportFunction
from chevet.core.signalement.taxonomy import ESSMS_CATEGORIES
from chevet.web.i18n import gettext

ORG = uuid.uuid4()
QL, DIR = ReportFunction.QUALITY_LEAD, ReportFunction.DIRECTOR


def person(role: str, status: PersonStatus = PersonStatus.ACTIVE) -> Person:
    return Person(uuid.uuid4(), ORG, f"{uuid.uuid4().hex[:6]}@x.example", "Quelqu'un", Role(role), status, None,
                  "fr", datetime(2026, 1, 1, tzinfo=UTC))


def sentence(people: list[Person], designations: list[tuple[uuid.UUID, ReportFunction]]) -> str:
    return gettext("sig.recipients.will." + receivers_of(people, designations).key, "fr")


def test_the_sentence_names_the_quality_lead_and_the_direction_when_both_are_held() -> None:
    admin, nurse, director = person("admin"), person("nurse"), person("director")
    assert sentence([admin, nurse, director], [(nurse.id, QL)]) == \
        "Votre signalement sera reçu par la responsable qualité et la direction."
    # Administrators count as the direction by role.
    assert sentence([admin, nurse], [(nurse.id, QL)]) == \
        "Votre signalement sera reçu par la responsable qualité et la direction."
    other = person("nurse")
    assert sentence([admin, nurse, other], [(nurse.id, QL), (other.id, QL)]) == \
        "Votre signalement sera reçu par les responsables qualité et la direction."


def test_the_sentence_never_announces_a_quality_lead_nobody_is() -> None:
    admin, director, manager = person("admin"), person("director"), person("manager")
    assert sentence([admin, director], []) == "Votre signalement sera reçu par la direction."
    assert sentence([admin, manager], [(manager.id, DIR)]) == "Votre signalement sera reçu par la direction."
    said = sentence([admin, manager], [])
    assert "administrateurs" in said and "qualité" not in said and "direction" not in said
    assert "qualité" not in sentence([manager], []) and "personne" in sentence([manager], [])


def test_a_deactivated_or_invited_quality_lead_does_not_count() -> None:
    admin, gone, invited = person("admin"), person("nurse", PersonStatus.DEACTIVATED), person("nurse",
                                                                                              PersonStatus.INVITED)
    said = sentence([admin, gone, invited], [(gone.id, QL), (invited.id, QL)])
    assert "qualité" not in said and "administrateurs" in said


def test_a_quality_lead_without_any_administrator_or_director_is_named_alone() -> None:
    nurse = person("nurse")
    assert sentence([nurse], [(nurse.id, QL)]) == "Votre signalement sera reçu par la responsable qualité."


def test_every_sentence_exists_in_french_and_english() -> None:
    for key in ("ql_direction", "qls_direction", "ql", "qls", "direction", "admins", "nobody"):
        for stage in ("will", "done"):
            for lang in ("fr", "en"):
                mid = f"sig.recipients.{stage}.{key}"
                assert gettext(mid, lang) != mid, (mid, lang)


@pytest.mark.parametrize(("role", "status", "function", "code"), [
    ("external", PersonStatus.ACTIVE, QL, "report_designation_external"),
    ("nurse", PersonStatus.DEACTIVATED, QL, "report_designation_deactivated"),
    ("director", PersonStatus.ACTIVE, DIR, "report_designation_director_by_role"),
    ("admin", PersonStatus.ACTIVE, DIR, "report_designation_director_by_role"),
])
def test_designations_that_make_no_sense_are_refused_in_french(role: str, status: PersonStatus,
                                                                function: ReportFunction, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_designation(person(role, status), function, True)
    assert refused.value.code == code
    assert gettext(code, "fr") != code and gettext(code, "en") != code
    check_designation(person(role, status), function, False)  # removing is always possible


def test_a_nurse_or_a_director_may_be_quality_lead() -> None:
    check_designation(person("nurse"), QL, True)
    check_designation(person("director"), QL, True)
    check_designation(person("manager"), DIR, True)


# Article 1 of the arrêté of 28 December 2016 (JORFTEXT000033749053), as published.
ARRETE = {
    1: "Les sinistres et événements météorologiques exceptionnels",
    2: "Les accidents ou incidents liés à des défaillances d'équipement techniques de la structure et les "
       "événements en santé environnement",
    3: "Les perturbations dans l'organisation du travail et la gestion des ressources humaines",
    4: "Les accidents ou incidents liés à une erreur ou à un défaut de soin ou de surveillance",
    5: "Les situations de perturbation de l'organisation ou du fonctionnement de la structure liées à des "
       "difficultés relationnelles récurrentes avec la famille ou les proches d'une personne prise en charge, "
       "ou du fait d'autres personnes extérieures à la structure",
    6: "Les décès accidentels ou consécutifs à un défaut de surveillance ou de prise en charge d'une personne",
    7: "Les suicides et tentatives de suicide, au sein des structures, de personnes prises en charge ou de "
       "personnels",
    8: "Les situations de maltraitance à l'égard de personnes accueillies ou prises en charge",
    9: "Les disparitions de personnes accueillies en structure d'hébergement ou d'accueil, dès lors que les "
       "services de police ou de gendarmerie sont alertés",
    10: "Les comportements violents de la part d'usagers, à l'égard d'autres usagers ou à l'égard des "
        "professionnels, au sein de la structure, ainsi que les manquements graves au règlement du lieu "
        "d'hébergement ou d'accueil qui compromettent la prise en charge de ces personnes ou celle d'autres usagers",
    11: "Les actes de malveillance au sein de la structure",
}


def test_the_eleven_categories_read_as_the_arrete_writes_them() -> None:
    assert {c.number: c.label for c in ESSMS_CATEGORIES} == ARRETE


def test_no_category_says_its_wording_is_to_be_checked_in_any_language() -> None:
    for c in ESSMS_CATEGORIES:
        for lang in ("fr", "en"):
            text = gettext(f"sig.category.{c.code}", lang)
            assert "vérifier" not in text and "to be checked" not in text

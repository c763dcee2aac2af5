"""What the texts call the events: the 11 categories of serious dysfunctions and events in
ESSMS (arrêté of 28 December 2016), the EIGS criteria (CSP R.1413-67), the scope of an
information-system security incident (CSP L.1111-8-2, décret 2022-715) and personal-data
breaches (GDPR Art. 33).

Labels are French (the interface language of the regulators' forms), in the arrêté's own words.
How each wording was checked is in docs/signalement.md; nothing about it is ever shown on screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chevet.core.errors import InvalidInput


class ReporterMode(StrEnum):
    NAMED = "named"                # identity stored and shown to those who see the report
    CONFIDENTIAL = "confidential"  # identity sealed, shown to the quality lead only
    ANONYMOUS = "anonymous"        # identity never stored


class Severity(StrEnum):
    """A five-level scale as commonly used in French risk management (HAS guides)."""

    MINOR = "minor"
    SIGNIFICANT = "significant"
    MAJOR = "major"
    CRITICAL = "critical"
    CATASTROPHIC = "catastrophic"


SEVERITY_LABELS = {
    Severity.MINOR: "1 — Mineure",
    Severity.SIGNIFICANT: "2 — Significative",
    Severity.MAJOR: "3 — Majeure",
    Severity.CRITICAL: "4 — Critique",
    Severity.CATASTROPHIC: "5 — Catastrophique",
}


@dataclass(frozen=True, slots=True)
class Category:
    number: int
    code: str
    label: str


# Arrêté du 28 décembre 2016 relatif à l'obligation de signalement des structures sociales et
# médico-sociales (JORFTEXT000033749053), article 1er, word for word (initial version, unchanged
# since). docs/signalement.md says which source confirmed each wording.
ESSMS_CATEGORIES: tuple[Category, ...] = (
    Category(1, "sinistre", "Les sinistres et événements météorologiques exceptionnels"),
    Category(2, "technique", "Les accidents ou incidents liés à des défaillances d'équipement techniques "
                             "de la structure et les événements en santé environnement"),
    Category(3, "organisation", "Les perturbations dans l'organisation du travail et la gestion des "
                                "ressources humaines"),
    Category(4, "defaut_soins", "Les accidents ou incidents liés à une erreur ou à un défaut de soin "
                                "ou de surveillance"),
    Category(5, "relations", "Les situations de perturbation de l'organisation ou du fonctionnement de la "
                             "structure liées à des difficultés relationnelles récurrentes avec la "
                             "famille ou les proches d'une personne prise en charge, ou du fait "
                             "d'autres personnes extérieures à la structure"),
    Category(6, "deces", "Les décès accidentels ou consécutifs à un défaut de surveillance ou de prise "
                         "en charge d'une personne"),
    Category(7, "suicide", "Les suicides et tentatives de suicide, au sein des structures, de personnes "
                           "prises en charge ou de personnels"),
    Category(8, "maltraitance", "Les situations de maltraitance à l'égard de personnes accueillies ou "
                                "prises en charge"),
    Category(9, "disparition", "Les disparitions de personnes accueillies en structure d'hébergement ou "
                               "d'accueil, dès lors que les services de police ou de gendarmerie sont alertés"),
    Category(10, "violence", "Les comportements violents de la part d'usagers, à l'égard d'autres usagers "
                             "ou à l'égard des professionnels, au sein de la structure, ainsi que les "
                             "manquements graves au règlement du lieu d'hébergement ou d'accueil qui "
                             "compromettent la prise en charge de ces personnes ou celle d'autres usagers"),
    Category(11, "malveillance", "Les actes de malveillance au sein de la structure"),
)
CATEGORY_BY_CODE = {c.code: c for c in ESSMS_CATEGORIES}


class EigsCriterion(StrEnum):
    """CSP R.1413-67: an unexpected event with at least one of these consequences."""

    DEATH = "death"
    LIFE_THREATENING = "life_threatening"
    PERMANENT_SEQUELA = "permanent_sequela"


EIGS_LABELS = {
    EigsCriterion.DEATH: "Décès inattendu",
    EigsCriterion.LIFE_THREATENING: "Mise en jeu du pronostic vital",
    EigsCriterion.PERMANENT_SEQUELA: "Déficit fonctionnel permanent probable",
}


class SecurityImpact(StrEnum):
    """CSP L.1111-8-2: what makes an information-system incident reportable."""

    CARE_SAFETY = "care_safety"
    DATA = "data"
    OPERATIONS = "operations"
    OTHER_ORGANISATIONS = "other_organisations"


SECURITY_LABELS = {
    SecurityImpact.CARE_SAFETY: "Conséquences potentielles ou avérées sur la sécurité des soins",
    SecurityImpact.DATA: "Atteinte à la confidentialité ou à l'intégrité des données de santé",
    SecurityImpact.OPERATIONS: "Atteinte au fonctionnement normal de la structure",
    SecurityImpact.OTHER_ORGANISATIONS: "Impact potentiel sur d'autres organisations",
}


def parse_mode(value: str) -> ReporterMode:
    try:
        return ReporterMode(value)
    except ValueError as exc:
        raise InvalidInput("report_mode_invalid", allowed=", ".join(m.value for m in ReporterMode)) from exc


def parse_severity(value: str) -> Severity:
    try:
        return Severity(value)
    except ValueError as exc:
        raise InvalidInput("report_severity_invalid", allowed=", ".join(s.value for s in Severity)) from exc


def parse_categories(values: list[str]) -> tuple[str, ...]:
    unknown = [v for v in values if v not in CATEGORY_BY_CODE]
    if unknown:
        raise InvalidInput("report_category_invalid", allowed=", ".join(CATEGORY_BY_CODE))
    return tuple(sorted(set(values), key=lambda c: CATEGORY_BY_CODE[c].number))


def parse_eigs(values: list[str]) -> tuple[EigsCriterion, ...]:
    try:
        return tuple(sorted({EigsCriterion(v) for v in values}))
    except ValueError as exc:
        raise InvalidInput("report_eigs_invalid", allowed=", ".join(e.value for e in EigsCriterion)) from exc


def parse_security(values: list[str]) -> tuple[SecurityImpact, ...]:
    try:
        return tuple(sorted({SecurityImpact(v) for v in values}))
    except ValueError as exc:
        raise InvalidInput("report_security_invalid",
                           allowed=", ".join(s.value for s in SecurityImpact)) from exc

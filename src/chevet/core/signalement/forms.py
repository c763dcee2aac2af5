"""The regulatory forms: which fields each text requires, how Chevet pre-fills them from the
report, and the check a director's validation passes.

The official model forms are annexed to the arrêtés; their exact layout could not be confirmed
from primary sources (reference §5), so the fields below follow what the texts list as required
content. Each field has a stable key (the JSON export uses it) and a French label (the PDF and
the pages use it). A field is ``required`` when the text names it; the director cannot validate
a form while one is empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from chevet.core.errors import InvalidInput
from chevet.core.signalement.deadlines import FormKind, local_time
from chevet.core.signalement.report import MAX_TEXT, Qualification, ReportContent
from chevet.core.signalement.taxonomy import CATEGORY_BY_CODE, EIGS_LABELS, SECURITY_LABELS

SCHEMA = "chevet.signalement.form/1"


class FieldType(StrEnum):
    TEXT = "text"
    LONG = "long"
    DATETIME = "datetime"
    COUNT = "count"
    YESNO = "yesno"


@dataclass(frozen=True, slots=True)
class FormField:
    key: str
    label: str
    type: FieldType = FieldType.TEXT
    required: bool = True


@dataclass(frozen=True, slots=True)
class FormSpec:
    kind: FormKind
    title: str
    recipient: str
    legal_basis: str
    fields: tuple[FormField, ...]


_STRUCTURE = (
    FormField("structure_name", "Structure (raison sociale)"),
    FormField("structure_finess", "N° FINESS de la structure"),
    FormField("structure_address", "Adresse de la structure"),
    FormField("declarant_name", "Déclarant (nom et prénom)"),
    FormField("declarant_function", "Fonction du déclarant"),
    FormField("declarant_contact", "Coordonnées du déclarant (téléphone, courriel)"),
)
F = FieldType

SPECS: dict[FormKind, FormSpec] = {
    FormKind.ESSMS: FormSpec(
        FormKind.ESSMS, "Signalement d'un dysfonctionnement grave ou d'un événement",
        "ARS (directeur général) et président du conseil départemental ou préfet, selon l'autorisation",
        "CASF art. L.331-8-1 et R.331-8 à R.331-10 ; arrêté du 28 décembre 2016",
        (*_STRUCTURE,
         FormField("categories", "Catégorie(s) de l'événement (arrêté du 28 décembre 2016)"),
         FormField("occurred_at", "Date et heure de survenue", F.DATETIME),
         FormField("discovered_at", "Date et heure de constat", F.DATETIME),
         FormField("nature", "Nature et circonstances de l'événement", F.LONG),
         FormField("victims_count", "Nombre de victimes", F.COUNT),
         FormField("exposed_count", "Nombre de personnes exposées", F.COUNT),
         FormField("immediate_measures", "Mesures immédiates (protection, accompagnement, continuité "
                                         "de la prise en charge)", F.LONG),
         FormField("information_persons", "Information de la personne et, avec son accord, de sa famille "
                                          "ou de ses proches", F.LONG),
         FormField("cvs_informed", "Information du conseil de la vie sociale", F.YESNO),
         FormField("remedial_measures", "Mesures envisagées pour remédier, éviter la reproduction et "
                                        "mettre fin au danger", F.LONG),
         FormField("legal_followup", "Suites administratives ou judiciaires (plainte, signalement au "
                                     "procureur…)", F.LONG, required=False),
         FormField("media_coverage", "Retentissement médiatique (réel ou possible)", F.YESNO),
         FormField("media_details", "Précisions sur le retentissement médiatique", F.LONG, required=False))),
    FormKind.EIGS_1: FormSpec(
        FormKind.EIGS_1, "Déclaration d'un événement indésirable grave associé à des soins — volet 1",
        "ARS (directeur général), via le portail de signalement des événements sanitaires indésirables",
        "CSP art. R.1413-67 à R.1413-73 ; arrêté du 19 décembre 2016",
        (*_STRUCTURE,
         FormField("eigs_criteria", "Conséquence(s) : critère(s) de gravité"),
         FormField("occurred_at", "Date et heure de survenue", F.DATETIME),
         FormField("discovered_at", "Date et heure de constat", F.DATETIME),
         FormField("nature", "Description de l'événement et circonstances", F.LONG),
         FormField("immediate_measures", "Premières mesures prises", F.LONG),
         FormField("information_persons", "Information du patient / résident et de ses proches", F.LONG))),
    FormKind.EIGS_2: FormSpec(
        FormKind.EIGS_2, "Déclaration d'un événement indésirable grave associé à des soins — volet 2",
        "ARS (directeur général), dans les trois mois suivant le volet 1",
        "CSP art. R.1413-69",
        (*_STRUCTURE,
         FormField("analysis_method", "Méthode d'analyse (CREX, RMM, ALARM…)"),
         FormField("analysis_date", "Date de l'analyse approfondie", F.DATETIME),
         FormField("root_causes", "Causes profondes identifiées", F.LONG),
         FormField("lessons", "Enseignements tirés", F.LONG),
         FormField("action_plan", "Plan d'actions correctives et échéancier", F.LONG))),
    FormKind.SECURITY: FormSpec(
        FormKind.SECURITY, "Signalement d'un incident de sécurité des systèmes d'information",
        "ARS et Agence du numérique en santé (CERT Santé), via le portail de signalement",
        "CSP art. L.1111-8-2 ; décret n° 2022-715 ; arrêté du 30 octobre 2017",
        (*_STRUCTURE,
         FormField("discovered_at", "Date et heure de découverte", F.DATETIME),
         FormField("perimeter", "Périmètre concerné (systèmes, sites, services)", F.LONG),
         FormField("impacts", "Nature de l'impact (sécurité des soins, données, fonctionnement, "
                              "autres organisations)"),
         FormField("impact_data", "Conséquences sur les données", F.LONG),
         FormField("impact_persons", "Conséquences sur les personnes (sécurité des soins)", F.LONG),
         FormField("impact_systems", "Conséquences sur le système d'information", F.LONG),
         FormField("impact_structure", "Conséquences sur le fonctionnement de la structure", F.LONG),
         FormField("causes", "Causes (avérées ou supposées)", F.LONG),
         FormField("measures", "Mesures prises", F.LONG))),
    FormKind.GDPR: FormSpec(
        FormKind.GDPR, "Notification d'une violation de données à caractère personnel",
        "CNIL (dans les 72 heures après en avoir pris connaissance)",
        "RGPD art. 33 et 34",
        (*_STRUCTURE,
         FormField("dpo_contact", "Délégué à la protection des données (nom et coordonnées)"),
         FormField("awareness_at", "Date et heure de prise de connaissance", F.DATETIME),
         FormField("nature", "Nature de la violation (confidentialité, intégrité, disponibilité) et "
                             "circonstances", F.LONG),
         FormField("persons_categories", "Catégories de personnes concernées"),
         FormField("persons_count", "Nombre approximatif de personnes concernées", F.COUNT),
         FormField("records_categories", "Catégories de données concernées"),
         FormField("records_count", "Nombre approximatif d'enregistrements concernés", F.COUNT),
         FormField("consequences", "Conséquences probables", F.LONG),
         FormField("measures", "Mesures prises ou envisagées pour remédier et atténuer", F.LONG),
         FormField("persons_informed", "Information des personnes concernées (art. 34)", F.YESNO),
         FormField("persons_informed_details", "Modalités ou motif de non-information", F.LONG,
                   required=False))),
}


def spec(kind: FormKind | str) -> FormSpec:
    try:
        return SPECS[FormKind(kind)]
    except ValueError as exc:
        raise InvalidInput("report_form_invalid", allowed=", ".join(k.value for k in FormKind)) from exc


def _when(at: datetime) -> str:
    return local_time(at).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class Prefill:
    """What Chevet knows when it drafts a form."""

    organisation_name: str
    content: ReportContent
    qualification: Qualification
    director_name: str = ""
    analysis: Mapping[str, str] | None = None
    action_plan: str = ""


def prefill(kind: FormKind, p: Prefill) -> dict[str, Any]:
    c, q = p.content, p.qualification
    values: dict[str, Any] = {"structure_name": p.organisation_name, "declarant_name": p.director_name}
    common = {"occurred_at": _when(c.occurred_at), "discovered_at": _when(c.discovered_at),
              "nature": c.what, "immediate_measures": c.immediate_measures}
    if kind is FormKind.ESSMS:
        values |= common | {
            "categories": "; ".join(f"{CATEGORY_BY_CODE[k].number}° {CATEGORY_BY_CODE[k].label}"
                                    for k in q.categories),
            "victims_count": c.affected_count, "exposed_count": c.affected_count}
    elif kind is FormKind.EIGS_1:
        values |= common | {"eigs_criteria": "; ".join(EIGS_LABELS[e] for e in q.eigs)}
    elif kind is FormKind.EIGS_2:
        a = p.analysis or {}
        values |= {"analysis_method": a.get("method", ""), "analysis_date": a.get("date", ""),
                   "root_causes": a.get("root_causes", ""), "lessons": a.get("lessons", ""),
                   "action_plan": p.action_plan}
    elif kind is FormKind.SECURITY:
        values |= {"discovered_at": _when(c.discovered_at),
                   "impacts": "; ".join(SECURITY_LABELS[s] for s in q.security),
                   "measures": c.immediate_measures}
    elif kind is FormKind.GDPR:
        values |= {"awareness_at": _when(q.awareness_at) if q.awareness_at else "", "nature": c.what,
                   "persons_count": c.affected_count, "measures": c.immediate_measures}
    known = {f.key for f in SPECS[kind].fields}
    return {k: v for k, v in values.items() if k in known and v not in (None, "")}


def clean_values(kind: FormKind, values: Mapping[str, Any]) -> dict[str, Any]:
    """Keep a draft's values: unknown keys and wrong types are refused, empties are dropped."""
    fields = {f.key: f for f in SPECS[kind].fields}
    out: dict[str, Any] = {}
    for key, value in values.items():
        f = fields.get(key)
        if f is None:
            raise InvalidInput("report_form_field_unknown", field=key)
        if value is None or value == "":
            continue
        if f.type is FieldType.COUNT:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInput("report_field_invalid", field=key)
        elif f.type is FieldType.YESNO:
            if not isinstance(value, bool):
                raise InvalidInput("report_field_invalid", field=key)
        else:
            if not isinstance(value, str):
                raise InvalidInput("report_field_invalid", field=key)
            value = value.strip()
            if len(value) > MAX_TEXT:
                raise InvalidInput("report_field_too_long", field=key, max=MAX_TEXT)
            if not value:
                continue
        out[key] = value
    return out


def missing(kind: FormKind, values: Mapping[str, Any]) -> list[str]:
    return [f.key for f in SPECS[kind].fields if f.required and values.get(f.key) in (None, "")]


def check_complete(kind: FormKind, values: Mapping[str, Any]) -> None:
    absent = missing(kind, values)
    if absent:
        raise InvalidInput("report_form_incomplete", fields=", ".join(absent), missing=absent)


def display(f: FormField, value: Any) -> str:
    if value is None or value == "":
        return ""
    if f.type is FieldType.YESNO:
        return "Oui" if value else "Non"
    return str(value)


def export(kind: FormKind, values: Mapping[str, Any], *, report_id: str, organisation: str,
           severity: str, severity_label: str, validated_by: str, validated_at: datetime,
           generated_at: datetime) -> dict[str, Any]:
    """The structured export: stable keys, their labels, and what identifies the declaration."""
    s = SPECS[kind]
    return {
        "schema": SCHEMA, "form": kind.value, "title": s.title, "recipient": s.recipient,
        "legal_basis": s.legal_basis, "report_id": report_id, "organisation": organisation,
        "severity": severity, "severity_label": severity_label,
        "validated_by": validated_by, "validated_at": validated_at.isoformat(),
        "generated_at": generated_at.isoformat(), "timezone": "Europe/Paris",
        "fields": [{"key": f.key, "label": f.label, "type": f.type.value, "required": f.required,
                    "value": values.get(f.key)} for f in s.fields],
    }

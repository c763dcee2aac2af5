"""Forms (required fields, pre-filling, types), the PDF (text extractable, accents intact), the
JSON export, the accessible SVG charts and the CSV of the annual statistics."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from chevet.adapters.declaration_pdf import DeclarationPdf
from chevet.core.errors import InvalidInput
from chevet.core.signalement import forms, statistics
from chevet.core.signalement.deadlines import FormKind
from chevet.core.signalement.report import clean_qualification, clean_report
from chevet.core.signalement.taxonomy import ESSMS_CATEGORIES, Severity
from chevet.web import charts

NOW = datetime(2026, 11, 28, 3, 40, tzinfo=UTC)


def _prefill(kind: FormKind) -> dict[str, object]:
    content = clean_report(what="Chute nocturne de Mme R. près du lit ; hématome", occurred_at=NOW - timedelta(hours=1),
                           discovered_at=None, place="Chambre 12", affected_refs=["CH12-R"], now=NOW,
                           immediate_measures="Surveillance, appel du médecin d'astreinte")
    q = clean_qualification(severity="major", categories=["defaut_soins"], eigs=["life_threatening"],
                            security=["data"], gdpr_breach=True, awareness_at=None, note=None, received_at=NOW, now=NOW)
    return forms.prefill(kind, forms.Prefill("EHPAD Les Tilleuls", content, q, director_name="Danielle Dupré"))


def test_eleven_categories_none_flagged_on_screen() -> None:
    assert [c.number for c in ESSMS_CATEGORIES] == list(range(1, 12))
    assert not [c.number for c in ESSMS_CATEGORIES if "vérifier" in c.label]


@pytest.mark.parametrize("kind", list(FormKind))
def test_every_form_lists_what_its_text_requires_and_refuses_validation_while_missing(kind: FormKind) -> None:
    spec = forms.SPECS[kind]
    required = [f.key for f in spec.fields if f.required]
    assert {"structure_name", "declarant_name", "declarant_contact"} <= set(required)
    with pytest.raises(InvalidInput) as err:
        forms.check_complete(kind, {})
    assert err.value.params["missing"] == required
    values = _prefill(kind)
    assert values["structure_name"] == "EHPAD Les Tilleuls"
    assert set(forms.missing(kind, values)) < set(required)


def test_the_texts_required_fields_are_there() -> None:
    keys = {k: {f.key for f in s.fields if f.required} for k, s in forms.SPECS.items()}
    assert {"occurred_at", "discovered_at", "victims_count", "immediate_measures", "information_persons",
            "remedial_measures", "media_coverage", "categories"} <= keys[FormKind.ESSMS]
    assert {"discovered_at", "perimeter", "impact_data", "impact_persons", "impact_systems", "causes"} \
        <= keys[FormKind.SECURITY]
    assert {"dpo_contact", "persons_count", "records_count", "consequences", "measures", "awareness_at"} \
        <= keys[FormKind.GDPR]
    assert {"root_causes", "lessons", "action_plan"} <= keys[FormKind.EIGS_2]


def test_prefill_uses_paris_time_and_the_qualification() -> None:
    essms = _prefill(FormKind.ESSMS)
    assert essms["occurred_at"] == "2026-11-28 03:40"  # 02:40 UTC is 03:40 in Paris in winter
    assert str(essms["categories"]).startswith("4° ")
    assert _prefill(FormKind.EIGS_1)["eigs_criteria"] == "Mise en jeu du pronostic vital"
    assert "confidentialité" in str(_prefill(FormKind.SECURITY)["impacts"])


def test_form_values_are_typed() -> None:
    with pytest.raises(InvalidInput):
        forms.clean_values(FormKind.GDPR, {"persons_count": "beaucoup"})
    with pytest.raises(InvalidInput):
        forms.clean_values(FormKind.GDPR, {"persons_informed": "oui"})
    with pytest.raises(InvalidInput):
        forms.clean_values(FormKind.GDPR, {"not_a_field": "x"})
    assert forms.clean_values(FormKind.GDPR, {"persons_count": 0, "nature": "  ", "persons_informed": False}) == \
        {"persons_count": 0, "persons_informed": False}


def _complete(kind: FormKind) -> dict[str, object]:
    values = _prefill(kind)
    for f in forms.SPECS[kind].fields:
        values.setdefault(f.key, {"count": 3, "yesno": True}.get(f.type.value, f"Valeur « {f.key} » — é à ç œ"))
    return values


def test_pdf_text_is_extractable_with_accents() -> None:
    values = _complete(FormKind.ESSMS)
    body = DeclarationPdf().render(FormKind.ESSMS, values, organisation="EHPAD Les Tilleuls", report_ref="0A1B2C3D",
                                   severity_label="3 — Majeure", validated_by="Danielle Dupré", validated_at=NOW,
                                   generated_at=NOW)
    reader = PdfReader(io.BytesIO(body))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
    assert "Signalement d'un dysfonctionnement grave" in text
    assert "Nature et circonstances de l'événement" in text
    assert "Chute nocturne de Mme R. près du lit" in text
    assert "Danielle Dupré" in text and "œ" in text
    assert "Réf. interne 0A1B2C3D" in text
    assert reader.metadata is not None and reader.metadata.title.startswith("Signalement")
    assert len(body) < 200_000  # the font is subset, not embedded whole


def test_json_export_names_every_field_with_its_label() -> None:
    values = _complete(FormKind.GDPR)
    doc = forms.export(FormKind.GDPR, values, report_id="r1", organisation="EHPAD", severity="major",
                       severity_label="3 — Majeure", validated_by="D", validated_at=NOW, generated_at=NOW)
    assert doc["schema"] == "chevet.signalement.form/1" and doc["timezone"] == "Europe/Paris"
    keys = [f["key"] for f in doc["fields"]]
    assert keys == [f.key for f in forms.SPECS[FormKind.GDPR].fields]
    assert next(f for f in doc["fields"] if f["key"] == "persons_informed")["value"] is True


def test_charts_are_accessible_svg() -> None:
    svg = charts.bar_chart("Événements par gravité", ["Majeure", "Mineure <b>"], [3, 1], chart_id="sev")
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img" and root.get("aria-labelledby") == "sev-t sev-d"
    assert root.find(f"{ns}title").text == "Événements par gravité"  # type: ignore[union-attr]
    assert root.find(f"{ns}desc").text == "Majeure : 3; Mineure <b> : 1"  # type: ignore[union-attr]
    assert "<script" not in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    stacked = charts.stacked_months("Par mois", ["2026-01", "2026-02"], [("Majeure", [1, 0]), ("Mineure", [0, 2])],
                                    chart_id="m")
    assert "Majeure : 2026-01 1" in ET.fromstring(stacked).find(f"{ns}desc").text  # type: ignore[union-attr,operator]


def test_statistics_and_csv() -> None:
    facts = [statistics.ReportFacts(NOW - timedelta(days=d), Severity.MAJOR if d % 2 else None,
                                    ("defaut_soins",) if d % 2 else (), "=HYPERLINK(1)" if d == 1 else "Tilleuls",
                                    eigs=d == 1, security=False, gdpr=False, deadlines_met=1, actions_done=1,
                                    actions_total=2) for d in (1, 2, 3)]
    paris = ZoneInfo("Europe/Paris")
    st = statistics.compute(facts, datetime(2026, 1, 1, tzinfo=paris), datetime(2027, 1, 1, tzinfo=paris))
    assert st.total == 3 and st.by_severity["3 — Majeure"] == 2 and st.by_severity["non qualifié"] == 1
    assert st.months[0] == "2026-01" and st.months[-1] == "2026-12" and len(st.months) == 12
    assert st.by_month_severity["3 — Majeure"][10] == 2
    text = statistics.to_csv(st)
    assert "unité;'=HYPERLINK(1);1" in text and "suivi;actions prévues;6" in text

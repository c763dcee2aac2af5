"""The printable declaration: a validated form rendered as a PDF ready to send (the
``DeclarationPrinter`` port).

Built in memory with fpdf2 (pure Python) and a bundled Latin subset of DejaVu Sans, so that
French accents and typographic apostrophes render and the text stays extractable (the PDF
carries a ToUnicode map); nothing is fetched at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from chevet.core.signalement.deadlines import FormKind, local_time
from chevet.core.signalement.forms import SPECS, display

_FONT = "DejaVu"


def _font_path(name: str) -> str:
    return str(resources.files("chevet").joinpath("fonts", name))


if TYPE_CHECKING:
    from fpdf import FPDF


def _declaration(footer_text: str) -> FPDF:
    """An A4 document with the page footer. fpdf2 is imported here, on the first export, not at
    start-up: with fontTools it weighs about 20 MiB in every server process."""
    from fpdf import FPDF

    class Declaration(FPDF):
        def footer(self) -> None:
            self.set_y(-14)
            self.set_font(_FONT, size=7)
            self.set_text_color(90, 90, 90)
            self.cell(0, 5, f"{footer_text} — page {self.page_no()}/{{nb}}", align="C")

    return Declaration(format="A4")


class DeclarationPdf:
    """Lays out the fields of a declaration form (``core.signalement.forms.SPECS``) on A4 pages."""

    def render(self, kind: FormKind, values: Mapping[str, Any], *, organisation: str, report_ref: str,
               severity_label: str, validated_by: str, validated_at: datetime, generated_at: datetime) -> bytes:
        s = SPECS[kind]
        pdf = _declaration(f"Réf. interne {report_ref} — préparé le "
                           f"{local_time(generated_at):%d/%m/%Y à %H:%M} (heure de Paris)")
        pdf.set_title(s.title)
        pdf.set_author(organisation)
        pdf.set_creator("Chevet")
        pdf.set_lang("fr-FR")
        pdf.set_creation_date(generated_at)
        pdf.add_font(_FONT, "", _font_path("DejaVuSans.ttf"))
        pdf.add_font(_FONT, "B", _font_path("DejaVuSans-Bold.ttf"))
        pdf.alias_nb_pages()
        pdf.set_auto_page_break(auto=True, margin=18)
        pdf.add_page()
        width = pdf.w - pdf.l_margin - pdf.r_margin

        pdf.set_font(_FONT, "B", 14)
        pdf.multi_cell(width, 7, s.title, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        pdf.set_font(_FONT, "", 9)
        for label, text in (("Destinataire", s.recipient), ("Textes", s.legal_basis),
                            ("Gravité (évaluation interne)", severity_label),
                            ("Validé par", f"{validated_by}, le {local_time(validated_at):%d/%m/%Y à %H:%M}")):
            pdf.set_font(_FONT, "B", 9)
            pdf.cell(48, 5, f"{label} :")
            pdf.set_font(_FONT, "", 9)
            pdf.multi_cell(width - 48, 5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        for f in s.fields:
            pdf.set_font(_FONT, "B", 10)
            pdf.set_fill_color(235, 239, 244)
            pdf.multi_cell(width, 6, f.label + ("" if f.required else " (facultatif)"), fill=True,
                           new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(_FONT, "", 10)
            pdf.multi_cell(width, 5.5, display(f, values.get(f.key)) or "—", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        pdf.ln(4)
        pdf.set_font(_FONT, "", 8)
        pdf.multi_cell(width, 4.5, "Document préparé par l'établissement. Aucune transmission automatique : "
                                   "une personne habilitée l'adresse au destinataire et consigne la date, le "
                                   "canal et le numéro de référence reçu.", new_x="LMARGIN", new_y="NEXT")
        return bytes(pdf.output())

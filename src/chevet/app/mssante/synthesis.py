"""« Synthèse de suivi »: from a care case, the nurse picks recent messages and handover notes,
names the patient and a correspondent (the GP, the hospital) found in the health directory,
and sends one document: a readable PDF wrapped in an HL7 CDA R2 level 1 with the CI-SIS
header, travelling in an IHE_XDM.zip with the PDF beside it, through the ordinary external
exchange (opened, the two files uploaded to it as a member would, then sent).

The patient's identity is typed for this document and goes only into it and its exchange:
never into the care case. Reading the care case to choose is audited like any read of it;
nothing of the content, the patient or the correspondent goes into the audit.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

from chevet.app.access import conversation_access
from chevet.app.attachments import upload as attachments
from chevet.app.care.handovers import content_of
from chevet.app.messaging.views import message_view, ref_of, title_of
from chevet.app.mssante import exchanges
from chevet.app.mssante.gateway import Gateway
from chevet.app.services import Actor, Services
from chevet.core.care.handover import HandoverContent
from chevet.core.conversation import ConversationKind
from chevet.core.errors import InvalidInput
from chevet.core.ids import message_id as stable_entry_id
from chevet.core.message import EntryKind, clean_client_id
from chevet.core.mssante import cda
from chevet.core.mssante.address import is_patient_address
from chevet.core.mssante.patient import PatientIdentity, check_patient_recipient
from chevet.core.roles import Role

PARIS = ZoneInfo("Europe/Paris")
MAX_ITEMS = 40            # what a nurse may pick for one synthesis
RECENT = 30               # how many of the latest messages and notes she chooses from
MAX_NOTE = 2000
RESEND_WINDOW = timedelta(hours=12)   # how long the same form sent again finds its first sending
TITLE = "Synthèse de suivi"
_FONT = "DejaVu"
# TRE_G15-ProfessionSante codes of the roles that have one (others: no profession code).
_PROFESSIONS = {Role.NURSE: ("60", "Infirmier"), Role.PHYSICIAN: ("10", "Médecin")}


@dataclass(frozen=True, slots=True)
class SynthesisItem:
    """One message or handover note of the care case, as offered to pick."""

    key: str                 # "m-<id>" for a message, "h-<id>" for a handover note
    kind: str                # "message" or "handover"
    at: datetime
    author: str
    text: str


@dataclass(frozen=True, slots=True)
class SynthesisChoices:
    conversation_id: uuid.UUID
    care_case: str           # the care case's title, else its pseudonymous reference
    items: list[SynthesisItem]


@dataclass(frozen=True, slots=True)
class SynthesisDocument:
    """The two files that travel: the CDA (which wraps the PDF) and the PDF itself."""

    cda: bytes
    pdf: bytes
    title: str
    period: tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class SynthesisSent:
    exchange_id: uuid.UUID
    seq: int


def _handover_text(c: HandoverContent) -> str:
    parts = [("Cible", c.target), ("Données", c.data), ("Actions", c.actions), ("Résultats", c.results)]
    return "\n".join(f"{label} : {value}" for label, value in parts if value.strip())


async def choices(services: Services, actor: Actor, conversation_id: uuid.UUID) -> SynthesisChoices:
    """The latest messages and handover notes of the care case, newest first, to pick from."""
    async with services.unit(actor.ip) as u:
        a = await conversation_access(services, u.tx, actor, conversation_id)
        if a.conversation.kind is not ConversationKind.CARE_CASE:
            raise InvalidInput("synthesis_only_care_case")
        floor = a.membership.visible_from_seq
        entries = [e for e in await u.tx.entries.before(conversation_id, a.conversation.last_seq + 1, floor,
                                                          RECENT * 2) if e.kind is EntryKind.MESSAGE][-RECENT:]
        notes = await u.tx.handovers.of_conversation(actor.org_id, conversation_id, RECENT)
        ids = list(dict.fromkeys([*(e.author_id for e in entries if e.author_id), *(h.author_id for h in notes)]))
        names = {p.id: p.name for p in await u.tx.people.many(actor.org_id, ids)} if ids else {}
        items: list[SynthesisItem] = []
        for e in entries:
            view = message_view(e, a.key, names)   # edits applied, deleted ones without a body
            if view["body"] and view["body"].strip():
                items.append(SynthesisItem(f"m-{e.id}", "message", e.created_at, view["author_name"] or "",
                                           view["body"]))
        for h in notes:
            c = content_of(h, a.key)
            items.append(SynthesisItem(f"h-{h.id}", "handover", h.created_at, names.get(h.author_id, ""),
                                       _handover_text(c)))
        items.sort(key=lambda i: i.at, reverse=True)
        await u.audit(actor.org_id, "care_case.read", actor.id, "conversation", conversation_id,
                      via="synthesis", count=len(items))
        label = title_of(a.conversation, a.key) or ref_of(a.conversation, a.key) or ""
        return SynthesisChoices(conversation_id, label, items)


def _picked(offered: SynthesisChoices, keys: Sequence[str]) -> list[SynthesisItem]:
    wanted = list(dict.fromkeys(k for k in keys if k))
    if not wanted:
        raise InvalidInput("synthesis_nothing_picked")
    if len(wanted) > MAX_ITEMS:
        raise InvalidInput("synthesis_too_many_items", max=MAX_ITEMS)
    by_key = {i.key: i for i in offered.items}
    if any(k not in by_key for k in wanted):
        raise InvalidInput("synthesis_item_unknown")
    return sorted((by_key[k] for k in wanted), key=lambda i: i.at)


def _split_name(name: str) -> tuple[str, str]:
    """(family, given) from a display name "Prénom Nom"; the last word as family name."""
    words = name.split()
    if len(words) < 2:
        return (words[0] if words else "?"), "?"
    return words[-1], " ".join(words[:-1])


def establishment(actor: Actor, *, finess: str | None = None, facility_type: str | None = None,
                  facility_type_label: str | None = None) -> cda.Organisation:
    """The author's organisation as the document names it. Its local identifiers (the patient's
    in particular) live under an OID made from the organisation's own id (ISO/IEC 9834-8), so
    they never collide with another establishment's."""
    return cda.Organisation(actor.organisation.name, finess=finess, local_oid=cda.oid_of(actor.org_id),
                            local_id=actor.organisation.slug, facility_type=facility_type,
                            facility_type_label=facility_type_label)


def _when(at: datetime) -> str:
    return at.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")


def render_pdf(*, title: str, care_case_label: str, patient: PatientIdentity, author: str, organisation: str,
               items: Sequence[SynthesisItem], note: str, generated_at: datetime) -> bytes:
    """The readable document: who it is about, who writes, then each picked entry with its date
    (Paris time) and author. fpdf2 is imported here, on first use (it weighs ~20 MiB)."""
    from fpdf import FPDF

    class Synthesis(FPDF):
        def footer(self) -> None:
            self.set_y(-14)
            self.set_font(_FONT, size=7)
            self.set_text_color(90, 90, 90)
            self.cell(0, 5, f"{organisation} — {title} du {_when(generated_at)} — page {self.page_no()}/{{nb}}",
                      align="C")

    fonts = resources.files("chevet").joinpath("fonts")
    pdf = Synthesis(format="A4")
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_creator("Chevet")
    pdf.set_lang("fr-FR")
    pdf.set_creation_date(generated_at)
    pdf.add_font(_FONT, "", str(fonts.joinpath("DejaVuSans.ttf")))
    pdf.add_font(_FONT, "B", str(fonts.joinpath("DejaVuSans-Bold.ttf")))
    pdf.alias_nb_pages()
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font(_FONT, "B", 15)
    pdf.multi_cell(width, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    sex = {"F": "féminin", "M": "masculin"}.get(patient.sex.value, "non précisé")
    rows = [("Patient", f"{patient.birth_name.upper()} {patient.first_given_name}"
                        + (f" (nom utilisé : {patient.used_name.upper()})" if patient.used_name else "")),
            ("Né(e) le", f"{patient.birth_date:%d/%m/%Y}, sexe {sex}")]
    if patient.qualified and patient.ins:
        rows.append(("INS", f"{patient.ins} (identité qualifiée)"))
    rows += [("Établissement", organisation), ("Rédigé par", f"{author}, le {_when(generated_at)}")]
    if care_case_label:
        rows.append(("Dossier de suivi", care_case_label))
    if items:
        rows.append(("Période", f"du {_when(items[0].at)} au {_when(items[-1].at)}"))
    for label, text in rows:
        pdf.set_font(_FONT, "B", 9)
        pdf.cell(36, 5, f"{label} :")
        pdf.set_font(_FONT, "", 9)
        pdf.multi_cell(width - 36, 5, text, new_x="LMARGIN", new_y="NEXT")
    if note:
        pdf.ln(3)
        pdf.set_font(_FONT, "B", 10)
        pdf.multi_cell(width, 6, "Message de l'équipe", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(_FONT, "", 10)
        pdf.multi_cell(width, 5.5, note, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    for item in items:
        pdf.set_font(_FONT, "B", 9)
        pdf.set_fill_color(235, 239, 244)
        kind = "Transmission ciblée" if item.kind == "handover" else "Message"
        pdf.multi_cell(width, 6, f"{_when(item.at)} — {kind}" + (f" — {item.author}" if item.author else ""),
                       fill=True, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(_FONT, "", 10)
        pdf.multi_cell(width, 5.5, item.text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)
    return bytes(pdf.output())


async def prepare(services: Services, actor: Actor, conversation_id: uuid.UUID, *, picked: Sequence[str],
                  patient: PatientIdentity, note: str = "", finess: str | None = None,
                  facility_type: str | None = None) -> SynthesisDocument:
    """The PDF of the picked entries and the CDA that wraps it."""
    offered = await choices(services, actor, conversation_id)
    items = _picked(offered, picked)
    note = " ".join(note.split(" "))[:MAX_NOTE].strip()
    now = services.clock.now()
    org = establishment(actor, finess=finess, facility_type=facility_type,
                        facility_type_label="EHPAD" if facility_type == "SA17" else None)
    family, given = _split_name(actor.person.name)
    profession = _PROFESSIONS.get(actor.person.role)
    rpps = actor.person.rpps if actor.person.rpps and len(actor.person.rpps) == 11 else None
    author = cda.Author(family, given, org, rpps=rpps, local_id=str(actor.id),
                        profession_code=profession[0] if profession else None,
                        profession_label=profession[1] if profession else None)
    title = f"{TITLE} — {patient.birth_name.upper()} {patient.first_given_name}"
    pdf = await asyncio.to_thread(lambda: render_pdf(
        title=TITLE, care_case_label=offered.care_case, patient=patient, author=actor.person.name,
        organisation=org.name, items=items, note=note, generated_at=now))
    document = cda.CdaDocument(
        document_id=uuid.uuid4(), set_id=uuid.uuid4(), title=title, created_at=now, patient=patient,
        patient_local_id=conversation_id.hex, author=author, custodian=org, pdf=pdf,
        service_start=items[0].at, service_end=items[-1].at)
    return SynthesisDocument(cda.build_cda(document), pdf, title, (items[0].at, items[-1].at))


async def _already_sent(services: Services, actor: Actor, client_id: str) -> SynthesisSent | None:
    """The synthesis this form (its ``client_id``) already sent, if it did: the same form sent
    again (a second tap, a page sent again after a lost answer) opens no second exchange. Each
    exchange's first message has the id ``exchanges.send`` derives from the client id."""
    clean = clean_client_id(client_id)
    since = services.clock.now() - RESEND_WINDOW
    async with services.db.transaction() as tx:
        for summary in await tx.conversations.summaries(actor.org_id, actor.id):
            c = summary.conversation
            if c.kind is not ConversationKind.EXTERNAL or c.created_by != actor.id or c.created_at < since:
                continue
            if (e := await tx.entries.get(c.id, stable_entry_id(c.id, actor.id, clean))) is not None:
                return SynthesisSent(c.id, e.seq)
    return None


async def send(services: Services, gw: Gateway, actor: Actor, conversation_id: uuid.UUID, *, to: str,
               picked: Sequence[str], patient: PatientIdentity, client_id: str, note: str = "") -> SynthesisSent:
    """Open an exchange with the correspondent, put the CDA (it travels in IHE_XDM.zip) and its
    PDF in it, and send them with the team's note. The care case gets no copy of the patient's
    identity; its audit says a synthesis left, not what or to whom."""
    if (done := await _already_sent(services, actor, client_id)) is not None:
        return done
    if is_patient_address(to):   # Mon espace santé: only with her qualified identity, to her INS's address
        check_patient_recipient(patient, to)
    own = gw.of_org(actor.organisation.slug)   # the exchange leaves from the first (open_exchange)
    doc = await prepare(services, actor, conversation_id, picked=picked, patient=patient, note=note,
                        finess=own[0].finess if own else None, facility_type=own[0].facility_type if own else None)
    opened = await exchanges.open_exchange(services, gw, actor, to=[to], title=TITLE)
    exchange_id = uuid.UUID(opened["id"])
    cda_view, _ = await attachments.upload(services, actor, exchange_id, data=doc.cda, name="synthese-de-suivi.xml")
    pdf_view, _ = await attachments.upload(services, actor, exchange_id, data=doc.pdf, name="synthese-de-suivi.pdf")
    body = note or (f"Bonjour,\n\nVeuillez trouver ci-joint la synthèse de suivi de "
                    f"{patient.birth_name.upper()} {patient.first_given_name}, né(e) le {patient.birth_date:%d/%m/%Y}."
                    f"\n\n{actor.person.name}\n{actor.organisation.name}")
    sent, _ = await exchanges.send(services, gw, actor, exchange_id, body=body, client_id=client_id,
                                   subject=TITLE,   # the patient is named inside, not in a header
                                   attachment_ids=[uuid.UUID(cda_view["id"]), uuid.UUID(pdf_view["id"])],
                                   patient=patient)   # sealed in the exchange: X-MSS-INS, XDM metadata
    async with services.unit(actor.ip) as u:
        await u.audit(actor.org_id, "mssante.synthesis_sent", actor.id, "conversation", conversation_id,
                      exchange=str(exchange_id), items=len(picked))
    return SynthesisSent(exchange_id, sent["seq"])

"""« Envoyer une synthèse de suivi » from a care case: one page, phone first. The nurse finds the
correspondent in the health directory (a GET search that keeps what she already typed), ticks
the messages and handover notes to include (the last week's are ticked already), names the
patient, and sends. Works without script."""

from __future__ import annotations

import secrets
import uuid
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from chevet.app.mssante import directory, synthesis
from chevet.core.errors import InvalidInput, TooLarge
from chevet.core.ids import parse_id
from chevet.core.mssante.patient import (
    INS_NIA,
    INS_NIA_TEST,
    INS_NIR,
    INS_NIR_TEST,
    PatientIdentity,
    clean_identity,
)
from chevet.web.api.mssante import configured_gateway, gateway
from chevet.web.pages.handovers import when
from chevet.web.pages.mssante import directory_results
from chevet.web.pages.page import SignedInPage, check_csrf, signed_in, ui

router = APIRouter(include_in_schema=False)

PATIENT_FIELDS = ("birth_name", "first_given_name", "given_names", "used_name", "birth_date", "sex",
                  "birth_place", "ins", "ins_kind", "status")
INS_KINDS = {"nir": INS_NIR, "nia": INS_NIA, "nir_test": INS_NIR_TEST, "nia_test": INS_NIA_TEST}
PRECHECKED = timedelta(days=7)


def patient_of(values: dict[str, str], today: date) -> PatientIdentity:
    """The identity the nurse typed, checked by the one rule set of the gateway (strict traits
    in capitals, matricule and its key, RNIV status; the INS kept only with a status that has
    one). It travels only when the status is « qualifiée »."""
    try:
        born: date | None = date.fromisoformat(values.get("birth_date", ""))
    except ValueError:
        born = None
    return clean_identity(birth_name=values.get("birth_name", ""), first_given_name=values.get("first_given_name", ""),
                          birth_date=born, sex=values.get("sex", ""), status=values.get("status") or "PROV",
                          today=today, ins=values.get("ins", ""),
                          ins_oid=INS_KINDS.get(values.get("ins_kind", ""), INS_NIR),
                          given_names=values.get("given_names", ""), used_name=values.get("used_name", ""),
                          birth_place=values.get("birth_place", ""))


def _values(source: FormData, names: tuple[str, ...], limit: int = 200) -> dict[str, str]:
    out = {}
    for name in names:
        v = source.get(name)
        out[name] = v[:limit] if isinstance(v, str) else ""
    return out


async def _page(p: SignedInPage, cid: uuid.UUID, *, status: int = 200, error: str | None = None,
                picked: list[str] | None = None, patient: dict[str, str] | None = None, to: str = "",
                other: str = "", note: str = "", q: str = "", client_id: str | None = None) -> Response:
    ready = configured_gateway(p.request) is not None   # not configured: the page says so in plain words
    offered = await synthesis.choices(p.services, p.actor, cid)
    results, search_error = await directory_results(p, q)
    if picked is None:
        since = p.services.clock.now() - PRECHECKED
        picked = [i.key for i in offered.items if i.at >= since]
    return p.render("mssante_synthesis.html", status=status, offered=offered, picked=picked, error=error,
                    patient=patient or dict.fromkeys(PATIENT_FIELDS, ""), to=to, other=other, note=note, q=q,
                    results=results, gateway_ready=ready,
                    search_error=search_error, when=lambda at: when(p, at),
                    client_id=client_id or secrets.token_urlsafe(12), max_note=synthesis.MAX_NOTE,
                    directory_ready=await directory.status(p.services) is not None)


@router.get("/c/{conversation_id}/synthese")
@ui
async def synthesis_page(request: Request, conversation_id: str) -> Response:
    p = await signed_in(request)
    cid = parse_id(conversation_id)
    return await p.care_case_page(cid, lambda: _page(p, cid), "synthesis_only_care_case")


@router.post("/c/{conversation_id}/synthese")
@ui
async def send(request: Request, conversation_id: str) -> Response:
    """One form, two buttons: « Rechercher » looks the correspondent up in the directory and
    shows the form again with everything kept (nothing of the patient goes into a URL);
    « Envoyer » sends."""
    p = await signed_in(request)
    cid = parse_id(conversation_id)
    form = await request.form(max_files=0, max_fields=200)
    check_csrf(p, form.get("csrf"))
    picked = [v for v in form.getlist("pick") if isinstance(v, str)][:synthesis.MAX_ITEMS + 1]
    patient = _values(form, PATIENT_FIELDS)
    to, other, q, action, client_id = _values(form, ("to", "other", "q", "action", "client_id"), 320).values()
    note = _values(form, ("note",), synthesis.MAX_NOTE)["note"]
    kept: dict[str, Any] = {"picked": picked, "patient": patient, "to": to, "other": other, "note": note,
                            "q": q.strip()[:200], "client_id": client_id[:64]}
    if action == "search":
        return await _page(p, cid, **kept)
    address = other.strip() or to.strip()
    try:
        if not address:
            raise InvalidInput("mss_recipient_required")
        identity = patient_of(patient, p.services.clock.now().date())
        sent = await synthesis.send(p.services, gateway(request), p.actor, cid, to=address, picked=picked,
                                    patient=identity, note=note, client_id=client_id[:64] or secrets.token_urlsafe(12))
    except (InvalidInput, TooLarge) as exc:
        return await _page(p, cid, status=422, error=p.error_text(exc), **kept)
    return p.redirect(f"/mssante/x/{sent.exchange_id}?notice=synthesis_sent#m-{sent.seq}")

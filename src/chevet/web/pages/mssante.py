"""External exchanges (MSSanté) in the web client: the list, a new exchange found in the health
directory, an exchange with what MSSanté says of each message (signature, delivery, receipts),
writing with files, retrying a failed message, answering a receipt request, and the
administrator's quarantine. Everything works without script: searches are GET forms, a
message and its files are one multipart form."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.attachments import upload as attachments
from chevet.app.messaging import conversations
from chevet.app.mssante import directory, inbound
from chevet.app.mssante import exchanges as mssante
from chevet.app.mssante.views import ExchangeMessagesView, MssDelivery
from chevet.core.errors import InvalidInput, NotFound, TooLarge
from chevet.core.ids import parse_id
from chevet.core.mssante.patient import INS_OIDS, IdentityStatus, Sex
from chevet.web.api.mssante import configured_gateway, gateway
from chevet.web.pages.conversations import cursors_attr, day_label
from chevet.web.pages.page import Page, SignedInPage, check_csrf, read_form, signed_in, ui
from chevet.web.uploads import read_multipart

router = APIRouter(include_in_schema=False)
# The message form with its files: the request limit allows it one upload's size (web.app).
EXCHANGE_FORM_PATH = re.compile(r"^/mssante/x/[0-9a-fA-F-]{36}/send$")
_SPLIT = re.compile(r"[\s,;]+")


@router.get("/mssante")
@ui
async def exchanges(request: Request) -> Response:
    p = await signed_in(request)
    items = [{**c, "when": p.local(datetime.fromisoformat(c["last_activity"]))}
             for c in await conversations.list_conversations(p.services, p.actor) if c["kind"] == "external"]
    return p.render("mssante_list.html", exchanges=items, today=p.local(p.services.clock.now()).date(),
                    notice=request.query_params.get("notice"))


def _chosen(values: list[str], other: str) -> list[str]:
    found = [v.strip() for v in values if v.strip()]
    found += [v for v in _SPLIT.split(other) if v]
    return list(dict.fromkeys(found))[:20]


async def directory_results(p: Page, q: str) -> tuple[list[directory.DirectoryEntryView], str | None]:
    """The directory's answers to what was typed, or the refusal in words (an empty query: none)."""
    if not q:
        return [], None
    try:
        return await directory.search(p.services, p.actor, q, limit=20), None
    except InvalidInput as exc:
        return [], p.error_text(exc)


async def _new_context(p: Page, q: str, chosen: list[str]) -> dict[str, Any]:
    results, search_error = await directory_results(p, q)
    status = await directory.status(p.services)
    return {"q": q, "results": results, "search_error": search_error, "chosen": chosen,
            "directory_ready": status is not None}


@router.get("/mssante/new")
@ui
async def new_form(request: Request) -> Response:
    p = await signed_in(request)
    gateway(request)   # not configured: says so in plain words
    q = (request.query_params.get("q") or "").strip()[:200]
    chosen = [v for v in request.query_params.getlist("to") if v][:20]
    return p.render("mssante_new.html", **await _new_context(p, q, chosen), title="", other="", error=None)


@router.post("/mssante/new")
@ui
async def new(request: Request) -> Response:
    p = await signed_in(request)
    gw = gateway(request)
    form = await read_form(p)
    chosen = _chosen([v for v in form.getlist("to") if isinstance(v, str)][:20], str(form.get("other") or "")[:2000])
    title = str(form.get("title") or "")[:500]
    try:
        view = await mssante.open_exchange(p.services, gw, p.actor, to=chosen, title=title or None)
    except InvalidInput as exc:
        ctx = await _new_context(p, str(form.get("q") or "")[:200], chosen)
        return p.render("mssante_new.html", status=422, **ctx, title=title, other=str(form.get("other") or "")[:2000],
                        error=p.error_text(exc))
    return p.redirect(f"/mssante/x/{view['id']}")


def delivery_text(p: Page, mss: MssDelivery) -> tuple[str, str]:
    """What a member reads about a message: ("en file", "envoyé", "échec : …", "lu", "traité"),
    and a style name."""
    if mss["direction"] == "received":
        return "", ""
    if mss["state"] == "dead":
        return p.t("mss.state.dead", reason=_reason(p, mss.get("error") or "")), "error"
    if mss.get("disposition") == "processed":
        return p.t("mss.state.processed"), "ok"
    if mss.get("disposition") == "displayed":
        return p.t("mss.state.displayed"), "ok"
    if mss.get("disposition") == "error":
        return p.t("mss.state.receipt_error"), "error"
    if mss["state"] == "sent":
        return p.t("mss.state.sent"), "ok"
    if mss["state"] == "sending":
        return p.t("mss.state.sending"), ""
    if mss.get("attempts") and (error := mss.get("error")):
        return p.t("mss.state.retrying", reason=_reason(p, error)), "warn"
    return p.t("mss.state.pending"), ""


def _reason(p: Page, error: str) -> str:
    """A delivery error in plain words when its code is known, as reported otherwise."""
    code, _, detail = error.partition(":")
    code = code.strip()
    text = p.t(f"mss.error.{code}", detail=detail.strip())
    return text if text != f"mss.error.{code}" else error[:200]


def signature_text(p: Page, mss: MssDelivery) -> tuple[str, str]:
    if mss["direction"] != "received":
        return "", ""
    status = mss.get("signature") or "unsigned"
    if status == "valid":
        return p.t("mss.signature.valid", signer=mss.get("signer") or "?"), "ok"
    if status == "unsigned":
        return p.t("mss.signature.unsigned"), "warn"
    if status == "revoked":
        return p.t("mss.signature.revoked"), "error"
    if status == "mismatch":
        # Intact and from the trust space, but not the sender's certificate: never shown as valid.
        return p.t("mss.signature.mismatch", signer=mss.get("signer") or "?",
                   emails=", ".join(mss.get("signer_emails") or ()) or "?"), "error"
    reason = mss.get("signature_reason") or status
    explained = p.t(f"mss.signature.reason.{reason}")
    return p.t("mss.signature.invalid", reason=reason if explained == f"mss.signature.reason.{reason}"
               else explained), "error"


async def _exchange_context(p: SignedInPage, cid: uuid.UUID) -> dict[str, Any]:
    conv = await conversations.get_conversation(p.services, p.actor, cid)
    ex = await mssante.exchange_messages(p.services, p.actor, cid, configured_gateway(p.request))
    me = str(p.actor.id)
    days: list[tuple[str, list[dict[str, Any]]]] = []
    for view in ex["messages"]:
        at = datetime.fromisoformat(view["created_at"])
        m: dict[str, Any] = {
            **view, "local": p.local(at), "delivery": delivery_text(p, view["mssante"]),
            "signature": signature_text(p, view["mssante"]),
            "may_retry": view["mssante"].get("state") == "dead" and (
                view.get("author_id") == me or p.can("manage_any_conversation"))}
        label = day_label(p, at)
        if not days or days[-1][0] != label:
            days.append((label, []))
        days[-1][1].append(m)
    if conv["last_seq"] > conv.get("read_seq", 0):
        await conversations.mark_read(p.services, p.actor, cid, conv["last_seq"])
    return {"conversation": conv, "exchange": ex, "days": days, "me": me, "patient": _patient_context(p, ex)}


def _patient_context(p: Page, ex: ExchangeMessagesView) -> dict[str, Any] | None:
    """The composer's patient part: shown when a correspondent is a patient (Mon espace santé) or
    the exchange already names one; the known identity fills it and is summed up in words."""
    known = ex.get("patient")
    if known is None and not ex.get("to_patient"):
        return None
    summary = None
    if known is not None:
        born = date.fromisoformat(known["birth_date"])
        summary = p.t("mss.patient.current", name=f"{known['birth_name']} {known['first_given_name']}",
                      birth_date=born.strftime("%d/%m/%Y"), status=p.t(f"mss.patient.status.{known['status']}"))
    return {"known": known, "summary": summary, "to_patient": bool(ex.get("to_patient")),
            "oids": [(o, p.t(f"mss.patient.oid.{o}")) for o in INS_OIDS],
            "statuses": [(s.value, p.t(f"mss.patient.status.{s.value}")) for s in IdentityStatus],
            "sexes": [(x.value, p.t(f"mss.patient.sex.{x.value}")) for x in Sex]}


@router.get("/mssante/x/{conversation_id}")
@ui
async def exchange(conversation_id: str, request: Request) -> Response:
    p = await signed_in(request)
    cid = parse_id(conversation_id)
    ctx = await _exchange_context(p, cid)
    if request.query_params.get("fragment") == "1":
        return p.render("_mssante_log.html", **ctx)   # the page's script, on a live event
    return p.render("mssante_exchange.html", **ctx, client_id=secrets.token_urlsafe(12), draft={}, files=[],
                    limits=attachments.limits_view(p.services), error=None, notice=request.query_params.get("notice"),
                    cursors=cursors_attr(await conversations.positions(p.services, p.actor)))


PATIENT_PREFIX = "patient_"
SEND_FIELDS = frozenset({"csrf", "subject", "body", "request_receipt", "attachment_ids", "action", "client_id",
                         "replies_blocked", *(PATIENT_PREFIX + f for f in mssante.PATIENT_FIELDS)})


@router.post("/mssante/x/{conversation_id}/send")
@ui
async def send(conversation_id: str, request: Request) -> Response:
    """One form: "Joindre" stores the chosen files and shows the form again (text kept); "Envoyer"
    stores them too, then sends the message with every file listed."""
    p = await signed_in(request)
    cid = parse_id(conversation_id)
    limits = attachments.limits_view(p.services)
    form = await read_multipart(request, limits["max_upload_bytes"], limits["max_per_message"], SEND_FIELDS,
                                field_limit=256 * 1024)
    check_csrf(p, form.one("csrf"))
    subject, body = form.one("subject")[:500], form.one("body")[:70_000]
    wants_receipt = form.one("request_receipt")[:5] == "1"
    replies_blocked = form.one("replies_blocked")[:5] == "1"
    typed = {f: form.one(PATIENT_PREFIX + f)[:200] for f in mssante.PATIENT_FIELDS}
    draft: dict[str, Any] = {"subject": subject, "body": body, "request_receipt": wants_receipt,
                             "replies_blocked": replies_blocked, "patient": typed if any(typed.values()) else None}
    ids: list[uuid.UUID] = []
    error = None
    try:
        ids = [parse_id(v) for v in form.many("attachment_ids")[:20]]
        for f in form.files:
            view, _ = await attachments.upload(p.services, p.actor, cid, data=f.data, name=f.name)
            ids.append(uuid.UUID(view["id"]))
        if form.one("action")[:10] != "attach":
            patient = mssante.entered_patient(p.services, typed)
            sent, _ = await mssante.send(p.services, gateway(request), p.actor, cid, body=body,
                                         client_id=form.one("client_id")[:64], subject=subject or None,
                                         attachment_ids=ids, request_receipt=wants_receipt, patient=patient,
                                         replies_blocked=replies_blocked)
            return p.redirect(f"/mssante/x/{cid}#m-{sent['seq']}")
    except (InvalidInput, TooLarge, NotFound) as exc:
        if isinstance(exc, NotFound) and not ids:
            raise
        error = p.error_text(exc)
    ctx = await _exchange_context(p, cid)
    files = await attachments.pending(p.services, p.actor, cid, ids)
    return p.render("mssante_exchange.html", status=422 if error else 200, **ctx,
                    client_id=form.one("client_id")[:64] or secrets.token_urlsafe(12), draft=draft, files=files,
                    limits=limits, error=error, notice=None,
                    cursors=cursors_attr(await conversations.positions(p.services, p.actor)))


@router.post("/mssante/x/{conversation_id}/m/{message_id}/retry")
@ui
async def retry(conversation_id: str, message_id: str, request: Request) -> Response:
    p = await signed_in(request)
    cid = parse_id(conversation_id)
    await read_form(p)
    await mssante.retry_dead(p.services, p.actor, cid, parse_id(message_id))
    return p.redirect(f"/mssante/x/{cid}?notice=mss_requeued")


@router.post("/mssante/x/{conversation_id}/m/{message_id}/receipt")
@ui
async def receipt(conversation_id: str, message_id: str, request: Request) -> Response:
    p = await signed_in(request)
    cid = parse_id(conversation_id)
    form = await read_form(p)
    send = form.get("answer") == "send"
    await mssante.answer_receipt(p.services, gateway(request), p.actor, cid, parse_id(message_id), send)
    return p.redirect(f"/mssante/x/{cid}?notice={'mss_receipt_sent' if send else 'mss_receipt_declined'}")


@router.get("/admin/mssante/quarantine")
@ui
async def quarantine(request: Request) -> Response:
    p = await signed_in(request)
    records = [{**r, "local": p.local(datetime.fromisoformat(r["received_at"])),
                "reason_text": _quarantine_reason(p, r["reason"] or "")}
               for r in await inbound.quarantined(p.services, p.actor)]
    return p.render("mssante_quarantine.html", records=records, notice=request.query_params.get("notice"))


def _quarantine_reason(p: Page, reason: str) -> str:
    text = p.t(f"mss.quarantine.{reason}")
    if text != f"mss.quarantine.{reason}":
        return text
    generic = p.t(reason)
    return generic if generic != reason else reason


@router.post("/admin/mssante/quarantine/{record_id}/release")
@ui
async def release(record_id: str, request: Request) -> Response:
    p = await signed_in(request)
    await read_form(p)
    await inbound.release(p.services, p.actor, parse_id(record_id))
    return p.redirect("/admin/mssante/quarantine?notice=mss_released")

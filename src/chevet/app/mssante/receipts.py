"""Read receipts we send (MDN, RFC 8098), through the outbox like any mail.

A receipt is a top-level ``multipart/report`` (RFC 6522 §3), not wrapped in ``multipart/signed``:
the ANS structure shows it so, and a reader that does not unwrap S/MIME must still find the
report (the receipt's origin is vouched for by the operator's authenticated submission and the
TLS between operators, as for every MDN in the trust space). Its subject follows the ANS guide
(``XDM/1.0/DDM+<libellé> <NOM> <prénom> <date de naissance>``) when the mail carried a CDA.

- "processed" (traité): automatically when a mail asking for one is integrated, if the
  receipt goes back where the mail came from (``Disposition-Notification-To`` equal to
  ``Return-Path``). When they differ, nothing is sent by itself: a reader is asked (RFC 8098
  §2.1, and the ANS guide), and answers "send" (a manually sent "displayed") or "do not send".
- "displayed" (lu): when a member first opens the message, if the installation wants it
  (``displayed_receipts``), sent automatically.

A receipt carries the original message (the ANS asks for it), so a received mail whose
receipt is still to be decided keeps its raw bytes, sealed, until then, and not longer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime

from chevet.app.mssante.gateway import Gateway, Mailbox, keyed_hash, open_json, seal_json
from chevet.app.services import Actor, Services, Unit
from chevet.core import envelope
from chevet.core.envelope import DataKey
from chevet.core.errors import InvalidInput, NotFound
from chevet.core.ids import new_id
from chevet.core.mssante import mime, smime, xdm
from chevet.core.mssante.delivery import MailError, PermanentMailError
from chevet.core.mssante.mdn import Disposition as MdnDisposition
from chevet.core.mssante.mdn import DispositionType, integration_error
from chevet.core.mssante.receipt_subject import DocumentHeading, document_heading, receipt_subject
from chevet.core.mssante.records import DeliveryState, Direction, MssMessage, QueuedReceipt, ReceiptState
from chevet.ports import MailSubmitter

PROCESSED_TEXT = "Votre message a été reçu et intégré dans la messagerie sécurisée de l'établissement."
DISPLAYED_TEXT = "Votre message a été lu dans la messagerie sécurisée de l'établissement."
ERROR_TEXT = ("Le message ci-dessous n'a pas pu être intégré automatiquement dans la messagerie sécurisée "
              "de l'établissement pour la raison suivante : {label} (code {code}).")


def parse(services: Services, gw: Gateway, box: Mailbox, raw: bytes) -> mime.InboundMail:
    """A received mail parsed as the gateway does (decrypted with the mailbox's key, its
    signature checked against the trust anchors and the CRLs). Raises ``mime.MalformedMail``."""
    identity = box.identity
    decrypt = (lambda der: smime.decrypt(der, identity)) if identity is not None else None
    return mime.parse_inbound(raw, max_bytes=gw.max_message_bytes, anchors=list(gw.anchors),
                              at=services.clock.now(), decrypt=decrypt, required_suffix=gw.required_suffix,
                              revocation=gw.revocation())


def original_aad(conversation_id: uuid.UUID, mss_id: uuid.UUID) -> bytes:
    return envelope.aad("mss-original", conversation_id, mss_id)


def heading(gw: Gateway, mail: mime.InboundMail) -> DocumentHeading | None:
    """The heading of the first CDA the mail carries (alone or in its IHE_XDM.zip), for the
    receipt's subject; None when it carries none or the package cannot be read."""
    for a in mail.attachments:
        if (found := document_heading(a.data)) is not None:
            return found
        if a.filename.upper() == xdm.XDM_NAME.upper() or a.data.startswith(b"PK\x03\x04"):
            try:
                package = xdm.read_xdm(a.data, gw.xdm_limits)
            except InvalidInput:
                continue
            for d in package.documents:
                if (found := document_heading(d.data)) is not None:
                    return found
    return None


def human_text(disposition: MdnDisposition) -> str:
    if disposition.failed:
        return ERROR_TEXT.format(label=disposition.error_label or "", code=disposition.error_code)
    return PROCESSED_TEXT if disposition.type is DispositionType.PROCESSED else DISPLAYED_TEXT


def _message(gw: Gateway, box: Mailbox, mail: mime.InboundMail, raw: bytes, disposition: MdnDisposition,
             rid: uuid.UUID, now: datetime) -> tuple[mime.Envelope, bytes]:
    assert mail.mdn_to is not None
    processed = disposition.type is DispositionType.PROCESSED
    content = mime.build_mdn_content(mail, raw, reporting_ua=gw.product, final_recipient=box.address,
                                     disposition=disposition, human_text=human_text(disposition))
    label = "Accusé de traitement" if processed else "Accusé de lecture"
    subject = receipt_subject(heading(gw, mail), mail.subject, label, disposition.error_code)
    env = mime.Envelope(sender=box.address, sender_name=box.display_name, recipients=(mail.mdn_to,),
                        subject=subject, message_id=f"{rid}@{box.domain}",
                        date=now, nil=gw.nil, in_reply_to=mail.message_id, references=(mail.message_id,))
    return env, mime.assemble(env, content, None)


async def queue(u: Unit, gw: Gateway, org_id: uuid.UUID, box: Mailbox, key: DataKey, conv_id: uuid.UUID,
                mail: mime.InboundMail, raw: bytes, disposition: MdnDisposition) -> uuid.UUID:
    """One MDN answering ``mail``, queued in the outbox (a top-level report, see above)."""
    assert mail.mdn_to is not None
    services = u.services
    now = services.clock.now()
    rid = new_id()
    env, message = _message(gw, box, mail, raw, disposition, rid, now)
    await u.tx.mssante.add_message(MssMessage(
        id=rid, org_id=org_id, conversation_id=conv_id, entry_id=None, direction=Direction.RECEIPT,
        mid_hash=keyed_hash(services, "mid", org_id, env.message_id), message_id=env.message_id, author_id=None,
        state=DeliveryState.PENDING, attempts=0, next_attempt_at=now, lease_until=None, last_error=None,
        mime_sealed=key.seal(message, envelope.aad("mss-mime", conv_id, rid)),
        meta_sealed=seal_json(key, "mss-meta", (conv_id, rid), {"subject": env.subject, "from": box.address,
                                                               "to": [mail.mdn_to], "message_id": env.message_id}),
        signature="unsigned", disposition=None, disposition_at=None,
        created_at=now, sent_at=None))
    return rid


def owes_error(gw: Gateway, mail: mime.InboundMail) -> bool:
    """Whether a mail that could not be integrated gets an error receipt by itself: it asked
    for one, to where it came from (RFC 8098 §2.1: elsewhere would need a reader's consent, and
    no member may see a quarantined mail), and the installation answers automatically."""
    return (gw.auto_mdn and mail.mdn_to is not None and mail.disposition is None and mail.delivery is None
            and (mail.return_path is None or mail.return_path == mail.mdn_to))


async def queue_error(u: Unit, gw: Gateway, org_id: uuid.UUID, box: Mailbox, key: DataKey, conv_id: uuid.UUID,
                      mail: mime.InboundMail, raw: bytes, reason: str) -> uuid.UUID:
    """The error receipt (``processed/error``, ``Error: <code>^<libellé>``, KO subject) for a mail
    of an existing exchange that was quarantined for ``reason``; queued in that exchange."""
    error = integration_error(reason)
    rid = await queue(u, gw, org_id, box, key, conv_id, mail, raw, error.disposition())
    await u.audit(org_id, "mssante.receipt_queued", None, "message", rid, conversation=str(conv_id),
                  disposition="error", code=error.code)
    return rid


def unattached_aad(receipt_id: uuid.UUID) -> bytes:
    return envelope.aad("mss-receipt", receipt_id)


async def queue_unattached_error(services: Services, gw: Gateway, org_id: uuid.UUID, box: Mailbox,
                                 mail: mime.InboundMail, raw: bytes, reason: str) -> uuid.UUID:
    """The error receipt for a mail quarantined before any exchange existed with its sender:
    queued in the receipts' own outbox, sealed with a data key of its own (it carries the
    original mail), deleted once sent or given up."""
    error = integration_error(reason)
    now = services.clock.now()
    rid = new_id()
    env, message = _message(gw, box, mail, raw, error.disposition(), rid, now)
    async with services.unit() as u:
        key, wrapped = await services.new_wrapped_key(org_id, rid, u.tx)
        await u.tx.mssante.add_queued_receipt(QueuedReceipt(
            id=rid, org_id=org_id, mailbox=box.address, state=DeliveryState.PENDING, attempts=0, next_attempt_at=now,
            mime_sealed=key.seal(message, unattached_aad(rid)),
            meta_sealed=key.seal(json.dumps({"to": list(env.recipients)}).encode(), unattached_aad(rid) + b"meta"),
            wrapped_key=wrapped, created_at=now))
        await u.audit(org_id, "mssante.receipt_queued", None, "message", rid, disposition="error", code=error.code)
    return rid


async def deliver_unattached(services: Services, gw: Gateway, submitter_for: Callable[[str], MailSubmitter],
                             limit: int = 5) -> tuple[int, int, int]:
    """One pass over the receipts' own outbox (leases, back-off and giving up as the main
    outbox does). Returns (sent, to retry, given up)."""
    sent = retried = dead = 0
    now = services.clock.now()
    async with services.db.transaction() as tx:
        claimed = await tx.mssante.claim_queued_receipts(now, now + gw.retry.lease, limit)
    for r in claimed:
        key = await services.unwrap_key(r.org_id, r.id, r.wrapped_key)
        raw = key.open(r.mime_sealed, unattached_aad(r.id))
        to = list(json.loads(key.open(r.meta_sealed, unattached_aad(r.id) + b"meta"))["to"])
        try:
            await submitter_for(r.mailbox).submit(r.mailbox, to, raw, envelope_id=r.id.hex)
        except MailError as exc:
            attempts = r.attempts + 1
            permanent = isinstance(exc, PermanentMailError) or gw.retry.gives_up(r.created_at, services.clock.now())
            async with services.unit() as u:
                if permanent:
                    await u.tx.mssante.forget_queued_receipt(r.id)
                    await u.audit(r.org_id, "mssante.message_dead", None, "message", r.id, attempts=attempts,
                                  error=exc.code, how="submission", receipt=True)
                    dead += 1
                else:
                    await u.tx.mssante.retry_queued_receipt(r.id, services.clock.now() + gw.retry.delay(attempts),
                                                            exc.code)
                    retried += 1
            continue
        async with services.unit() as u:
            await u.tx.mssante.forget_queued_receipt(r.id)
            await u.audit(r.org_id, "mssante.message_sent", None, "message", r.id, attempts=r.attempts + 1,
                          receipt=True)
        sent += 1
    return sent, retried, dead


def on_arrival(gw: Gateway, mail: mime.InboundMail) -> tuple[ReceiptState | None, bool, bool]:
    """For a mail being integrated: (its receipt state, whether to send "processed" now,
    whether to keep the original for a receipt to come)."""
    if mail.mdn_to is None:
        return None, False, False
    if mail.return_path is not None and mail.return_path != mail.mdn_to:
        return ReceiptState.ASK, False, True
    if gw.auto_mdn:
        return ReceiptState.QUEUED, True, gw.displayed_mdn
    return None, False, gw.displayed_mdn


async def _original(u: Unit, gw: Gateway, key: DataKey, m: MssMessage) -> tuple[Mailbox, mime.InboundMail, bytes]:
    assert m.mime_sealed is not None
    ex = await u.tx.mssante.exchange(m.org_id, m.conversation_id)
    if ex is None:
        raise NotFound("mss_exchange_not_found")
    box = gw.mailbox(ex.mailbox)
    raw = key.open(m.mime_sealed, original_aad(m.conversation_id, m.id))
    return box, parse(u.services, gw, box, raw), raw


async def displayed_on_open(u: Unit, gw: Gateway | None, actor: Actor, key: DataKey,
                            records: list[MssMessage]) -> int:
    """A member opens an exchange: each received message still owing its "displayed"
    receipt (and not waiting for a reader's decision) gets it now. Returns how many."""
    if gw is None or not gw.displayed_mdn:
        return 0
    sent = 0
    for m in records:
        if m.direction is not Direction.RECEIVED or m.mime_sealed is None \
                or m.receipt not in (None, ReceiptState.QUEUED):
            continue
        try:
            box, mail, raw = await _original(u, gw, key, m)
        except (mime.MalformedMail, NotFound):
            await u.tx.mssante.set_receipt(m.id, ReceiptState.DECLINED)
            continue
        await queue(u, gw, m.org_id, box, key, m.conversation_id, mail, raw,
                    MdnDisposition(DispositionType.DISPLAYED, automatic=False, sent_manually=False))
        await u.tx.mssante.set_receipt(m.id, ReceiptState.DISPLAYED)
        await u.audit(m.org_id, "mssante.receipt_queued", actor.id, "message", m.entry_id or m.id,
                      conversation=str(m.conversation_id), disposition="displayed", how="opened")
        sent += 1
    return sent


async def answer(u: Unit, gw: Gateway, actor: Actor, key: DataKey, m: MssMessage, send: bool) -> None:
    """A reader's answer to a receipt request sent to another address than the sender's."""
    if m.direction is not Direction.RECEIVED or m.receipt is not ReceiptState.ASK or m.mime_sealed is None:
        raise InvalidInput("mss_no_receipt_question")
    if send:
        try:
            box, mail, raw = await _original(u, gw, key, m)
        except mime.MalformedMail as exc:
            raise InvalidInput("mss_no_receipt_question") from exc
        await queue(u, gw, m.org_id, box, key, m.conversation_id, mail, raw,
                    MdnDisposition(DispositionType.DISPLAYED, automatic=False, sent_manually=True))
    await u.tx.mssante.set_receipt(m.id, ReceiptState.SENT if send else ReceiptState.DECLINED)
    await u.audit(m.org_id, "mssante.receipt_answered", actor.id, "message", m.entry_id or m.id,
                  conversation=str(m.conversation_id), send=send)


def question(key: DataKey, m: MssMessage) -> dict[str, str] | None:
    """What the reader is asked, for a message whose receipt waits for a decision."""
    if m.receipt is not ReceiptState.ASK:
        return None
    meta = open_json(key, "mss-meta", (m.conversation_id, m.id), m.meta_sealed)
    return {"receipt_to": str(meta.get("receipt_to") or "")}

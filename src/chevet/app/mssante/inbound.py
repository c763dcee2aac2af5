"""Received MSSanté mail: verify, thread into the right exchange, store its documents as
attachments of the message (the attachment pipeline: checks, antivirus, sealed blobs),
answer receipt requests, consume receipts; quarantine what cannot be integrated.

Nothing received is ever dropped: a mail either lands in a conversation, updates a sent
message (receipt), is recognised as a copy already integrated (same Message-ID in the same
mailbox), or is quarantined, sealed, with its reason, for the administrator.

Exactly once, even when two workers fetch the same mail: the ``mss_inbound`` row that records
a mail is unique per (mailbox, Message-ID hash) and is written first, in the same transaction
as everything the mail changes. The worker whose row is refused has lost the race: it writes
nothing, notifies nobody and reports a duplicate. (The early ``seen`` look-up only spares the
work of screening a mail already recorded; it decides nothing.)
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from chevet.app.access import require
from chevet.app.attachments import upload
from chevet.app.attachments.upload import ReceivedFile
from chevet.app.messaging import message_files
from chevet.app.messaging.conversations import append_entry
from chevet.app.messaging.views import entry_payload, event_payload
from chevet.app.mssante import outbox, receipts
from chevet.app.mssante.exchanges import create_exchange, member_ids
from chevet.app.mssante.gateway import Gateway, Mailbox, keyed_hash, open_json, seal_json
from chevet.app.mssante.views import MssMessageView, QuarantinedView
from chevet.app.services import Actor, Services, Unit
from chevet.core import blind_index, envelope
from chevet.core.attachment import TEXT
from chevet.core.entities import Organisation, RealtimeEvent
from chevet.core.envelope import DataKey
from chevet.core.errors import InvalidInput, NotFound, TooLarge
from chevet.core.ids import new_id
from chevet.core.message import EntryKind, MessageFlag
from chevet.core.mssante import mime, xdm
from chevet.core.mssante.dsn import DeliveryReport
from chevet.core.mssante.mdn import Disposition as MdnDisposition
from chevet.core.mssante.mdn import DispositionType
from chevet.core.mssante.records import (
    DeliveryState,
    Direction,
    Disposition,
    InboundRecord,
    InboundState,
    MssMessage,
)
from chevet.core.roles import Permission

log = logging.getLogger("chevet.mssante.inbound")
PLACEHOLDER = "(message sans texte, voir les pièces jointes)"


@dataclass(frozen=True, slots=True)
class IngestResult:
    state: InboundState
    reason: str | None = None
    conversation_id: uuid.UUID | None = None


async def _org(services: Services, box: Mailbox) -> Organisation:
    async with services.db.transaction() as tx:
        org = await tx.organisations.by_slug(box.org_slug)
    if org is None:
        raise NotFound("organisation_not_found")
    return org


async def quarantine(services: Services, org: Organisation, box: Mailbox, raw: bytes, reason: str,
                     mid_hash: bytes | None = None) -> IngestResult:
    """Keep a mail aside, sealed. A mail without a readable Message-ID is identified by its
    content, so that a copy fetched twice is still kept once."""
    rid = new_id()
    mid_hash = mid_hash or keyed_hash(services, "raw", org.id, hashlib.sha256(raw).hexdigest())
    async with services.unit() as u:
        key, wrapped = await services.new_wrapped_key(org.id, rid, u.tx)
        if not await u.tx.mssante.add_inbound(InboundRecord(
                rid, org.id, box.address, mid_hash, InboundState.QUARANTINED, reason[:40],
                services.clock.now(), len(raw), key.seal(raw, envelope.aad("mss-quarantine", rid)), wrapped)):
            return IngestResult(InboundState.DUPLICATE)
        await u.audit(org.id, "mssante.quarantined", None, "inbound", rid, reason=reason[:40], size=len(raw))
    log.warning("mssante mail quarantined", extra={"record": str(rid), "reason": reason})
    return IngestResult(InboundState.QUARANTINED, reason)


async def ingest(services: Services, gw: Gateway, mailbox: str, raw: bytes) -> IngestResult:
    """Integrate one received mail. Never raises for anything the sender controls."""
    box = gw.mailbox(mailbox)
    org = await _org(services, box)
    try:
        mail = receipts.parse(services, gw, box, raw)
    except mime.MalformedMail as exc:
        return await quarantine(services, org, box, raw, exc.reason)
    mid_hash = keyed_hash(services, "mid", org.id, mail.message_id)
    async with services.db.transaction() as tx:
        if await tx.mssante.seen(org.id, box.address, mid_hash):
            return IngestResult(InboundState.DUPLICATE)
    try:
        if mail.disposition is not None:
            return await _receipt(services, org, box, mail, raw, mid_hash)
        if mail.delivery is not None:
            return await _bounce(services, org, box, mail.delivery, raw, mid_hash)
        documents = await _documents(services, gw, mail)
    except xdm.HostileArchive as exc:
        return await _not_integrated(services, gw, org, box, mail, raw, f"xdm_{exc.reason}", mid_hash)
    except (InvalidInput, TooLarge) as exc:
        return await _not_integrated(services, gw, org, box, mail, raw, exc.code, mid_hash)
    try:
        return await _integrate(services, gw, org, box, mail, raw, mid_hash, documents)
    except (InvalidInput, TooLarge) as exc:
        # A configuration problem (a mailbox nobody reads) or a document the pipeline could
        # not store (an image that does not decode): kept for the administrator.
        return await _not_integrated(services, gw, org, box, mail, raw, exc.code, mid_hash)


async def _not_integrated(services: Services, gw: Gateway, org: Organisation, box: Mailbox, mail: mime.InboundMail,
                          raw: bytes, reason: str, mid_hash: bytes) -> IngestResult:
    """Quarantined; and when the mail asked for a receipt, an error receipt goes back (ANS volet:
    « [KO Intégration système !] »): in the exchange we already have with its sender, or, for a
    first mail, through the receipts' own outbox."""
    result = await quarantine(services, org, box, raw, reason, mid_hash)
    if result.state is not InboundState.QUARANTINED or not receipts.owes_error(gw, mail):
        return result
    async with services.unit() as u:
        conv_id = await _find_conversation(u, org, box, mail)
        wrapped = await u.tx.conversations.wrapped_key(conv_id) if conv_id is not None else None
        if conv_id is not None and wrapped is not None:
            key = await services.unwrap_key(org.id, conv_id, wrapped)
            await receipts.queue_error(u, gw, org.id, box, key, conv_id, mail, raw, reason)
            return result
    # A first mail: no exchange to carry the receipt, which waits in its own outbox.
    await receipts.queue_unattached_error(services, gw, org.id, box, mail, raw, reason)
    return result


async def cursor(services: Services, mailbox: str) -> tuple[int, int] | None:
    """Where fetching a mailbox resumes: its UIDVALIDITY and the last UID read, if any."""
    async with services.db.transaction() as tx:
        return await tx.mssante.cursor(mailbox)


async def advance_cursor(services: Services, mailbox: str, uid_validity: int, uid: int) -> None:
    """A fetched mail is recorded (``ingest`` returned): the next fetch starts after it. Called
    only after ``ingest``, so a crash in between fetches the mail again, and its Message-ID
    makes that second copy a no-op."""
    async with services.db.transaction() as tx:
        await tx.mssante.set_cursor(mailbox, uid_validity, uid)


async def _documents(services: Services, gw: Gateway, mail: mime.InboundMail) -> list[ReceivedFile]:
    """The attachments as received, through the attachment pipeline's checks (exchange
    allow-list, PDF structure, antivirus), plus the documents inside an IHE_XDM.zip (read as a
    hostile archive first). A refused attachment quarantines the whole mail; a document of a
    package that is not of an allowed type stays inside the package, which is kept. A document
    masked to professionals (MASQUE_PS) quarantines the mail: no member may see it."""
    out = []
    for a in mail.attachments:
        file_type = await upload.screen_received(services, a.data)
        out.append(ReceivedFile(a.filename, a.data, file_type))
        if file_type.family == "cda" and (facts := xdm.cda_facts(a.data)) is not None \
                and xdm.refused_for([facts.confidentiality or ""], patient=False):
            raise InvalidInput("xdm_masked_for_professionals")
        if file_type.family != "xdm":
            continue
        package = xdm.read_xdm(a.data, gw.xdm_limits)
        if xdm.refused_for(package.confidentiality, patient=False):
            # Masked to professionals: not shown to any member; the administrator decides.
            raise InvalidInput("xdm_masked_for_professionals")
        for d in package.documents:
            try:
                inner = await upload.screen_received(services, d.data)
            except InvalidInput as exc:
                if exc.code == "attachment_type_refused":
                    continue
                raise
            out.append(ReceivedFile(f"{d.subset or package.subset}-{d.name}", d.data, inner))
    return out


async def _bounce(services: Services, org: Organisation, box: Mailbox, report: DeliveryReport, raw: bytes,
                  mid_hash: bytes) -> IngestResult:
    """A DSN from the operator: the sent message it names (by envelope id, else by Message-ID)
    is marked failed with the status codes and its author told; a report only of delay or
    of delivery changes nothing. A report naming no message of ours is quarantined."""
    found: MssMessage | None = None
    async with services.db.transaction() as tx:
        if report.envelope_id is not None:
            found = await tx.mssante.message(org.id, uuid.UUID(hex=report.envelope_id))
        if found is None and report.original_message_id:
            candidates = await tx.mssante.by_mid_hash(org.id, [keyed_hash(services, "mid", org.id,
                                                                          report.original_message_id)])
            found = candidates[0] if candidates else None
    if found is None or found.direction is Direction.RECEIVED:
        return await quarantine(services, org, box, raw, "dsn_unknown_original", mid_hash)
    async with services.unit() as u:
        if not await u.tx.mssante.add_inbound(InboundRecord(new_id(), org.id, box.address, mid_hash,
                                                            InboundState.INTEGRATED, "dsn", services.clock.now(),
                                                            len(raw))):
            return IngestResult(InboundState.DUPLICATE)
        await u.audit(org.id, "mssante.dsn_received", None, "message", found.entry_id or found.id,
                      conversation=str(found.conversation_id), failed=len(report.failed),
                      actions=",".join(sorted({r.action for r in report.recipients}))[:60])
    if report.failed:
        await outbox.mark_failed(services, found, report.summary, how="dsn")
    return IngestResult(InboundState.INTEGRATED, "dsn", found.conversation_id)


async def _receipt(services: Services, org: Organisation, box: Mailbox, mail: mime.InboundMail, raw: bytes,
                   mid_hash: bytes) -> IngestResult:
    d = mail.disposition
    assert d is not None
    if not d.original_message_id:
        return await quarantine(services, org, box, raw, "mdn_without_original", mid_hash)
    async with services.unit() as u:
        found = [m for m in await u.tx.mssante.by_mid_hash(org.id, [keyed_hash(services, "mid", org.id,
                                                                                d.original_message_id)])
                 if m.direction is Direction.SENT]
        if not found:
            raise_later = True
        else:
            raise_later = False
            m = found[0]
            if not await u.tx.mssante.add_inbound(InboundRecord(new_id(), org.id, box.address, mid_hash,
                                                                InboundState.INTEGRATED, "receipt",
                                                                services.clock.now(), len(raw))):
                return IngestResult(InboundState.DUPLICATE)
            state = Disposition.ERROR if d.failed else (
                Disposition.PROCESSED if d.type is DispositionType.PROCESSED else Disposition.DISPLAYED)
            # "traité" outranks "lu": a late "displayed" never hides a "processed".
            if not (m.disposition is Disposition.PROCESSED and state is Disposition.DISPLAYED):
                await u.tx.mssante.set_disposition(m.id, state, services.clock.now())
            await u.audit(org.id, "mssante.receipt_received", None, "message", m.entry_id or m.id,
                          conversation=str(m.conversation_id), disposition=state.value,
                          signature=mail.signature.status.value)
            u.publish(RealtimeEvent(org.id, m.conversation_id, None, {
                "type": "mssante.receipt", "conversation_id": str(m.conversation_id),
                "message_id": str(m.entry_id or m.id), "disposition": state.value,
                "error": d.error_code}))
    if raise_later:
        return await quarantine(services, org, box, raw, "mdn_unknown_original", mid_hash)
    return IngestResult(InboundState.INTEGRATED, "receipt", found[0].conversation_id)


async def _find_conversation(u: Unit, org: Organisation, box: Mailbox, mail: mime.InboundMail) -> uuid.UUID | None:
    services = u.services
    hashes = [keyed_hash(services, "mid", org.id, mid) for mid in mail.thread_ids]
    for m in await u.tx.mssante.by_mid_hash(org.id, hashes):
        ex = await u.tx.mssante.exchange(org.id, m.conversation_id)
        if ex is not None and ex.mailbox == box.address:
            return m.conversation_id
    return await u.tx.mssante.exchange_for_peer(org.id, box.address, keyed_hash(services, "peer", org.id, mail.sender))


async def _integrate(services: Services, gw: Gateway, org: Organisation, box: Mailbox, mail: mime.InboundMail,
                     raw: bytes, mid_hash: bytes, documents: list[ReceivedFile]) -> IngestResult:
    written: list[str] = []
    try:
        return await _integrate_once(services, gw, org, box, mail, raw, mid_hash, documents, written)
    except BaseException:
        await upload.delete_files(services, written)
        raise


async def _integrate_once(services: Services, gw: Gateway, org: Organisation, box: Mailbox, mail: mime.InboundMail,
                          raw: bytes, mid_hash: bytes, documents: list[ReceivedFile], written: list[str]
                          ) -> IngestResult:
    now = services.clock.now()
    limit = services.policy.max_message_bytes
    text = mail.text.strip() or PLACEHOLDER
    if len(text.encode()) > limit:
        documents = [ReceivedFile("message.txt", mail.text.encode(), TEXT), *documents]
        text = text.encode()[:limit - 200].decode("utf-8", "ignore") + "\n[…] (texte complet en pièce jointe)"
    async with services.unit() as u:
        if not await u.tx.mssante.add_inbound(InboundRecord(new_id(), org.id, box.address, mid_hash,
                                                            InboundState.INTEGRATED, None, now, len(raw))):
            return IngestResult(InboundState.DUPLICATE)
        conv_id = await _find_conversation(u, org, box, mail)
        if conv_id is None:
            members = await member_ids(u, org.id, box.member_emails)
            if not members:
                raise InvalidInput("mss_mailbox_without_members")
            conv, key = await create_exchange(u, org.id, box, [mail.sender], mail.subject, None, members)
        else:
            found = await u.tx.conversations.get(org.id, conv_id)
            wrapped = await u.tx.conversations.wrapped_key(conv_id)
            if found is None or wrapped is None:
                raise NotFound("conversation_not_found")
            conv, key = found, await services.unwrap_key(org.id, conv_id, wrapped)
            await _add_peer(u, key, org, conv_id, mail.sender)
        conv, e = await append_entry(u, conv, key, kind=EntryKind.MESSAGE, author=None, body=text,
                                     flags=MessageFlag.ATTACHMENTS if documents else MessageFlag.NONE,
                                     terms=blind_index.terms(key.search_key, text))
        await upload.store_received(u, org.id, conv.id, key, e.id, documents, written)
        mss_id = new_id()
        meta: dict[str, Any] = {
            "subject": mail.subject, "from": mail.sender, "to": list(mail.recipients), "message_id": mail.message_id,
            "signer": mail.signature.signer, "signer_emails": list(mail.signature.signer_emails),
            "signature_reason": mail.signature.reason, "encrypted": mail.encrypted, "mss_headers": mail.mss_headers,
            "request_receipt": mail.mdn_to is not None, "receipt_to": mail.mdn_to,
            "restrictions": _restrictions(gw, mail)}
        receipt, processed_now, keep = receipts.on_arrival(gw, mail)
        await u.tx.mssante.add_message(MssMessage(
            id=mss_id, org_id=org.id, conversation_id=conv.id, entry_id=e.id, direction=Direction.RECEIVED,
            mid_hash=mid_hash, message_id=None, author_id=None, state=DeliveryState.RECEIVED, attempts=0,
            next_attempt_at=None, lease_until=None, last_error=None,
            mime_sealed=key.seal(raw, receipts.original_aad(conv.id, mss_id)) if keep else None,
            meta_sealed=seal_json(key, "mss-meta", (conv.id, mss_id), meta),
            signature=mail.signature.status.value, disposition=None, disposition_at=None, created_at=now,
            sent_at=None, receipt=receipt))
        if processed_now:
            await receipts.queue(u, gw, org.id, box, key, conv.id, mail, raw,
                                 MdnDisposition(DispositionType.PROCESSED))
        await u.audit(org.id, "mssante.received", None, "message", e.id, conversation=str(conv.id),
                      signature=mail.signature.status.value, signature_reason=mail.signature.reason,
                      encrypted=mail.encrypted, attachments=len(documents),
                      receipt=receipt.value if receipt else None)
        payload = entry_payload(conv, key, e, None, {})
        await message_files.add_views(u.tx, key, conv.id, [(e, payload["message"])])
        received: MssMessageView = {**payload["message"], "mssante": {
            "direction": "received", "from": mail.sender, "signature": mail.signature.status.value}}
        payload["message"] = received
        u.publish(RealtimeEvent(org.id, conv.id, e.seq, event_payload(payload)))
    return IngestResult(InboundState.INTEGRATED, None, conv.id)


def _restrictions(gw: Gateway, mail: mime.InboundMail) -> list[str]:
    """The restriction codes of the mail's structured documents (INVISIBLE_PATIENT…), shown
    on the message so that nobody forwards it where it must not go."""
    codes: list[str] = []
    for a in mail.attachments:
        if a.filename.upper() == xdm.XDM_NAME.upper() or a.data.startswith(b"PK\x03\x04"):
            try:
                codes.extend(xdm.read_xdm(a.data, gw.xdm_limits).confidentiality)
            except InvalidInput:
                continue
        elif (facts := xdm.cda_facts(a.data)) is not None and facts.confidentiality:
            codes.append(facts.confidentiality)
    return [c for c in dict.fromkeys(codes) if c in xdm.RESTRICTIONS]


async def _add_peer(u: Unit, key: DataKey, org: Organisation, conv_id: uuid.UUID, sender: str) -> None:
    ex = await u.tx.mssante.exchange(org.id, conv_id)
    if ex is None:
        return
    peers = list(open_json(key, "mss-peers", (conv_id,), ex.peers_sealed))
    if sender not in peers and len(peers) < 20:
        await u.tx.mssante.set_peers(conv_id, seal_json(key, "mss-peers", (conv_id,), [*peers, sender]))


# --- quarantine, for the administrator ----------------------------------------------------

async def quarantined(services: Services, actor: Actor, include_released: bool = False) -> list[QuarantinedView]:
    require(actor, Permission.MANAGE_ORGANISATION)
    async with services.db.transaction() as tx:
        records = await tx.mssante.inbound(actor.org_id, None if include_released else InboundState.QUARANTINED, 200)
    return [{"id": str(r.id), "mailbox": r.mailbox, "state": r.state.value, "reason": r.reason,
             "received_at": r.received_at.isoformat(), "size": r.size}
            for r in records if r.state in (InboundState.QUARANTINED, InboundState.RELEASED)]


async def quarantined_mail(services: Services, actor: Actor, record_id: uuid.UUID) -> bytes:
    """The raw quarantined mail, for the administrator to examine (audited)."""
    require(actor, Permission.MANAGE_ORGANISATION)
    async with services.unit(actor.ip) as u:
        rec = await u.tx.mssante.inbound_raw(actor.org_id, record_id)
        if rec is None or rec.raw_sealed is None or rec.wrapped_key is None:
            raise NotFound("mss_quarantine_not_found")
        key = await services.unwrap_key(actor.org_id, rec.id, rec.wrapped_key)
        await u.audit(actor.org_id, "mssante.quarantine_read", actor.id, "inbound", rec.id)
        return key.open(rec.raw_sealed, envelope.aad("mss-quarantine", rec.id))


async def release(services: Services, actor: Actor, record_id: uuid.UUID) -> None:
    """The administrator has dealt with a quarantined mail: its sealed copy is destroyed."""
    require(actor, Permission.MANAGE_ORGANISATION)
    async with services.unit(actor.ip) as u:
        rec = await u.tx.mssante.inbound_raw(actor.org_id, record_id)
        if rec is None or rec.state is not InboundState.QUARANTINED:
            raise NotFound("mss_quarantine_not_found")
        await u.tx.mssante.resolve_inbound(actor.org_id, record_id, services.clock.now())
        await u.audit(actor.org_id, "mssante.quarantine_released", actor.id, "inbound", rec.id, reason=rec.reason)

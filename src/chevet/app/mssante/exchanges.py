"""External exchanges over MSSanté: open one, write to correspondents, read it with delivery,
receipts and signatures. Documents are ordinary attachments of the exchange: uploaded by a
member before sending, stored by the gateway on receipt, downloaded through the attachment
endpoints (each read of one is audited).

Sending is durable at once: the signed MIME message is built, sealed and queued in the same
transaction as the conversation entry, with a Message-ID fixed forever; the outbox worker
only ever re-sends those exact bytes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from chevet.app.access import conversation_access
from chevet.app.attachments import download
from chevet.app.attachments import upload as attachments
from chevet.app.messaging import message_files
from chevet.app.messaging.conversations import append_entry
from chevet.app.messaging.views import (
    MessageView,
    conversation_members_view,
    entry_payload,
    event_payload,
    message_view,
)
from chevet.app.mssante import receipts
from chevet.app.mssante.gateway import Gateway, Mailbox, keyed_hash, open_json, seal_json
from chevet.app.mssante.views import (
    ExchangeMessagesView,
    ExchangeView,
    MssDelivery,
    MssDocument,
    MssMessageView,
    PatientView,
)
from chevet.app.services import Actor, Services, Unit
from chevet.core import blind_index, envelope
from chevet.core.attachment import XDM
from chevet.core.conversation import ConversationKind, looks_like_national_id
from chevet.core.entities import Conversation, Membership, PersonStatus, RealtimeEvent
from chevet.core.envelope import DataKey
from chevet.core.errors import Forbidden, InvalidInput, NotFound, TooLarge
from chevet.core.ids import message_id as stable_entry_id
from chevet.core.ids import new_id
from chevet.core.message import EntryKind, MessageFlag, clean_body, clean_client_id
from chevet.core.mssante import mime, xdm, xds_codes, xds_metadata
from chevet.core.mssante import patient as patients
from chevet.core.mssante.address import clean_address, is_patient_address
from chevet.core.mssante.patient import PatientIdentity
from chevet.core.mssante.records import DeliveryState, Direction, Exchange, MssMessage
from chevet.core.roles import Permission, Role, can

MAX_RECIPIENTS = 20
MAX_ATTACHMENTS = 20
MAX_SUBJECT = 200
LOCAL_TIME = ZoneInfo("Europe/Paris")   # a birth date is checked against the day in France


@dataclass(frozen=True, slots=True)
class NewAttachment:
    filename: str
    content_type: str
    data: bytes


def _clean_subject(subject: str | None, fallback: str) -> str:
    value = " ".join((subject or "").split())[:MAX_SUBJECT]
    return value or fallback


def _clean_recipients(gw: Gateway, to: Sequence[str]) -> list[str]:
    if not to:
        raise InvalidInput("mss_recipient_required")
    if len(to) > MAX_RECIPIENTS:
        raise InvalidInput("mss_too_many_recipients", max=MAX_RECIPIENTS)
    return list(dict.fromkeys(clean_address(a, gw.required_suffix) for a in to))


def _pick_mailbox(gw: Gateway, actor: Actor, address: str | None) -> Mailbox:
    own = gw.of_org(actor.organisation.slug)
    if not own:
        raise InvalidInput("mss_not_configured")
    if address is None:
        return own[0]
    for m in own:
        if m.address == address.lower():
            return m
    raise NotFound("mss_mailbox_unknown")


async def member_ids(u: Unit, org_id: uuid.UUID, emails: Sequence[str]) -> list[uuid.UUID]:
    """The people of the organisation who read a mailbox (its configured e-mails), deactivated ones left out."""
    out = []
    for email in emails:
        p = await u.tx.people.by_email(email)
        if p is not None and p.org_id == org_id and p.status is not PersonStatus.DEACTIVATED:
            out.append(p.id)
    return out


async def create_exchange(u: Unit, org_id: uuid.UUID, mailbox: Mailbox, peers: list[str], title: str,
                          creator: uuid.UUID | None, member_ids: Sequence[uuid.UUID]) -> tuple[Conversation, DataKey]:
    """A new external conversation and its exchange record, inside the caller's transaction."""
    services = u.services
    now = services.clock.now()
    conv_id = new_id()
    key, wrapped = await services.new_wrapped_key(org_id, conv_id, u.tx)
    title = "" if looks_like_national_id(title) else " ".join(title.split())[:120]
    conv = Conversation(id=conv_id, org_id=org_id, kind=ConversationKind.EXTERNAL,
                        title_sealed=key.seal(title.encode(), envelope.aad("title", conv_id)) if title else None,
                        ref_sealed=None, team_id=None, created_by=creator, created_at=now, last_seq=0)
    await u.tx.conversations.add(conv, wrapped)
    conv, created = await append_entry(u, conv, key, kind=EntryKind.CREATED, author=creator)
    members = list(dict.fromkeys([*([creator] if creator else []), *member_ids]))
    for pid in members:
        await u.tx.conversations.add_member(Membership(conv.id, pid, is_owner=pid == creator, visible_from_seq=1,
                                                       read_seq=0, joined_at=now))
    await u.tx.mssante.add_exchange(
        Exchange(conv.id, org_id, mailbox.address, seal_json(key, "mss-peers", (conv.id,), peers), now),
        keyed_hash(services, "peer", org_id, peers[0]) if len(peers) == 1 else None)
    await u.audit(org_id, "mssante.exchange_opened", creator, "conversation", conv.id, members=len(members),
                  correspondents=len(peers))
    u.publish(RealtimeEvent(org_id, conv.id, created.seq, event_payload(entry_payload(conv, key, created, None, {})),
                            user_ids=tuple(members)))
    return conv, key


async def open_exchange(services: Services, gw: Gateway, actor: Actor, *, to: Sequence[str], title: str | None,
                        mailbox: str | None = None) -> ExchangeView:
    """A member opens an external exchange with MSSanté correspondents; the mailbox's team is in it."""
    if not can(actor.person.role, Permission.CREATE_CARE_CASE):
        raise Forbidden("forbidden")
    peers = _clean_recipients(gw, to)
    box = _pick_mailbox(gw, actor, mailbox)
    clean_title = " ".join((title or "").split())
    if len(clean_title) > 120:
        raise InvalidInput("title_too_long", max=120)
    if looks_like_national_id(clean_title):
        raise InvalidInput("national_id_refused")
    async with services.unit(actor.ip) as u:
        members = await member_ids(u, actor.org_id, box.member_emails)
        conv, key = await create_exchange(u, actor.org_id, box, peers, clean_title, actor.id, members)
        view = conversation_members_view(conv, key, [actor.id, *members], title=clean_title)
    return {**view, "mailbox": box.address, "correspondents": peers}


async def _exchange(services: Services, u: Unit, actor: Actor, conversation_id: uuid.UUID) -> tuple[
        Any, Exchange, list[str]]:
    a = await conversation_access(services, u.tx, actor, conversation_id)
    ex = await u.tx.mssante.exchange(actor.org_id, conversation_id)
    if ex is None:
        raise NotFound("mss_exchange_not_found")
    peers = open_json(a.key, "mss-peers", (conversation_id,), ex.peers_sealed)
    return a, ex, list(peers)


def _package(files: Sequence[NewAttachment], gw: Gateway, at: Any, peers: Sequence[str], *,
             patient: PatientIdentity | None = None, actor: Actor | None = None,
             sender: str = "") -> tuple[list[mime.Attachment], tuple[str, ...], bool | None]:
    """CDA documents travel in an IHE_XDM.zip (and set X-MSS-CODECDA / X-MSS-INS) with their
    XDS metadata: the exchange's ``patient`` (INS only when qualified), the sending member
    (``actor``) and mailbox (``sender``) as author where the CDA names none, the recipients as
    intended recipients. A ready-made IHE_XDM.zip is checked and its CDA facts read; other
    files go as they are. A document restricted for one of the recipients is refused:
    MASQUE_PS to a professional, INVISIBLE_PATIENT to a patient's Mon Espace Santé."""
    plain: list[mime.Attachment] = []
    cda_docs: list[xdm.XdmDocument] = []
    facts: list[xdm.CdaFacts] = []
    codes_seen: list[str] = []
    for a in files:
        if a.content_type == XDM.mime or a.filename.upper() == xdm.XDM_NAME.upper():
            package = xdm.read_xdm(a.data, gw.xdm_limits)
            facts.extend(package.cda)
            codes_seen.extend(package.confidentiality)
            plain.append(mime.Attachment(xdm.XDM_NAME, "application/zip", a.data))
        elif (f := xdm.cda_facts(a.data)) is not None:
            facts.append(f)
            conf = (f.confidentiality,) if f.confidentiality else ()
            codes_seen.extend(conf)
            cda_docs.append(xdm.XdmDocument(f"DOC{len(cda_docs) + 1:04d}.XML", "text/xml", a.data, conf))
        else:
            plain.append(mime.Attachment(a.filename, a.content_type, a.data))
    for peer in peers:
        if (code := xdm.refused_for(codes_seen, patient=is_patient_address(peer))) is not None:
            raise InvalidInput("mss_document_restricted", restriction=code)
    qualified = patient is not None and patient.qualified
    if cda_docs:
        box = next((m for m in gw.mailboxes if m.address == sender.lower()), None) if sender else None
        facility = xds_codes.facility(box.facility_type if box else None)
        context = xdm.XdsContext(
            author=_author(actor, sender, box.finess if box else None) if actor is not None else None,
            sender=sender, facility_type=facility or xds_codes.FACILITY_ELDERLY,
            practice_setting=xds_codes.practice_of(facility),
            # A patient's address is her INS: named only when her identity is qualified.
            recipients=tuple(p for p in peers if qualified or not is_patient_address(p)))
        package_bytes = xdm.build_xdm(cda_docs, submitted=at, patient=patient, context=context)
        plain.append(mime.Attachment(xdm.XDM_NAME, "application/zip", package_bytes))
    if not facts:
        return plain, (), None
    codes = tuple(dict.fromkeys(f.code for f in facts if f.code))
    # X-MSS-INS: O when a qualified INS travels: in a CDA, or in the metadata built here.
    return plain, codes, any(f.ins_qualified for f in facts) or (bool(cda_docs) and qualified)


def _author(actor: Actor, sender: str, finess: str | None) -> xdm.XdsAuthor:
    """The sending member as XDS author: her name (as one string: the directory of members does
    not split it), RPPS when known, her profession, her organisation (with the mailbox's FINESS
    when configured), the mailbox address."""
    specialty = {Role.NURSE: xds_codes.SPECIALTY_NURSE, Role.PHYSICIAN: xds_codes.SPECIALTY_PHYSICIAN}
    return xdm.XdsAuthor(family=actor.person.name, person_id=xds_metadata.rpps_id(actor.person.rpps),
                         institution=actor.organisation.name, institution_id=xds_metadata.finess_id(finess),
                         specialty=specialty.get(actor.person.role), telecom=sender or None)


async def _outgoing(services: Services, actor: Actor, conversation_id: uuid.UUID,
                    ids: Sequence[uuid.UUID]) -> list[NewAttachment]:
    """The files the author uploaded to this exchange (the ordinary upload: checked, scanned,
    sealed), read back from the blob store to travel in the mail."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    if len(wanted) > MAX_ATTACHMENTS:
        raise InvalidInput("mss_too_many_attachments", max=MAX_ATTACHMENTS)
    async with services.db.transaction() as tx:
        a = await conversation_access(services, tx, actor, conversation_id)
        found = {att.id: att for att in await tx.attachments.many(conversation_id, wanted)}
    files = []
    for att_id in wanted:
        att = found.get(att_id)
        if att is None or att.uploader_id != actor.id or att.entry_id is not None:
            raise InvalidInput("attachment_not_available")
        name = attachments.attachment_view(att, a.key)["name"]
        files.append(NewAttachment(name, att.mime, await download.contents(services, a.key, att)))
    return files


async def _already_sent(services: Services, actor: Actor, conversation_id: uuid.UUID,
                        entry_id: uuid.UUID) -> MessageView | None:
    async with services.db.transaction() as tx:
        a = await conversation_access(services, tx, actor, conversation_id)
        existing = await tx.entries.get(conversation_id, entry_id)
        if existing is None:
            return None
        view = message_view(existing, a.key, {actor.id: actor.person.name})
        await message_files.add_views(tx, a.key, conversation_id, [(existing, view)])
        return view


def recorded_patient(key: DataKey, records: Sequence[MssMessage]) -> PatientIdentity | None:
    """The patient the exchange is about: the identity its last sent message carried (kept
    sealed in that message's record, with the exchange's data key, and nowhere else)."""
    for m in reversed(records):
        if m.direction is not Direction.SENT:
            continue
        meta = open_json(key, "mss-meta", (m.conversation_id, m.id), m.meta_sealed)
        if isinstance(record := meta.get("patient_identity"), dict):
            return patients.identity_from_record(record)
    return None


PATIENT_FIELDS = ("birth_name", "first_given_name", "given_names", "used_name", "used_given_name", "birth_date",
                  "sex", "birth_place", "ins", "ins_oid", "status", "doubtful", "fictitious")
_CHOSEN = frozenset({"sex", "ins_oid", "status", "doubtful", "fictitious"})
_YES = frozenset({"1", "true", "on", "yes"})


def entered_patient(services: Services, fields: Mapping[str, str]) -> PatientIdentity | None:
    """The patient's identity as a member typed it (form or API fields named as in
    ``PATIENT_FIELDS``), checked; None when nothing was typed. ``InvalidInput`` names the
    first broken rule."""
    values = {k: str(fields.get(k) or "").strip()[:200] for k in PATIENT_FIELDS}
    if not any(v for k, v in values.items() if k not in _CHOSEN):   # lists alone always send a value
        return None
    try:
        born: date | None = date.fromisoformat(values["birth_date"])
    except ValueError:
        born = None
    return patients.clean_identity(
        birth_name=values["birth_name"], first_given_name=values["first_given_name"], birth_date=born,
        sex=values["sex"], status=values["status"], today=services.clock.now().astimezone(LOCAL_TIME).date(),
        ins=values["ins"], ins_oid=values["ins_oid"], given_names=values["given_names"],
        used_name=values["used_name"], used_given_name=values["used_given_name"], birth_place=values["birth_place"],
        doubtful=values["doubtful"].lower() in _YES, fictitious=values["fictitious"].lower() in _YES)


def _check_patients(peers: Sequence[str], patient: PatientIdentity | None) -> bool:
    """A patient's Mon Espace Santé mailbox is written to only with her qualified INS (RNIV:
    identité qualifiée) and at the address made of it. True when a patient is among the peers."""
    to_patient = [p for p in peers if is_patient_address(p)]
    for address in to_patient:
        patients.check_patient_recipient(patient, address)
    return bool(to_patient)


async def send(services: Services, gw: Gateway, actor: Actor, conversation_id: uuid.UUID, *, body: str,
               client_id: str, subject: str | None = None, attachment_ids: Sequence[uuid.UUID] = (),
               request_receipt: bool = False, patient: PatientIdentity | None = None,
               replies_blocked: bool = False) -> tuple[MessageView, bool]:
    """Write to the exchange's correspondents, with files the author uploaded to the exchange
    beforehand. Returns the message view and whether it was created now (the same
    ``client_id`` again returns the first one and sends nothing).

    ``patient``: the identity the message is about (the exchange's last one when None); it is
    required, qualified, to write to a patient's Mon Espace Santé address. ``replies_blocked``:
    the patient is not expected to answer (``X-MSS-MES: FIN``, only with a patient recipient)."""
    text = "" if attachment_ids and not body.strip() else clean_body(body, services.policy.max_message_bytes)
    entry_id = stable_entry_id(conversation_id, actor.id, clean_client_id(client_id))
    if (first := await _already_sent(services, actor, conversation_id, entry_id)) is not None:
        return first, False
    files = await _outgoing(services, actor, conversation_id, attachment_ids)
    if sum(len(f.data) for f in files) * 4 // 3 > gw.max_message_bytes:
        raise TooLarge("mss_message_too_large", max=gw.max_message_bytes)
    now = services.clock.now()
    async with services.unit(actor.ip) as u:
        a, ex, peers = await _exchange(services, u, actor, conversation_id)
        if (existing := await u.tx.entries.get(conversation_id, entry_id)) is not None:
            return message_view(existing, a.key, {actor.id: actor.person.name}), False
        claimed = await attachments.claim(u, actor, a, attachment_ids)
        box = gw.mailbox(ex.mailbox)
        previous = await u.tx.mssante.for_conversation(conversation_id)
        if patient is None:
            patient = recorded_patient(a.key, previous)
        to_patient = _check_patients(peers, patient)
        outgoing, codes, ins = _package(files, gw, now, peers, patient=patient, actor=actor, sender=box.address)
        thread = [open_json(a.key, "mss-meta", (conversation_id, m.id), m.meta_sealed).get("message_id")
                  for m in previous if m.direction is not Direction.RECEIPT]
        thread = [t for t in thread if t]
        mss_id = entry_id
        env = mime.Envelope(
            sender=box.address, sender_name=box.display_name, recipients=tuple(peers),
            subject=_clean_subject(subject, f"Message de {actor.organisation.name}"),
            message_id=f"{mss_id}@{box.domain}", date=now, nil=gw.nil,
            in_reply_to=thread[-1] if thread else None, references=tuple(thread[-10:]),
            request_mdn=request_receipt, cda_codes=codes, ins_qualified=ins,
            patient_replies_blocked=replies_blocked and to_patient)
        certs = [gw.recipient_certs[p] for p in peers if p in gw.recipient_certs]
        raw = mime.assemble(env, mime.build_content(text, outgoing), box.identity,
                            certs if len(certs) == len(peers) else None)
        if len(raw) > gw.max_message_bytes:
            raise TooLarge("mss_message_too_large", max=gw.max_message_bytes)
        seq = await u.tx.conversations.next_seq(conversation_id, now)
        conv, e = await append_entry(u, a.conversation, a.key, kind=EntryKind.MESSAGE, author=actor.id,
                                     entry_id=entry_id, body=text, terms=blind_index.terms(a.key.search_key, text),
                                     flags=MessageFlag.ATTACHMENTS if claimed else MessageFlag.NONE, seq=seq)
        await attachments.attach(u, a, claimed, e.id)
        meta = {"subject": env.subject, "from": box.address, "to": peers, "message_id": env.message_id,
                "request_receipt": request_receipt, "encrypted": bool(certs) and len(certs) == len(peers),
                "patient": to_patient, "replies_blocked": replies_blocked and to_patient}
        if patient is not None:
            meta["patient_identity"] = patients.identity_record(patient)
        await u.tx.mssante.add_message(MssMessage(
            id=mss_id, org_id=actor.org_id, conversation_id=conversation_id, entry_id=e.id,
            direction=Direction.SENT, mid_hash=keyed_hash(services, "mid", actor.org_id, env.message_id),
            message_id=env.message_id, author_id=actor.id, state=DeliveryState.PENDING, attempts=0,
            next_attempt_at=now, lease_until=None, last_error=None,
            mime_sealed=a.key.seal(raw, envelope.aad("mss-mime", conversation_id, mss_id)),
            meta_sealed=seal_json(a.key, "mss-meta", (conversation_id, mss_id), meta),
            signature="signed" if box.identity else "unsigned", disposition=None, disposition_at=None,
            created_at=now, sent_at=None))
        await u.audit(actor.org_id, "mssante.message_queued", actor.id, "message", e.id,
                      conversation=str(conversation_id), recipients=len(peers), attachments=len(claimed),
                      receipt=request_receipt, **({"patient_status": patient.status.value} if patient else {}))
        payload = entry_payload(conv, a.key, e, None, {actor.id: actor.person.name})
        await message_files.add_views(u.tx, a.key, conv.id, [(e, payload["message"])])
        view: MssMessageView = {**payload["message"],
                                "mssante": {"direction": "sent", "state": DeliveryState.PENDING.value}}
        payload["message"] = view
        u.publish(RealtimeEvent(conv.org_id, conv.id, e.seq, event_payload(payload)))
        return view, True


def _mss_view(key: DataKey, m: MssMessage, attachment_views: list[MssDocument]) -> MssDelivery:
    meta = open_json(key, "mss-meta", (m.conversation_id, m.id), m.meta_sealed)
    direction = {Direction.SENT: "sent", Direction.RECEIVED: "received", Direction.RECEIPT: "receipt"}[m.direction]
    return {"id": str(m.id), "direction": direction, "state": m.state.value, "subject": meta.get("subject"),
            "from": meta.get("from"), "to": meta.get("to"), "attempts": m.attempts,
            "error": m.last_error if m.state is DeliveryState.DEAD or m.attempts else None,
            "signature": m.signature, "signer": meta.get("signer"), "signature_reason": meta.get("signature_reason"),
            "signer_emails": meta.get("signer_emails", []),
            "encrypted": meta.get("encrypted", False),
            "receipt_requested": meta.get("request_receipt", False), "restrictions": meta.get("restrictions", []),
            "disposition": m.disposition.value if m.disposition else None,
            "disposition_at": m.disposition_at.isoformat() if m.disposition_at else None,
            "sent_at": m.sent_at.isoformat() if m.sent_at else None, "attachments": attachment_views}


async def exchange_messages(services: Services, actor: Actor, conversation_id: uuid.UUID,
                            gw: Gateway | None = None) -> ExchangeMessagesView:
    """The exchange as its members see it: each message with what MSSanté says about it and
    its documents (attachments, downloaded through the attachment endpoints). Opening it
    sends the "displayed" receipts still owed (``gw``: the gateway, when configured)."""
    async with services.unit(actor.ip) as u:
        a, ex, peers = await _exchange(services, u, actor, conversation_id)
        records = [m for m in await u.tx.mssante.for_conversation(conversation_id)
                   if m.direction is not Direction.RECEIPT]
        ids = [m.entry_id for m in records if m.entry_id]
        entries = {e.id: e for e in await u.tx.entries.many(conversation_id, ids)} if ids else {}
        shown = [(entries[m.entry_id], m) for m in records  # (entry, record) the member may see
                 if m.entry_id in entries and entries[m.entry_id].seq >= a.membership.visible_from_seq]
        await receipts.displayed_on_open(u, gw, actor, a.key, [m for _, m in shown])
        names = {p.id: p.name for p in await u.tx.people.many(actor.org_id, [m.author_id for m in records
                                                                               if m.author_id])}
        pairs = [(e, m, message_view(e, a.key, names)) for e, m in shown]
        await message_files.add_views(u.tx, a.key, conversation_id, [(e, view) for e, _, view in pairs])
        messages: list[MssMessageView] = []
        for _, m, view in pairs:
            docs: list[MssDocument] = [{"id": d["id"], "name": d["name"], "content_type": d["mime"], "size": d["size"]}
                                       for d in view.get("attachments", [])]
            mss = _mss_view(a.key, m, docs)
            if (asked := receipts.question(a.key, m)) is not None:
                mss["receipt_question"] = True
                mss["receipt_to"] = asked["receipt_to"]
            messages.append({**view, "mssante": mss})
        await u.audit(actor.org_id, "mssante.exchange_read", actor.id, "conversation", conversation_id,
                      count=len(messages))
        result: ExchangeMessagesView = {"conversation_id": str(conversation_id), "mailbox": ex.mailbox,
                                        "correspondents": peers, "messages": messages,
                                        "to_patient": any(is_patient_address(p) for p in peers)}
        if (identity := recorded_patient(a.key, records)) is not None:
            result["patient"] = patient_view(identity)
        return result


def patient_view(identity: PatientIdentity) -> PatientView:
    """The exchange's patient as its members see it (and the composer is filled with)."""
    r = patients.identity_record(identity)
    return {"birth_name": r["birth_name"], "first_given_name": r["first_given_name"], "birth_date": r["birth_date"],
            "sex": r["sex"], "status": r["status"], "given_names": r["given_names"], "used_name": r["used_name"],
            "used_given_name": r["used_given_name"], "birth_place": r["birth_place"], "ins": r["ins"],
            "ins_oid": r["ins_oid"], "doubtful": identity.doubtful, "fictitious": identity.fictitious,
            "qualified": identity.qualified}


async def answer_receipt(services: Services, gw: Gateway, actor: Actor, conversation_id: uuid.UUID,
                         mss_id: uuid.UUID, send: bool) -> None:
    """A member decides about a receipt requested to another address than the sender's."""
    async with services.unit(actor.ip) as u:
        a, _, _ = await _exchange(services, u, actor, conversation_id)
        m = await u.tx.mssante.message(actor.org_id, mss_id)
        if m is None or m.conversation_id != conversation_id:
            raise NotFound("message_not_found")
        await receipts.answer(u, gw, actor, a.key, m, send)


async def retry_dead(services: Services, actor: Actor, conversation_id: uuid.UUID, mss_id: uuid.UUID) -> None:
    """The author (or a manager) sends a dead-lettered message again, same bytes, same Message-ID."""
    async with services.unit(actor.ip) as u:
        await _exchange(services, u, actor, conversation_id)
        m = await u.tx.mssante.message(actor.org_id, mss_id)
        if m is None or m.conversation_id != conversation_id or m.direction is not Direction.SENT:
            raise NotFound("message_not_found")
        if m.author_id != actor.id and not can(actor.person.role, Permission.MANAGE_ANY_CONVERSATION):
            raise Forbidden("not_your_message")
        if m.state is not DeliveryState.DEAD:
            raise InvalidInput("mss_not_dead")
        await u.tx.mssante.requeue(m.id, services.clock.now())
        await u.audit(actor.org_id, "mssante.message_requeued", actor.id, "message", m.entry_id,
                      conversation=str(conversation_id))

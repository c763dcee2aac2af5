"""Storage of the MSSanté gateway: exchanges, the durable outbox, received mail, quarantine."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite as lite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema import entry
from chevet.adapters.db.schema_mssante import (
    mss_attachment,
    mss_cursor,
    mss_exchange,
    mss_inbound,
    mss_message,
    mss_psc_link,
    mss_receipt_outbox,
)
from chevet.core.message import MessageFlag
from chevet.core.mssante.psc_link import LinkState, PscLink
from chevet.core.mssante.records import (
    DeliveryState,
    Direction,
    Disposition,
    Exchange,
    InboundRecord,
    InboundState,
    MssMessage,
    QueuedReceipt,
    ReceiptState,
    StoredAttachment,
)


def _message(r: Row[Any]) -> MssMessage:
    return MssMessage(
        id=r.id, org_id=r.org_id, conversation_id=r.conversation_id, entry_id=r.entry_id,
        direction=Direction(r.direction), mid_hash=bytes(r.mid_hash), message_id=r.message_id,
        author_id=r.author_id, state=DeliveryState(r.state), attempts=r.attempts, next_attempt_at=r.next_attempt_at,
        lease_until=r.lease_until, last_error=r.last_error,
        mime_sealed=bytes(r.mime_sealed) if r.mime_sealed is not None else None, meta_sealed=bytes(r.meta_sealed),
        signature=r.signature, disposition=Disposition(r.disposition) if r.disposition else None,
        disposition_at=r.disposition_at, created_at=r.created_at, sent_at=r.sent_at,
        receipt=ReceiptState(r.receipt) if r.receipt else None)


class SqlMssante:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    def _insert(self, table: Table) -> pg.Insert | lite.Insert:
        """An INSERT that can say ON CONFLICT, in this connection's dialect."""
        return pg.insert(table) if self.conn.dialect.name == "postgresql" else lite.insert(table)

    # --- exchanges ------------------------------------------------------------------------
    async def add_exchange(self, exchange: Exchange, peer_hash: bytes | None) -> None:
        await self.conn.execute(insert(mss_exchange).values(**asdict(exchange), peer_hash=peer_hash))

    async def exchange(self, org_id: uuid.UUID, conversation_id: uuid.UUID) -> Exchange | None:
        r = (await self.conn.execute(select(mss_exchange).where(mss_exchange.c.org_id == org_id,
                                                                mss_exchange.c.conversation_id == conversation_id))
             ).first()
        return Exchange(r.conversation_id, r.org_id, r.mailbox, bytes(r.peers_sealed), r.created_at) if r else None

    async def exchange_for_peer(self, org_id: uuid.UUID, mailbox: str, peer_hash: bytes) -> uuid.UUID | None:
        r = (await self.conn.execute(select(mss_exchange.c.conversation_id).where(
            mss_exchange.c.org_id == org_id, mss_exchange.c.mailbox == mailbox,
            mss_exchange.c.peer_hash == peer_hash).order_by(mss_exchange.c.created_at.desc()).limit(1))).first()
        return r[0] if r else None

    async def set_peers(self, conversation_id: uuid.UUID, peers_sealed: bytes) -> None:
        await self.conn.execute(update(mss_exchange).where(mss_exchange.c.conversation_id == conversation_id)
                                .values(peers_sealed=peers_sealed))

    # --- messages -------------------------------------------------------------------------
    async def add_message(self, m: MssMessage) -> None:
        values = asdict(m)
        values["direction"] = int(m.direction)
        values["state"] = m.state.value
        values["disposition"] = m.disposition.value if m.disposition else None
        values["receipt"] = m.receipt.value if m.receipt else None
        await self.conn.execute(insert(mss_message).values(**values))

    async def message(self, org_id: uuid.UUID, message_id: uuid.UUID) -> MssMessage | None:
        r = (await self.conn.execute(select(mss_message).where(mss_message.c.org_id == org_id,
                                                               mss_message.c.id == message_id))).first()
        return _message(r) if r else None

    async def by_entry(self, conversation_id: uuid.UUID, entry_id: uuid.UUID) -> MssMessage | None:
        r = (await self.conn.execute(select(mss_message).where(mss_message.c.conversation_id == conversation_id,
                                                               mss_message.c.entry_id == entry_id))).first()
        return _message(r) if r else None

    async def by_mid_hash(self, org_id: uuid.UUID, mid_hashes: Sequence[bytes]) -> list[MssMessage]:
        if not mid_hashes:
            return []
        rows = await self.conn.execute(select(mss_message).where(mss_message.c.org_id == org_id,
                                                                 mss_message.c.mid_hash.in_(list(mid_hashes))))
        return [_message(r) for r in rows]

    async def for_conversation(self, conversation_id: uuid.UUID) -> list[MssMessage]:
        rows = await self.conn.execute(select(mss_message).where(mss_message.c.conversation_id == conversation_id)
                                       .order_by(mss_message.c.created_at))
        return [_message(r) for r in rows]

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[MssMessage]:
        """Take up to ``limit`` messages due for an attempt, including those whose previous
        worker died (lease expired), and lease them to the caller."""
        due = or_(and_(mss_message.c.state == DeliveryState.PENDING.value, mss_message.c.next_attempt_at <= now),
                  and_(mss_message.c.state == DeliveryState.SENDING.value, mss_message.c.lease_until <= now))
        q = select(mss_message).where(due).order_by(mss_message.c.next_attempt_at).limit(limit)
        if self.conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = [_message(r) for r in await self.conn.execute(q)]
        for m in rows:
            await self.conn.execute(update(mss_message).where(mss_message.c.id == m.id).values(
                state=DeliveryState.SENDING.value, lease_until=lease_until, attempts=m.attempts + 1))
        return rows

    async def mark_sent(self, message_id: uuid.UUID, at: datetime) -> None:
        await self.conn.execute(update(mss_message).where(mss_message.c.id == message_id).values(
            state=DeliveryState.SENT.value, sent_at=at, lease_until=None, last_error=None))

    async def mark_retry(self, message_id: uuid.UUID, next_at: datetime, error: str) -> None:
        await self.conn.execute(update(mss_message).where(mss_message.c.id == message_id).values(
            state=DeliveryState.PENDING.value, next_attempt_at=next_at, lease_until=None, last_error=error[:300]))

    async def mark_dead(self, message_id: uuid.UUID, error: str) -> None:
        await self.conn.execute(update(mss_message).where(mss_message.c.id == message_id).values(
            state=DeliveryState.DEAD.value, lease_until=None, last_error=error[:300]))

    async def set_disposition(self, message_id: uuid.UUID, disposition: Disposition, at: datetime) -> None:
        await self.conn.execute(update(mss_message).where(mss_message.c.id == message_id).values(
            disposition=disposition.value, disposition_at=at))

    async def set_receipt(self, message_id: uuid.UUID, state: ReceiptState) -> None:
        """A received message's receipt decision; once final, the original kept for it goes."""
        values: dict[str, Any] = {"receipt": state.value}
        if state not in (ReceiptState.QUEUED, ReceiptState.ASK):
            values["mime_sealed"] = None
        await self.conn.execute(update(mss_message).where(mss_message.c.id == message_id,
                                                          mss_message.c.direction == int(Direction.RECEIVED))
                                .values(**values))

    async def requeue(self, message_id: uuid.UUID, at: datetime) -> None:
        await self.conn.execute(update(mss_message).where(mss_message.c.id == message_id).values(
            state=DeliveryState.PENDING.value, next_attempt_at=at, attempts=0, lease_until=None))

    # --- documents stored before they became attachments -----------------------------------
    async def legacy_documents(self, limit: int) -> list[StoredAttachment]:
        """Documents still in the gateway's former table (all organisations), oldest first."""
        rows = await self.conn.execute(select(mss_attachment).order_by(mss_attachment.c.id).limit(limit))
        return [StoredAttachment(r.id, r.org_id, r.conversation_id, r.message_id, r.content_type, r.size,
                                 bytes(r.name_sealed), bytes(r.data_sealed)) for r in rows]

    async def forget_legacy_document(self, document_id: uuid.UUID) -> None:
        await self.conn.execute(delete(mss_attachment).where(mss_attachment.c.id == document_id))

    async def flag_attachments(self, conversation_id: uuid.UUID, entry_id: uuid.UUID) -> None:
        """Mark a message as carrying attachments (a document moved to the attachment store)."""
        await self.conn.execute(update(entry).where(entry.c.conversation_id == conversation_id, entry.c.id == entry_id)
                                .values(flags=entry.c.flags.op("|")(int(MessageFlag.ATTACHMENTS))))

    # --- received mail --------------------------------------------------------------------
    async def seen(self, org_id: uuid.UUID, mailbox: str, mid_hash: bytes) -> bool:
        r = (await self.conn.execute(select(mss_inbound.c.id).where(
            mss_inbound.c.org_id == org_id, mss_inbound.c.mailbox == mailbox,
            mss_inbound.c.mid_hash == mid_hash).limit(1))).first()
        return r is not None

    async def add_inbound(self, rec: InboundRecord) -> bool:
        """Record a received mail; False (nothing written) when this mailbox already has it.

        The unique index on (org_id, mailbox, mid_hash) decides between two workers that
        fetched the same mail: on PostgreSQL the second insert waits for the first
        transaction and then does nothing; SQLite serialises writers (BEGIN IMMEDIATE)."""
        values = asdict(rec)
        values["state"] = rec.state.value
        done = await self.conn.execute(self._insert(mss_inbound).values(**values).on_conflict_do_nothing(
            index_elements=["org_id", "mailbox", "mid_hash"]))
        return bool(done.rowcount == 1)

    async def inbound(self, org_id: uuid.UUID, state: InboundState | None, limit: int) -> list[InboundRecord]:
        q = select(*[c for c in mss_inbound.c if c.name not in ("raw_sealed", "wrapped_key")]).where(
            mss_inbound.c.org_id == org_id)
        if state is not None:
            q = q.where(mss_inbound.c.state == state.value)
        rows = await self.conn.execute(q.order_by(mss_inbound.c.received_at.desc()).limit(limit))
        return [InboundRecord(r.id, r.org_id, r.mailbox, bytes(r.mid_hash), InboundState(r.state), r.reason,
                              r.received_at, r.size) for r in rows]

    async def inbound_raw(self, org_id: uuid.UUID, record_id: uuid.UUID) -> InboundRecord | None:
        r = (await self.conn.execute(select(mss_inbound).where(mss_inbound.c.org_id == org_id,
                                                               mss_inbound.c.id == record_id))).first()
        if r is None:
            return None
        return InboundRecord(r.id, r.org_id, r.mailbox, bytes(r.mid_hash), InboundState(r.state), r.reason,
                             r.received_at, r.size, bytes(r.raw_sealed) if r.raw_sealed else None,
                             bytes(r.wrapped_key) if r.wrapped_key else None)

    async def resolve_inbound(self, org_id: uuid.UUID, record_id: uuid.UUID, at: datetime) -> None:
        await self.conn.execute(update(mss_inbound).where(mss_inbound.c.org_id == org_id,
                                                          mss_inbound.c.id == record_id).values(
            state=InboundState.RELEASED.value, resolved_at=at, raw_sealed=None, wrapped_key=None))

    # --- IMAP cursors ---------------------------------------------------------------------
    async def cursor(self, mailbox: str) -> tuple[int, int] | None:
        r = (await self.conn.execute(select(mss_cursor).where(mss_cursor.c.mailbox == mailbox))).first()
        return (int(r.uid_validity), int(r.last_uid)) if r else None

    async def set_cursor(self, mailbox: str, uid_validity: int, last_uid: int) -> None:
        """Move a mailbox's cursor forward (or to a new UIDVALIDITY); two workers reading the
        same mailbox never move it back, nor fail creating it at the same time."""
        stmt = self._insert(mss_cursor).values(mailbox=mailbox, uid_validity=uid_validity, last_uid=last_uid)
        await self.conn.execute(stmt.on_conflict_do_update(
            index_elements=["mailbox"], set_={"uid_validity": stmt.excluded.uid_validity,
                                              "last_uid": stmt.excluded.last_uid},
            where=or_(mss_cursor.c.uid_validity != stmt.excluded.uid_validity,
                      mss_cursor.c.last_uid < stmt.excluded.last_uid)))

    # --- mailboxes linked through Pro Santé Connect ----------------------------------------
    async def psc_link(self, org_id: uuid.UUID, mailbox: str) -> PscLink | None:
        r = (await self.conn.execute(select(mss_psc_link).where(mss_psc_link.c.org_id == org_id,
                                                                mss_psc_link.c.mailbox == mailbox))).first()
        if r is None:
            return None
        return PscLink(r.org_id, r.mailbox, r.person_id, r.kind, bytes(r.refresh_sealed), r.refresh_expires_at,
                       LinkState(r.state), r.linked_at, r.refreshed_at)

    async def save_psc_link(self, link: PscLink) -> None:
        values = {**asdict(link), "state": link.state.value}
        await self.conn.execute(delete(mss_psc_link).where(mss_psc_link.c.org_id == link.org_id,
                                                           mss_psc_link.c.mailbox == link.mailbox))
        await self.conn.execute(insert(mss_psc_link).values(**values))

    async def update_psc_refresh(self, org_id: uuid.UUID, mailbox: str, expected: bytes, sealed: bytes,
                                 expires_at: datetime | None, at: datetime) -> bool:
        """Replace the refresh token only if it is still ``expected`` (another process may have
        rotated it meanwhile); returns whether it was replaced."""
        done = await self.conn.execute(update(mss_psc_link).where(
            mss_psc_link.c.org_id == org_id, mss_psc_link.c.mailbox == mailbox,
            mss_psc_link.c.refresh_sealed == expected).values(refresh_sealed=sealed, refresh_expires_at=expires_at,
                                                              refreshed_at=at, state=LinkState.ACTIVE.value))
        return bool(done.rowcount)

    async def set_psc_state(self, org_id: uuid.UUID, mailbox: str, state: LinkState) -> None:
        await self.conn.execute(update(mss_psc_link).where(mss_psc_link.c.org_id == org_id,
                                                           mss_psc_link.c.mailbox == mailbox)
                                .values(state=state.value))

    async def delete_psc_link(self, org_id: uuid.UUID, mailbox: str) -> bool:
        done = await self.conn.execute(delete(mss_psc_link).where(mss_psc_link.c.org_id == org_id,
                                                                  mss_psc_link.c.mailbox == mailbox))
        return bool(done.rowcount)

    # --- error receipts of mail quarantined before any exchange existed ---

    async def add_queued_receipt(self, r: QueuedReceipt) -> None:
        values = asdict(r)
        values["state"] = r.state.value
        await self.conn.execute(insert(mss_receipt_outbox).values(**values))

    async def claim_queued_receipts(self, now: datetime, lease_until: datetime, limit: int) -> list[QueuedReceipt]:
        """Like ``claim_due``: the due receipts (and those whose worker died), leased to the caller."""
        t = mss_receipt_outbox
        due = or_(and_(t.c.state == DeliveryState.PENDING.value, t.c.next_attempt_at <= now),
                  and_(t.c.state == DeliveryState.SENDING.value, t.c.lease_until <= now))
        q = select(t).where(due).order_by(t.c.next_attempt_at).limit(limit)
        if self.conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = []
        for r in await self.conn.execute(q):
            values = dict(r._mapping)
            values["state"] = DeliveryState(values["state"])
            rows.append(QueuedReceipt(**values))
        for q_r in rows:
            await self.conn.execute(update(t).where(t.c.id == q_r.id).values(
                state=DeliveryState.SENDING.value, lease_until=lease_until, attempts=q_r.attempts + 1))
        return rows

    async def retry_queued_receipt(self, receipt_id: uuid.UUID, next_at: datetime, error: str) -> None:
        await self.conn.execute(update(mss_receipt_outbox).where(mss_receipt_outbox.c.id == receipt_id).values(
            state=DeliveryState.PENDING.value, next_attempt_at=next_at, lease_until=None, last_error=error[:300]))

    async def forget_queued_receipt(self, receipt_id: uuid.UUID) -> None:
        """Sent or given up: the row, and the original mail sealed in it, go."""
        await self.conn.execute(delete(mss_receipt_outbox).where(mss_receipt_outbox.c.id == receipt_id))

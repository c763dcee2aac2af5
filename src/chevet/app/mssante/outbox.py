"""The durable outbox: hand queued messages to the operator, retry, dead-letter.

Guarantee. A message is queued (sealed MIME bytes, fixed Message-ID) in the transaction that
acknowledges it to its author: it cannot be lost. A worker leases due messages in a committed
transaction *before* talking to the operator, and marks them sent in another one *after* the
operator accepted them. If the process dies between those two, the lease expires and the same
bytes, with the same Message-ID, are submitted again: delivery is at least once, and the only
window where a second copy can exist is the instant between the operator's "250" and our
commit. Receivers that de-duplicate by Message-ID (Chevet does, on every inbound mailbox) show
it once. No state of the worker is kept in memory between attempts.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from chevet.app.mssante.gateway import Gateway, open_json
from chevet.app.services import Services
from chevet.core import envelope
from chevet.core.entities import RealtimeEvent
from chevet.core.mssante.delivery import MailError, PermanentMailError
from chevet.core.mssante.records import DeliveryState, Direction, MssMessage
from chevet.ports import MailSubmitter

log = logging.getLogger("chevet.mssante.outbox")


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0


async def _recipients_and_mime(services: Services, m: MssMessage) -> tuple[str, list[str], bytes] | None:
    async with services.db.transaction() as tx:
        wrapped = await tx.conversations.wrapped_key(m.conversation_id)
        ex = await tx.mssante.exchange(m.org_id, m.conversation_id)
    if wrapped is None or ex is None or m.mime_sealed is None:
        return None   # the conversation was erased (crypto-shredded): nothing left to send
    key = await services.unwrap_key(m.org_id, m.conversation_id, wrapped)
    meta = open_json(key, "mss-meta", (m.conversation_id, m.id), m.meta_sealed)
    raw = key.open(m.mime_sealed, envelope.aad("mss-mime", m.conversation_id, m.id))
    return str(meta.get("from") or ex.mailbox), list(meta["to"]), raw


async def deliver_due(services: Services, gw: Gateway, submitter_for: Callable[[str], MailSubmitter],
                      limit: int = 5) -> DeliveryReport:
    """One pass over the due messages. Safe to run in several processes at once (leases); a
    small batch keeps the time spent on it well under one lease, even with a hung operator."""
    report = DeliveryReport()
    now = services.clock.now()
    async with services.db.transaction() as tx:
        claimed = await tx.mssante.claim_due(now, now + gw.retry.lease, limit)
    for m in claimed:
        prepared = await _recipients_and_mime(services, m)
        if prepared is None:
            async with services.db.transaction() as tx:
                await tx.mssante.mark_dead(m.id, "conversation_erased")
            report.dead += 1
            continue
        sender, recipients, raw = prepared
        try:
            await submitter_for(sender).submit(sender, recipients, raw, envelope_id=m.id.hex)
        except MailError as exc:
            attempts = m.attempts + 1
            permanent = isinstance(exc, PermanentMailError) or gw.retry.gives_up(m.created_at, services.clock.now())
            log.warning("mssante submission failed", extra={"mss_message": str(m.id), "code": exc.code,
                                                            "attempts": attempts, "permanent": permanent})
            await _failed(services, gw, m, str(exc), permanent, attempts)
            if permanent:
                report.dead += 1
            else:
                report.retried += 1
            continue
        async with services.unit() as u:
            await u.tx.mssante.mark_sent(m.id, services.clock.now())
            await u.audit(m.org_id, "mssante.message_sent", None, "message", m.entry_id or m.id,
                          conversation=str(m.conversation_id), attempts=m.attempts + 1,
                          receipt=m.direction is Direction.RECEIPT)
            u.publish(_state_event(m, DeliveryState.SENT, None))
        report.sent += 1
    return report


def _state_event(m: MssMessage, state: DeliveryState, error: str | None,
                 user_ids: tuple[uuid.UUID, ...] = ()) -> RealtimeEvent:
    return RealtimeEvent(m.org_id, m.conversation_id, None,
                         {"type": "mssante.delivery", "conversation_id": str(m.conversation_id),
                          "message_id": str(m.entry_id or m.id), "state": state.value, "error": error},
                         user_ids=user_ids, private=bool(user_ids))


async def _failed(services: Services, gw: Gateway, m: MssMessage, error: str, permanent: bool, attempts: int) -> None:
    if permanent:
        await mark_failed(services, m, error, attempts=attempts)
        return
    async with services.unit() as u:
        await u.tx.mssante.mark_retry(m.id, services.clock.now() + gw.retry.delay(attempts), error)


async def mark_failed(services: Services, m: MssMessage, error: str, *, attempts: int | None = None,
                      how: str = "submission") -> None:
    """A message that will not arrive (refused by the operator, out of attempts, or bounced
    later with a DSN): shown as failed with its reason, and its author told directly."""
    async with services.unit() as u:
        await u.tx.mssante.mark_dead(m.id, error)
        await u.audit(m.org_id, "mssante.message_dead", None, "message", m.entry_id or m.id,
                      conversation=str(m.conversation_id), attempts=attempts if attempts is not None else m.attempts,
                      error=error[:100], how=how)
        u.publish(_state_event(m, DeliveryState.DEAD, error))
        if m.author_id is not None:
            # The author is told directly, wherever they are in the application.
            u.publish(RealtimeEvent(m.org_id, m.conversation_id, None,
                                    {"type": "mssante.delivery_failed", "conversation_id": str(m.conversation_id),
                                     "message_id": str(m.entry_id or m.id), "error": error},
                                    user_ids=(m.author_id,), private=True))

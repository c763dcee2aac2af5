"""The durable outbox of the installation's own transactional mail (today the invitation link;
any mail to a person that must not wait on the relay inside a request can use it).

A mail is queued in the transaction of the action that wants it (``queue``): when that action
commits, the mail will be tried, and never before. The whole message is sealed with the
credentials key under the mail's id: an invitation link is a secret, and the row keeps it only
sealed. A worker (``deliver_due``, run by ``chevet serve``'s job ``jobs/mail.py``) leases due
mails in a committed transaction, submits them to the relay, then marks them sent, or due again
after an exponential backoff, or dead after ``MailRetry.max_attempts`` attempts (or at once when
the relay refuses the mail for good). Leases make it safe in several processes at once: each
mail is held by one worker; if that worker dies, its lease expires and another tries again
(at least once, never lost). Logs and the audit trail carry codes, never an address or a link.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from chevet.app.services import Services, Unit
from chevet.core import envelope
from chevet.core.ids import new_id
from chevet.core.mail_outbox import MailState, OutgoingMail
from chevet.core.mssante.delivery import MailError, PermanentMailError

log = logging.getLogger("chevet.app.mail")


def _aad(mail_id: uuid.UUID) -> bytes:
    return envelope.aad("mail", mail_id)


async def queue(u: Unit, org_id: uuid.UUID, kind: str, subject_id: uuid.UUID, recipient: str,
                message: bytes) -> bool:
    """Queue one mail in the caller's transaction; False (nothing queued) without a relay."""
    if u.services.mail_relay is None:
        return False
    mail_id, now = new_id(), u.services.clock.now()
    sealed = envelope.seal(u.services.credential_key(), message, _aad(mail_id))
    await u.tx.mail_outbox.add(OutgoingMail(id=mail_id, org_id=org_id, kind=kind, subject_id=subject_id,
                                            recipient=recipient, message_sealed=sealed, state=MailState.PENDING,
                                            attempts=0, next_attempt_at=now, created_at=now))
    return True


@dataclass
class MailReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0


def _open(services: Services, mail: OutgoingMail) -> bytes:
    from chevet.app.identity.people import open_credential  # people builds on this module

    return open_credential(services, mail.message_sealed, _aad(mail.id))


async def deliver_due(services: Services, limit: int = 5) -> MailReport:
    """One pass over the mails due now. Safe in several processes at once (leases)."""
    report = MailReport()
    relay = services.mail_relay
    if relay is None:
        return report
    now = services.clock.now()
    async with services.db.transaction() as tx:
        claimed = await tx.mail_outbox.claim_due(now, now + relay.retry.lease, limit)
    for mail in claimed:
        attempts = mail.attempts + 1
        try:
            await relay.submitter.submit(relay.sender, [mail.recipient], _open(services, mail))
        except MailError as exc:
            dead = isinstance(exc, PermanentMailError) or relay.retry.gives_up(attempts)
            log.warning("transactional mail not sent", extra={"kind": mail.kind, "code": exc.code,
                                                              "attempts": attempts, "dead": dead})
            async with services.unit() as u:
                if dead:
                    await u.tx.mail_outbox.mark_dead(mail.id, attempts, exc.code)
                    await u.audit(mail.org_id, f"{mail.kind}.mail_failed", None, "person", mail.subject_id,
                                  code=exc.code, attempts=attempts)
                else:
                    await u.tx.mail_outbox.mark_retry(mail.id, services.clock.now() + relay.retry.delay(attempts),
                                                      attempts, exc.code)
            if dead:
                report.dead += 1
            else:
                report.retried += 1
            continue
        async with services.unit() as u:
            await u.tx.mail_outbox.mark_sent(mail.id, services.clock.now(), attempts)
            await u.audit(mail.org_id, f"{mail.kind}.mailed", None, "person", mail.subject_id, attempts=attempts)
        report.sent += 1
    return report


async def deliver_all_due(services: Services) -> MailReport:
    """Batches until nothing is due now (a backlog after a relay outage drains at once)."""
    total = MailReport()
    for _ in range(200):
        r = await deliver_due(services)
        total.sent, total.retried, total.dead = total.sent + r.sent, total.retried + r.retried, total.dead + r.dead
        if r.sent + r.retried + r.dead < 5:
            break
    return total


async def states(services: Services, org_id: uuid.UUID, kind: str,
                 subject_ids: list[uuid.UUID]) -> dict[uuid.UUID, MailState]:
    async with services.db.transaction() as tx:
        return await tx.mail_outbox.states(org_id, kind, subject_ids)

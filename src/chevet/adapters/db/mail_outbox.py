"""The transactional mail outbox in SQL: queued with the action that wants it, leased by one
worker at a time (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema_mail import mail_outbox
from chevet.core.mail_outbox import MailState, OutgoingMail


def _mail(r: Row[Any]) -> OutgoingMail:
    return OutgoingMail(id=r.id, org_id=r.org_id, kind=r.kind, subject_id=r.subject_id, recipient=r.recipient,
                        message_sealed=r.message_sealed, state=MailState(r.state), attempts=r.attempts,
                        next_attempt_at=r.next_attempt_at, created_at=r.created_at, last_error=r.last_error)


class SqlMailOutbox:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, mail: OutgoingMail) -> None:
        await self.conn.execute(insert(mail_outbox).values(
            id=mail.id, org_id=mail.org_id, kind=mail.kind, subject_id=mail.subject_id, recipient=mail.recipient,
            message_sealed=mail.message_sealed, state=mail.state.value, attempts=mail.attempts,
            next_attempt_at=mail.next_attempt_at, lease_until=None, last_error=None, created_at=mail.created_at))

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[OutgoingMail]:
        due = or_(and_(mail_outbox.c.state == MailState.PENDING.value, mail_outbox.c.next_attempt_at <= now),
                  and_(mail_outbox.c.state == MailState.SENDING.value, mail_outbox.c.lease_until <= now))
        q = select(mail_outbox).where(due).order_by(mail_outbox.c.next_attempt_at).limit(limit)
        if self.conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = [_mail(r) for r in await self.conn.execute(q)]
        for m in rows:
            await self.conn.execute(update(mail_outbox).where(mail_outbox.c.id == m.id).values(
                state=MailState.SENDING.value, lease_until=lease_until))
        return rows

    async def mark_sent(self, mail_id: uuid.UUID, at: datetime, attempts: int) -> None:
        await self.conn.execute(update(mail_outbox).where(mail_outbox.c.id == mail_id).values(
            state=MailState.SENT.value, sent_at=at, attempts=attempts, lease_until=None, last_error=None))

    async def mark_retry(self, mail_id: uuid.UUID, next_at: datetime, attempts: int, error: str) -> None:
        await self.conn.execute(update(mail_outbox).where(mail_outbox.c.id == mail_id).values(
            state=MailState.PENDING.value, next_attempt_at=next_at, attempts=attempts, lease_until=None,
            last_error=error[:60]))

    async def mark_dead(self, mail_id: uuid.UUID, attempts: int, error: str) -> None:
        await self.conn.execute(update(mail_outbox).where(mail_outbox.c.id == mail_id).values(
            state=MailState.DEAD.value, attempts=attempts, lease_until=None, last_error=error[:60]))

    async def states(self, org_id: uuid.UUID, kind: str,
                     subject_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, MailState]:
        """The newest mail's state for each subject that has one."""
        if not subject_ids:
            return {}
        rows = await self.conn.execute(
            select(mail_outbox.c.subject_id, mail_outbox.c.state)
            .where(mail_outbox.c.org_id == org_id, mail_outbox.c.kind == kind,
                   mail_outbox.c.subject_id.in_(list(subject_ids)))
            .order_by(mail_outbox.c.created_at))
        return {r.subject_id: MailState(r.state) for r in rows}

"""The Web Push notifications of an urgent alert's step.

Each step notifies each of its people at once, on every device, with its own tag (a step
never replaces or groups with another), outside the grouping, the daily cap and the quiet
hours that apply to messages: an alert is addressed to her because she is named or on duty,
and nobody else will act if she does not see it. The notification says only that an alert
needs her (never the message, the patient or the conversation's title) and offers « Je m'en
occupe » and « Vu, pas d'action ».

Every server process receives the step's event (a Redis bus delivers it to all); only the one
that claims the step's timeline line first pushes it, so nobody is notified twice."""

from __future__ import annotations

import uuid

from chevet.app.messaging.notifications import Notification
from chevet.app.services import Services
from chevet.core.entities import PersonStatus, RealtimeEvent
from chevet.core.notification import Preferences
from chevet.ports import Transaction


async def notified_of(tx: Transaction, org_id: uuid.UUID, conversation_id: uuid.UUID,
                      message_id: str) -> set[uuid.UUID]:
    """The people an urgent message's alert notified: they get the alert's notification (with
    its two buttons) rather than a second one for the message."""
    try:
        mid = uuid.UUID(message_id)
    except ValueError:
        return set()
    return {p for a in await tx.alerts.of_conversation(org_id, conversation_id, 5) if a.message_id == mid
            for p in a.targeted}


async def plan(services: Services, event: RealtimeEvent) -> list[Notification]:
    payload = event.payload
    try:
        alert_id, event_id = uuid.UUID(str(payload.get("alert_id"))), uuid.UUID(str(payload.get("event_id")))
    except ValueError:
        return []
    if not event.user_ids:
        return []
    escalated = payload.get("kind") == "escalated"
    step = payload.get("step") if isinstance(payload.get("step"), int) else 0
    out: list[Notification] = []
    async with services.unit() as u:
        if not await u.tx.alerts.claim_push(event_id, services.clock.now()):
            return []
        alert = await u.tx.alerts.get(event.org_id, alert_id)
        if alert is None or alert.acknowledged_at is not None:
            return []
        recipients = list(event.user_ids)
        active = {p.id for p in await u.tx.people.many(event.org_id, recipients) if p.status is PersonStatus.ACTIVE}
        subs = [s for s in await u.tx.push.for_people(event.org_id, recipients) if s.person_id in active]
        prefs = await u.tx.preferences.many(event.org_id, recipients) if subs else {}
        for s in subs:
            mine = prefs.get(s.person_id) or Preferences(s.person_id, event.org_id)
            out.append(Notification(s, "push.alert.escalated" if escalated else "push.alert.new", "",
                                    mine.language or "fr", True, f"/c/{alert.conversation_id}#alert-{alert.id}",
                                    f"alert-{alert.id}-{step}", alert=str(alert.id)))
    return out

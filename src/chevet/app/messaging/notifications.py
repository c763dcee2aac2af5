"""Web Push subscriptions and the decision of whom to notify of a new message.

The decision (``plan``) runs once per message event, in one transaction that also moves each
recipient's budget, so that grouping and the daily cap hold even with several server
processes. Sending happens after commit, outside the app (the web layer owns the gateway and
the translations); a subscription the push service says is gone is forgotten.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from chevet.app.care import duty
from chevet.app.messaging.views import title_of
from chevet.app.services import Actor, Services
from chevet.core.conversation import ConversationKind
from chevet.core.entities import PersonStatus, RealtimeEvent
from chevet.core.errors import InvalidInput, NotFound
from chevet.core.ids import new_id
from chevet.core.notification import (
    Preferences,
    PushContent,
    PushSubscription,
    decide,
    notification_text,
    push_service_allowed,
)

MAX_SUBSCRIPTIONS = 10
MAX_ENDPOINT = 1024


@dataclass(frozen=True, slots=True)
class Notification:
    subscription: PushSubscription
    text_id: str
    title: str  # a team or group name, or "" (never a care case's title, never content)
    language: str
    urgent: bool
    url: str  # the page the notification opens
    tag: str  # notifications with the same tag replace each other on the device
    reply: bool = False  # offers "Répondre" (a message in a conversation the person is a member of)
    alert: str = ""  # an urgent alert's id: offers « Je m'en occupe » / « Vu, pas d'action » (app/care/alert_push.py)


def _key_bytes(value: str, size: int) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInput("push_subscription_invalid") from None
    if len(raw) != size:
        raise InvalidInput("push_subscription_invalid")
    return raw


async def subscribe(services: Services, actor: Actor, *, endpoint: str, p256dh: str, auth: str,
                    allowed_origins: tuple[str, ...]) -> None:
    """Remember a browser's push subscription. Only endpoints of the push services the
    administrator allowed are accepted: the server will contact nothing else."""
    endpoint = (endpoint or "").strip()
    if len(endpoint) > MAX_ENDPOINT or not push_service_allowed(endpoint, allowed_origins):
        raise InvalidInput("push_service_not_allowed")
    key, secret = _key_bytes(p256dh, 65), _key_bytes(auth, 16)
    if key[0] != 4:
        raise InvalidInput("push_subscription_invalid")
    async with services.unit(actor.ip) as u:
        if len(await u.tx.push.for_person(actor.org_id, actor.id)) >= MAX_SUBSCRIPTIONS:
            raise InvalidInput("push_too_many_devices", max=MAX_SUBSCRIPTIONS)
        sub = PushSubscription(new_id(), actor.org_id, actor.id, endpoint, key, secret, services.clock.now())
        await u.tx.push.add(sub)
        await u.audit(actor.org_id, "push.subscribed", actor.id, "push_subscription", sub.id)


async def unsubscribe(services: Services, actor: Actor, endpoint: str) -> None:
    async with services.unit(actor.ip) as u:
        if not await u.tx.push.remove(actor.org_id, actor.id, (endpoint or "")[:MAX_ENDPOINT]):
            raise NotFound("push_subscription_not_found")
        await u.audit(actor.org_id, "push.unsubscribed", actor.id, "person", actor.id)


async def device_count(services: Services, actor: Actor) -> int:
    async with services.db.transaction() as tx:
        return len(await tx.push.for_person(actor.org_id, actor.id))


async def plan(services: Services, event: RealtimeEvent) -> list[Notification]:
    """Whom to notify of this event, and with which words; budgets move in the same transaction."""
    payload = event.payload
    if payload.get("type") == REPORT_REMINDER:
        return await _plan_reminder(services, event)
    if payload.get("type") == ALERT_PUSH:
        from chevet.app.care import alert_push  # built on this module

        return await alert_push.plan(services, event)
    if payload.get("type") == HANDOVER_LATE:
        return await _plan_handover_late(services, event)
    if payload.get("type") != "message" or event.seq is None:
        return []
    message = payload.get("message") or {}
    author = message.get("author_id")
    urgent = bool(message.get("urgent"))
    mentions = set(message.get("mentions") or [])
    key = f"{event.conversation_id.hex}:{event.seq}"
    now = services.clock.now()
    out: list[Notification] = []
    async with services.unit() as u:
        conv = await u.tx.conversations.get(event.org_id, event.conversation_id)
        if conv is None:
            return []
        recipients = [m.person_id for m in await u.tx.conversations.members(conv.id)
                      if str(m.person_id) != author and m.read_seq < event.seq]
        if urgent:  # whom the message's alert notifies gets that notification instead (app/care/alert_push.py)
            from chevet.app.care import alert_push

            called = await alert_push.notified_of(u.tx, event.org_id, conv.id, str(message.get("id") or ""))
            recipients = [r for r in recipients if r not in called]
        active = {p.id for p in await u.tx.people.many(event.org_id, recipients)
                  if p.status is PersonStatus.ACTIVE}
        subs = [s for s in await u.tx.push.for_people(event.org_id, recipients) if s.person_id in active]
        if not subs:
            return []
        wrapped = await u.tx.conversations.wrapped_key(conv.id)
        title = ""
        if wrapped is not None and conv.kind in (ConversationKind.TEAM, ConversationKind.GROUP):
            title = title_of(conv, await services.unwrap_key(conv.org_id, conv.id, wrapped))
        content = await u.tx.preferences.org_push_content(event.org_id) or PushContent.NAME
        prefs = await u.tx.preferences.many(event.org_id, recipients)
        mentions |= await duty.named_holders(u.tx, event.org_id, message.get("body"), now)
        off_shift = await duty.off_shift(u.tx, event.org_id, conv.team_id if conv.kind is ConversationKind.TEAM
                                         else None, recipients, now)
        for person_id in dict.fromkeys(s.person_id for s in subs):
            if person_id in off_shift and str(person_id) not in mentions:
                continue  # off shift: the team's messages wait for her, unless she is named
            mine = prefs.get(person_id) or Preferences(person_id, event.org_id)
            budget = decide(mine, await u.tx.push.budget(person_id), now, key, urgent=urgent,
                            mentioned=str(person_id) in mentions, kind=conv.kind)
            if budget is None:
                continue
            await u.tx.push.save_budget(budget)
            text_id, shown = notification_text(conv.kind, title, content, urgent)
            out.extend(Notification(s, text_id, shown, mine.language or "fr", urgent, f"/c/{conv.id}", str(conv.id),
                                    reply=True)
                       for s in subs if s.person_id == person_id)
    return out


REPORT_REMINDER = "signalement.reminder"
HANDOVER_LATE = "handover.late"  # app/care/handovers.py
ALERT_PUSH = "care.alert"  # app/care/alerts.py: one step of an urgent alert
PUSHED_EVENTS = ("message", REPORT_REMINDER, HANDOVER_LATE, ALERT_PUSH)


async def _plan_reminder(services: Services, event: RealtimeEvent) -> list[Notification]:
    """A signalement deadline coming close or missed, for the quality leads and directors the
    event names. Pressing like an urgent message (a regulatory deadline), yet silent in quiet
    hours or for whoever turned notifications off; the text names no report content, only
    that a deadline needs attention, and opens the deadlines dashboard."""
    payload = event.payload
    report_id, deadline, stage = payload.get("report_id"), payload.get("deadline"), payload.get("stage")
    if not report_id or stage not in ("soon", "overdue"):
        return []
    return await _plan_pressing(services, event, f"report:{report_id}:{deadline}:{stage}",
                                f"push.report_deadline.{stage}", "/signalement/echeances", f"signalement-{report_id}")


async def _plan_handover_late(services: Services, event: RealtimeEvent) -> list[Notification]:
    """A handover note nobody confirmed an hour after its shift started, for the nurse managers
    the event names: pressing (sent at once, never grouped), content-free, opening the late
    notes' page."""
    handover_id = event.payload.get("handover_id")
    if not handover_id:
        return []
    return await _plan_pressing(services, event, f"handover:{handover_id}", "push.handover_late",
                                "/transmissions/en-retard", f"handover-{handover_id}")


async def _plan_pressing(services: Services, event: RealtimeEvent, key: str, text_id: str, url: str,
                         tag: str) -> list[Notification]:
    """A content-free, pressing notification for the active people an event names, each within
    her own settings and budget (quiet hours, notifications off), moved in the same transaction."""
    if not event.user_ids:
        return []
    now = services.clock.now()
    out: list[Notification] = []
    async with services.unit() as u:
        recipients = list(event.user_ids)
        active = {p.id for p in await u.tx.people.many(event.org_id, recipients) if p.status is PersonStatus.ACTIVE}
        subs = [s for s in await u.tx.push.for_people(event.org_id, recipients) if s.person_id in active]
        prefs = await u.tx.preferences.many(event.org_id, recipients) if subs else {}
        for person_id in dict.fromkeys(s.person_id for s in subs):
            mine = prefs.get(person_id) or Preferences(person_id, event.org_id)
            budget = decide(mine, await u.tx.push.budget(person_id), now, key, urgent=True, mentioned=False)
            if budget is None:
                continue
            await u.tx.push.save_budget(budget)
            out.extend(Notification(s, text_id, "", mine.language or "fr", True, url, tag)
                       for s in subs if s.person_id == person_id)
    return out


async def forget(services: Services, subscription: PushSubscription) -> None:
    """The push service answered that this subscription no longer exists."""
    async with services.unit() as u:
        await u.tx.push.remove_gone(subscription.id)
        await u.audit(subscription.org_id, "push.expired", None, "push_subscription", subscription.id)

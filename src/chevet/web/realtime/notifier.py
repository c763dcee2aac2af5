"""Sends Web Push notifications for new messages and signalement deadlines, off the request path.

Events arrive from the bus after commit; a bounded queue feeds one worker that asks the app
whom to notify (``notifications.plan``), words the notification in the person's language
(never with care content) and hands it to the push gateway."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson

from chevet.app.messaging import notifications
from chevet.app.services import Services
from chevet.core.entities import RealtimeEvent
from chevet.ports import DependencyUnavailable, PushGateway
from chevet.web.i18n import gettext

log = logging.getLogger("chevet.push")
QUEUE_LIMIT = 1000
TTL = 6 * 3600


class Notifier:
    def __init__(self, services: Services, gateway: PushGateway) -> None:
        self.services = services
        self.gateway = gateway
        self.queue: asyncio.Queue[RealtimeEvent] = asyncio.Queue(QUEUE_LIMIT)
        self._task: asyncio.Task[None] | None = None

    def offer(self, event: RealtimeEvent) -> None:
        if event.payload.get("type") not in notifications.PUSHED_EVENTS:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            log.warning("push queue full: notification dropped")

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                await self.handle(event)
            except DependencyUnavailable as exc:
                # The database or a push service is away: this wake-up is skipped (the message
                # itself is stored and streamed); an outage is not an error of ours.
                log.warning("push skipped", extra={"error": type(exc).__name__})
            except Exception as exc:  # a push failure must never stop the worker
                log.error("push failed", extra={"error": type(exc).__name__})

    async def handle(self, event: RealtimeEvent) -> None:
        for n in await notifications.plan(self.services, event):
            body = gettext(n.text_id, n.language, name=n.title)
            data: dict[str, object] = {"title": "Chevet", "body": body, "tag": n.tag, "url": n.url,
                                       "urgent": n.urgent}
            if n.reply:  # the service worker sends a reply only as the person it was meant for
                data |= {"reply": gettext("push.reply", n.language),
                         "placeholder": gettext("push.reply_placeholder", n.language),
                         "for": str(n.subscription.person_id)}
            if n.alert:  # an urgent alert: acknowledged from the notification, as the person it was meant for
                data |= {"alert": n.alert, "take": gettext("push.alert.take", n.language),
                         "seen": gettext("push.alert.seen", n.language), "for": str(n.subscription.person_id)}
            payload = orjson.dumps(data)
            status = await self.gateway.send(n.subscription, payload, ttl=TTL, urgent=n.urgent)
            if status in (404, 410):
                await notifications.forget(self.services, n.subscription)
            elif not 200 <= status < 300:
                log.warning("push not accepted", extra={"status": status})

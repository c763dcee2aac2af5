"""Repositories of the web client's tables (see ``schema_web``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema_web import org_web_setting, push_budget, push_subscription, web_preference
from chevet.core.notification import Preferences, PushBudget, PushContent, PushLevel, PushSubscription


def _prefs(row: Any) -> Preferences:
    m = row._mapping
    try:
        level = PushLevel(m["push_level"])
    except ValueError:
        level = PushLevel.GROUPED
    return Preferences(person_id=m["person_id"], org_id=m["org_id"], language=m["language"], push_level=level,
                       quiet_start=m["quiet_start"], quiet_end=m["quiet_end"])


def _sub(row: Any) -> PushSubscription:
    m = row._mapping
    return PushSubscription(id=m["id"], org_id=m["org_id"], person_id=m["person_id"], endpoint=m["endpoint"],
                            p256dh=bytes(m["p256dh"]), auth=bytes(m["auth"]), created_at=m["created_at"])


class SqlPreferences:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, org_id: uuid.UUID, person_id: uuid.UUID) -> Preferences | None:
        row = (await self._conn.execute(select(web_preference).where(
            web_preference.c.org_id == org_id, web_preference.c.person_id == person_id))).first()
        return _prefs(row) if row else None

    async def many(self, org_id: uuid.UUID, person_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Preferences]:
        if not person_ids:
            return {}
        rows = await self._conn.execute(select(web_preference).where(
            web_preference.c.org_id == org_id, web_preference.c.person_id.in_(list(person_ids))))
        return {p.person_id: p for p in map(_prefs, rows)}

    async def save(self, p: Preferences) -> None:
        values = {"language": p.language, "push_level": p.push_level.value, "quiet_start": p.quiet_start,
                  "quiet_end": p.quiet_end}
        done = await self._conn.execute(update(web_preference).where(
            web_preference.c.org_id == p.org_id, web_preference.c.person_id == p.person_id).values(**values))
        if not done.rowcount:
            await self._conn.execute(insert(web_preference).values(person_id=p.person_id, org_id=p.org_id,
                                                                   **values))

    async def org_push_content(self, org_id: uuid.UUID) -> PushContent | None:
        value = (await self._conn.execute(select(org_web_setting.c.push_content).where(
            org_web_setting.c.org_id == org_id))).scalar()
        try:
            return PushContent(str(value)) if value is not None else None
        except ValueError:
            return None

    async def set_org_push_content(self, org_id: uuid.UUID, content: PushContent) -> None:
        done = await self._conn.execute(update(org_web_setting).where(org_web_setting.c.org_id == org_id)
                                        .values(push_content=content.value))
        if not done.rowcount:
            await self._conn.execute(insert(org_web_setting).values(org_id=org_id, push_content=content.value))

    async def org_list_preview(self, org_id: uuid.UUID) -> bool:
        value = (await self._conn.execute(select(org_web_setting.c.list_preview).where(
            org_web_setting.c.org_id == org_id))).scalar()
        return True if value is None else bool(value)

    async def set_org_list_preview(self, org_id: uuid.UUID, shown: bool) -> None:
        done = await self._conn.execute(update(org_web_setting).where(org_web_setting.c.org_id == org_id)
                                        .values(list_preview=shown))
        if not done.rowcount:
            await self._conn.execute(insert(org_web_setting).values(org_id=org_id, list_preview=shown,
                                                                    push_content=PushContent.NAME.value))


class SqlPush:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, s: PushSubscription) -> None:
        await self._conn.execute(delete(push_subscription).where(push_subscription.c.endpoint == s.endpoint))
        await self._conn.execute(insert(push_subscription).values(
            id=s.id, org_id=s.org_id, person_id=s.person_id, endpoint=s.endpoint, p256dh=s.p256dh, auth=s.auth,
            created_at=s.created_at))

    async def for_person(self, org_id: uuid.UUID, person_id: uuid.UUID) -> list[PushSubscription]:
        return await self.for_people(org_id, [person_id])

    async def for_people(self, org_id: uuid.UUID, person_ids: Sequence[uuid.UUID]) -> list[PushSubscription]:
        if not person_ids:
            return []
        rows = await self._conn.execute(select(push_subscription).where(
            push_subscription.c.org_id == org_id, push_subscription.c.person_id.in_(list(person_ids)))
            .order_by(push_subscription.c.created_at))
        return [_sub(r) for r in rows]

    async def remove(self, org_id: uuid.UUID, person_id: uuid.UUID, endpoint: str) -> bool:
        done = await self._conn.execute(delete(push_subscription).where(
            push_subscription.c.org_id == org_id, push_subscription.c.person_id == person_id,
            push_subscription.c.endpoint == endpoint))
        return bool(done.rowcount)

    async def remove_gone(self, subscription_id: uuid.UUID) -> None:
        await self._conn.execute(delete(push_subscription).where(push_subscription.c.id == subscription_id))

    async def budget(self, person_id: uuid.UUID) -> PushBudget | None:
        stmt = select(push_budget).where(push_budget.c.person_id == person_id)
        if self._conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        if row is None:
            return None
        m = row._mapping
        return PushBudget(person_id=m["person_id"], org_id=m["org_id"], day=m["day"], sent=m["sent"],
                          last_sent_at=m["last_sent_at"], last_key=m["last_key"])

    async def save_budget(self, b: PushBudget) -> None:
        values = {"day": b.day, "sent": b.sent, "last_sent_at": b.last_sent_at, "last_key": b.last_key}
        done = await self._conn.execute(update(push_budget).where(push_budget.c.person_id == b.person_id)
                                        .values(**values))
        if not done.rowcount:
            await self._conn.execute(insert(push_budget).values(person_id=b.person_id, org_id=b.org_id, **values))

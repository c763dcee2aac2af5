"""A person's own settings (language, notifications, quiet hours) and the organisation's
notification policy. Changing them leaves an audit entry like any other state change."""

from __future__ import annotations

from dataclasses import replace

from chevet.app.access import report_functions
from chevet.app.services import Actor, Services
from chevet.core.errors import Forbidden, InvalidInput
from chevet.core.notification import (
    Preferences,
    PushContent,
    parse_clock,
    parse_content,
    parse_level,
)
from chevet.core.roles import Permission, can
from chevet.core.signalement.report import ReportFunction
from chevet.ports import Transaction

LANGUAGES = ("fr", "en")


async def my_preferences(services: Services, actor: Actor) -> Preferences:
    async with services.db.transaction() as tx:
        return await _preferences(tx, actor)


async def for_pages(services: Services, actor: Actor) -> tuple[Preferences, frozenset[ReportFunction]]:
    """What every signed-in page needs besides the session (language, report functions for the
    navigation), in one transaction."""
    async with services.db.transaction() as tx:
        return await _preferences(tx, actor), await report_functions(tx, actor)


async def _preferences(tx: Transaction, actor: Actor) -> Preferences:
    return await tx.preferences.get(actor.org_id, actor.id) or Preferences(actor.id, actor.org_id)


async def set_language(services: Services, actor: Actor, language: str | None) -> Preferences:
    """``None`` (or empty) follows the browser's language."""
    language = language or None
    if language is not None and language not in LANGUAGES:
        raise InvalidInput("language_invalid")
    async with services.unit(actor.ip) as u:
        prefs = await u.tx.preferences.get(actor.org_id, actor.id) or Preferences(actor.id, actor.org_id)
        prefs = replace(prefs, language=language)
        await u.tx.preferences.save(prefs)
        await u.audit(actor.org_id, "person.preferences_changed", actor.id, "person", actor.id,
                      language=language or "browser")
    return prefs


async def set_notifications(services: Services, actor: Actor, *, level: str, quiet_start: str | None,
                            quiet_end: str | None) -> Preferences:
    parsed = parse_level(level)
    start, end = parse_clock(quiet_start), parse_clock(quiet_end)
    if (start is None) != (end is None):
        raise InvalidInput("quiet_hours_invalid")
    async with services.unit(actor.ip) as u:
        prefs = await u.tx.preferences.get(actor.org_id, actor.id) or Preferences(actor.id, actor.org_id)
        prefs = replace(prefs, push_level=parsed, quiet_start=start, quiet_end=end)
        await u.tx.preferences.save(prefs)
        await u.audit(actor.org_id, "person.preferences_changed", actor.id, "person", actor.id,
                      push_level=parsed.value, quiet_hours=start is not None)
    return prefs


async def organisation_push_content(services: Services, actor: Actor) -> PushContent:
    async with services.db.transaction() as tx:
        return await tx.preferences.org_push_content(actor.org_id) or PushContent.NAME


async def set_organisation_push_content(services: Services, actor: Actor, content: str) -> PushContent:
    if not can(actor.person.role, Permission.MANAGE_ORGANISATION):
        raise Forbidden("forbidden")
    parsed = parse_content(content)
    async with services.unit(actor.ip) as u:
        await u.tx.preferences.set_org_push_content(actor.org_id, parsed)
        await u.audit(actor.org_id, "organisation.settings_changed", actor.id, "organisation", actor.org_id,
                      push_content=parsed.value)
    return parsed


async def organisation_list_preview(services: Services, actor: Actor) -> bool:
    """Whether the conversation list shows the start of the last message (on by default)."""
    async with services.db.transaction() as tx:
        return await tx.preferences.org_list_preview(actor.org_id)


async def set_organisation_list_preview(services: Services, actor: Actor, shown: bool) -> bool:
    """Off for organisations whose screens are shared or seen by others: the list then carries
    no message text at all."""
    if not can(actor.person.role, Permission.MANAGE_ORGANISATION):
        raise Forbidden("forbidden")
    async with services.unit(actor.ip) as u:
        await u.tx.preferences.set_org_list_preview(actor.org_id, shown)
        await u.audit(actor.org_id, "organisation.settings_changed", actor.id, "organisation", actor.org_id,
                      list_preview=shown)
    return shown

"""Handovers (transmissions ciblées): the outgoing shift writes a DAR note in a patient's care
case for the team's next shift; the incoming shift sees what is « à reprendre » and confirms
each note read; a note nobody confirmed an hour after its shift started is flagged, once, to
the nurse managers.

Content is sealed with the care case's data key (associated data: the case and the note), and
indexed for the blind-index search like messages. Every step is audited, never with content.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from chevet.app.access import Access, conversation_access, require
from chevet.app.care import duty
from chevet.app.messaging.notifications import HANDOVER_LATE
from chevet.app.messaging.views import ref_of, title_of
from chevet.app.services import Actor, Services, Unit
from chevet.core import blind_index, envelope
from chevet.core.care.handover import (
    DEFAULT_TEMPLATES,
    FLAG_AFTER,
    Handover,
    HandoverContent,
    HandoverShift,
    HandoverTemplate,
    clean_content,
    clean_template,
    clean_templates,
    default_shift_after,
    is_late,
)
from chevet.core.conversation import ConversationKind
from chevet.core.entities import Conversation, PersonStatus, RealtimeEvent, Team
from chevet.core.errors import Forbidden, InvalidInput, NotFound
from chevet.core.ids import new_id
from chevet.core.roles import Permission, Role
from chevet.ports import Transaction

MANAGER_ROLES = (Role.MANAGER,)
FLAG_BATCH = 100


@dataclass(frozen=True, slots=True)
class HandoverView:
    """A note as the incoming shift reads it."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    care_case: str              # the care case's title, else its pseudonymous reference
    target: str
    data: str
    actions: str
    results: str
    author_id: uuid.UUID
    author_name: str
    created_at: datetime
    shift_name: str
    shift_starts_at: datetime
    confirmed_by_name: str | None
    confirmed_at: datetime | None
    late: bool
    mine: bool


@dataclass(frozen=True, slots=True)
class LateView:
    """A late note in the manager's view: which case, which shift, who wrote it; no DAR text."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    care_case: str
    target: str
    author_name: str
    team_name: str | None
    shift_name: str
    shift_starts_at: datetime
    flagged_at: datetime | None


@dataclass(frozen=True, slots=True)
class TeamTemplates:
    team: Team | None
    templates: list[HandoverTemplate]
    custom: bool        # False: the defaults apply


@dataclass(frozen=True, slots=True)
class WriteForm:
    """What the writing page needs: the care case, the teams she may hand over for, their
    templates, and the shift a note written now is for."""

    conversation_id: uuid.UUID
    care_case: str
    teams: list[TeamTemplates]
    shift: HandoverShift
    recent: list[HandoverView]


def _label(conv: Conversation, key: envelope.DataKey) -> str:
    return title_of(conv, key) or ref_of(conv, key) or ""


def _aad(h: Handover) -> bytes:
    return envelope.aad("handover", h.conversation_id, h.id)


def content_of(h: Handover, key: envelope.DataKey) -> HandoverContent:
    return HandoverContent.from_json(key.open(h.content_sealed, _aad(h)))


async def _names(tx: Transaction, org_id: uuid.UUID, ids: Sequence[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = [i for i in dict.fromkeys(ids) if i is not None]
    return {p.id: p.name for p in await tx.people.many(org_id, wanted)} if wanted else {}


def _view(h: Handover, a: Access, names: dict[uuid.UUID, str], actor: Actor, now: datetime) -> HandoverView:
    c = content_of(h, a.key)
    return HandoverView(h.id, h.conversation_id, _label(a.conversation, a.key), c.target, c.data, c.actions,
                        c.results, h.author_id, names.get(h.author_id, ""), h.created_at, h.shift_name,
                        h.shift_starts_at, names.get(h.confirmed_by) if h.confirmed_by else None, h.confirmed_at,
                        is_late(h, now), h.author_id == actor.id)


async def _care_case(services: Services, tx: Transaction, actor: Actor, conversation_id: uuid.UUID) -> Access:
    """Her own care case, or not found (another organisation's, or one she is not a member of)."""
    a = await conversation_access(services, tx, actor, conversation_id)
    if a.conversation.kind is not ConversationKind.CARE_CASE:
        raise InvalidInput("handover.only_care_case")
    return a


async def _teams_of(tx: Transaction, actor: Actor) -> list[Team]:
    return [t for t in await tx.teams.all(actor.org_id) if actor.id in await tx.teams.member_ids(t.id)]


async def _templates(tx: Transaction, org_id: uuid.UUID, team: Team | None) -> TeamTemplates:
    own = await tx.handovers.templates(org_id, team.id) if team is not None else None
    return TeamTemplates(team, own if own is not None else list(DEFAULT_TEMPLATES), own is not None)


async def next_shift(tx: Transaction, org_id: uuid.UUID, team_id: uuid.UUID | None, at: datetime) -> HandoverShift:
    """The shift a note written at ``at`` is for: the one following the team's running shift
    in its roster; without a roster (or no shift running), the next default change
    (07:00 or 19:00, Europe/Paris)."""
    if team_id is not None:
        running = await duty.shift_at(tx, org_id, team_id, at)
        if running is not None:
            following = await duty.shift_at(tx, org_id, team_id, running.ends_at)
            if following is not None:
                return HandoverShift(following.name, following.starts_at, following.ends_at)
    return default_shift_after(at)


async def write_form(services: Services, actor: Actor, conversation_id: uuid.UUID) -> WriteForm:
    async with services.unit(actor.ip) as u:
        a = await _care_case(services, u.tx, actor, conversation_id)
        teams = await _teams_of(u.tx, actor)
        choices = [await _templates(u.tx, actor.org_id, t) for t in teams] or \
            [await _templates(u.tx, actor.org_id, None)]
        now = services.clock.now()
        shift = await next_shift(u.tx, actor.org_id, teams[0].id if teams else None, now)
        notes = await u.tx.handovers.of_conversation(actor.org_id, conversation_id, 10)
        names = await _names(u.tx, actor.org_id, [*(h.author_id for h in notes), *(h.confirmed_by for h in notes)])
        recent = [_view(h, a, names, actor, now) for h in notes]
        if recent:
            await u.audit(actor.org_id, "care_case.read", actor.id, "conversation", conversation_id,
                          via="handovers", count=len(recent))
        return WriteForm(conversation_id, _label(a.conversation, a.key), choices, shift, recent)


async def write(services: Services, actor: Actor, conversation_id: uuid.UUID, *, target: str, data: str,
                actions: str, results: str, team_id: uuid.UUID | None = None) -> HandoverView:
    """A note for the next shift of her team (``team_id``: one of hers; by default her first)."""
    content = clean_content(target, data, actions, results)
    async with services.unit(actor.ip) as u:
        a = await _care_case(services, u.tx, actor, conversation_id)
        teams = await _teams_of(u.tx, actor)
        if team_id is not None and team_id not in {t.id for t in teams}:
            raise InvalidInput("handover.team_not_yours")
        team = team_id if team_id is not None else (teams[0].id if teams else None)
        now = services.clock.now()
        shift = await next_shift(u.tx, actor.org_id, team, now)
        hid = new_id()
        h = Handover(hid, actor.org_id, conversation_id, team, actor.id, now, shift.name[:40], shift.starts_at,
                     shift.ends_at, b"")
        h = replace(h, content_sealed=a.key.seal(content.to_json(), _aad(h)))
        await u.tx.handovers.add(h, blind_index.terms(a.key.search_key, content.searchable_text))
        await u.audit(actor.org_id, "handover.written", actor.id, "handover", hid, conversation=str(conversation_id),
                      team=str(team) if team else None, shift=shift.name[:40],
                      shift_starts_at=shift.starts_at.isoformat())
        return _view(h, a, {actor.id: actor.person.name}, actor, now)


async def to_resume(services: Services, actor: Actor) -> list[HandoverView]:
    """« À reprendre »: every unconfirmed note of the care cases she is a member of, written by
    someone else, oldest shift first. Reading them is audited per care case."""
    async with services.unit(actor.ip) as u:
        conv_ids = await u.tx.conversations.ids_for(actor.org_id, actor.id)
        notes = [h for h in await u.tx.handovers.open_in(actor.org_id, conv_ids) if h.author_id != actor.id]
        now = services.clock.now()
        names = await _names(u.tx, actor.org_id, [h.author_id for h in notes])
        accesses: dict[uuid.UUID, Access] = {}
        out: list[HandoverView] = []
        for h in notes:
            if h.conversation_id not in accesses:
                accesses[h.conversation_id] = await conversation_access(services, u.tx, actor, h.conversation_id)
            out.append(_view(h, accesses[h.conversation_id], names, actor, now))
        for cid in accesses:
            await u.audit(actor.org_id, "care_case.read", actor.id, "conversation", cid, via="handovers",
                          count=sum(1 for h in notes if h.conversation_id == cid))
        return out


async def waiting(services: Services, actor: Actor) -> int:
    """How many notes await her (the conversation list's count): nothing is opened, so nothing
    of a care case is read."""
    async with services.db.transaction() as tx:
        conv_ids = await tx.conversations.ids_for(actor.org_id, actor.id)
        return sum(1 for h in await tx.handovers.open_in(actor.org_id, conv_ids) if h.author_id != actor.id)


async def confirm(services: Services, actor: Actor, handover_id: uuid.UUID) -> HandoverView:
    """She confirms she read the note: who and when are recorded. Confirming again is answered
    with the first confirmation; the author cannot confirm her own note."""
    async with services.unit(actor.ip) as u:
        h = await u.tx.handovers.get(actor.org_id, handover_id)
        if h is None:
            raise NotFound("handover.not_found")
        try:
            a = await conversation_access(services, u.tx, actor, h.conversation_id)
        except NotFound:
            raise NotFound("handover.not_found") from None
        if h.author_id == actor.id:
            raise Forbidden("handover.own_note")
        now = services.clock.now()
        if h.confirmed_at is None and await u.tx.handovers.confirm(actor.org_id, h.id, actor.id, now):
            late = is_late(h, now)
            h = replace(h, confirmed_by=actor.id, confirmed_at=now)
            await u.audit(actor.org_id, "handover.confirmed", actor.id, "handover", h.id,
                          conversation=str(h.conversation_id), late=late)
        else:
            h = await u.tx.handovers.get(actor.org_id, handover_id) or h
        names = await _names(u.tx, actor.org_id, [h.author_id, h.confirmed_by])
        return _view(h, a, names, actor, now)


async def _managers(tx: Transaction, org_id: uuid.UUID, team_id: uuid.UUID | None) -> list[uuid.UUID]:
    """The team's nurse managers; without any in the team, the organisation's."""
    managers = [p.id for p in await tx.archive.people(org_id)
                if p.role in MANAGER_ROLES and p.status is PersonStatus.ACTIVE]
    if team_id is not None:
        in_team = set(await tx.teams.member_ids(team_id))
        of_team = [m for m in managers if m in in_team]
        if of_team:
            return of_team
    return managers


async def flag_overdue(services: Services) -> int:
    """Flag every note not confirmed an hour after its shift started, in every organisation.
    The flag is a conditional update: run by several processes at once, each note is flagged
    (audited, pushed to its managers) exactly once. Returns how many this call flagged."""
    flagged = 0
    while True:
        async with services.unit() as u:
            now = services.clock.now()
            due = await u.tx.handovers.due_for_flag(now - FLAG_AFTER, FLAG_BATCH)
            for h in due:
                if not await u.tx.handovers.mark_flagged(h.id, now):
                    continue  # another process flagged it, or it was confirmed meanwhile
                managers = await _managers(u.tx, h.org_id, h.team_id)
                await u.audit(h.org_id, "handover.flagged", None, "handover", h.id,
                              conversation=str(h.conversation_id), shift_starts_at=h.shift_starts_at.isoformat(),
                              managers=len(managers))
                if managers:
                    u.publish(RealtimeEvent(h.org_id, h.id, None, {"type": HANDOVER_LATE, "handover_id": str(h.id)},
                                            user_ids=tuple(managers), private=True))
                flagged += 1
        if len(due) < FLAG_BATCH:
            return flagged


def _require_manager(actor: Actor) -> None:
    require(actor, Permission.MANAGE_TEAMS)


async def late(services: Services, actor: Actor) -> list[LateView]:
    """The nurse manager's view: flagged notes still unconfirmed (no DAR text: the care case
    and the target say where to go). Audited."""
    _require_manager(actor)
    async with services.unit(actor.ip) as u:
        notes = await u.tx.handovers.late(actor.org_id)
        names = await _names(u.tx, actor.org_id, [h.author_id for h in notes])
        teams = {t.id: t.name for t in await u.tx.teams.all(actor.org_id)}
        out: list[LateView] = []
        keys: dict[uuid.UUID, tuple[Conversation, envelope.DataKey] | None] = {}
        for h in notes:
            if h.conversation_id not in keys:
                conv = await u.tx.conversations.get(actor.org_id, h.conversation_id)
                wrapped = await u.tx.conversations.wrapped_key(h.conversation_id) if conv else None
                keys[h.conversation_id] = (conv, await services.unwrap_key(conv.org_id, conv.id, wrapped)) \
                    if conv is not None and wrapped is not None else None
            found = keys[h.conversation_id]
            if found is None:
                continue
            conv, key = found
            out.append(LateView(h.id, h.conversation_id, _label(conv, key), content_of(h, key).target,
                                names.get(h.author_id, ""), teams.get(h.team_id) if h.team_id else None,
                                h.shift_name, h.shift_starts_at, h.flagged_at))
        await u.audit(actor.org_id, "handover.late_viewed", actor.id, "organisation", actor.org_id, count=len(out))
        return out


async def team_templates(services: Services, actor: Actor) -> list[TeamTemplates]:
    """Every team's templates, for the manager who edits them."""
    _require_manager(actor)
    async with services.db.transaction() as tx:
        return [await _templates(tx, actor.org_id, t) for t in await tx.teams.all(actor.org_id)]


async def set_templates(services: Services, actor: Actor, team_id: uuid.UUID,
                        templates: Sequence[tuple[str, str, str, str, str]]) -> TeamTemplates:
    """Replace a team's templates (name, target, prompts for données, actions, résultats).
    An empty list brings the defaults back."""
    _require_manager(actor)
    cleaned = clean_templates([clean_template(*t) for t in templates])
    async with services.unit(actor.ip) as u:
        team = await u.tx.teams.get(actor.org_id, team_id)
        if team is None:
            raise NotFound("handover.team_not_found")
        await u.tx.handovers.set_templates(actor.org_id, team_id, cleaned, services.clock.now())
        await u.audit(actor.org_id, "handover.templates_changed", actor.id, "team", team_id, count=len(cleaned))
        return await _templates(u.tx, actor.org_id, team)


@dataclass(frozen=True, slots=True)
class HandoverHit:
    view: HandoverView
    snippet: list[tuple[str, bool]]


async def search(services: Services, actor: Actor, query: str, limit: int = 20) -> list[HandoverHit]:
    """Notes of the care cases she is a member of whose words match (the messages' blind index
    and its rules: 3 letters or more find the words beginning with them)."""
    query = (query or "").strip()[:200]
    refused = blind_index.refusal(query)
    if refused is not None:
        raise InvalidInput(refused)
    parsed = blind_index.parse(query)
    async with services.unit(actor.ip) as u:
        accesses: dict[uuid.UUID, Access] = {}
        wanted: dict[uuid.UUID, list[list[int]]] = {}
        for cid in await u.tx.conversations.ids_for(actor.org_id, actor.id):
            a = await conversation_access(services, u.tx, actor, cid)
            if a.conversation.kind is ConversationKind.CARE_CASE:
                accesses[cid] = a
                wanted[cid] = parsed.alternatives(a.key.search_key)
        found = await u.tx.handovers.search(actor.org_id, wanted, max(1, min(limit, 100)) * 3) if wanted else []
        now = services.clock.now()
        names = await _names(u.tx, actor.org_id, [*(h.author_id for h in found), *(h.confirmed_by for h in found)])
        hits: list[HandoverHit] = []
        for h in found:
            v = _view(h, accesses[h.conversation_id], names, actor, now)
            text = " · ".join(x for x in (v.target, v.data, v.actions, v.results) if x)
            if blind_index.matches(parsed, text):
                hits.append(HandoverHit(v, blind_index.snippet(parsed, text)))
            if len(hits) >= limit:
                break
        for cid in {x.view.conversation_id for x in hits}:
            await u.audit(actor.org_id, "care_case.read", actor.id, "conversation", cid, via="handover_search",
                          count=sum(1 for x in hits if x.view.conversation_id == cid))
        return hits


# --- archive ------------------------------------------------------------------------------

def export_record(h: Handover, key: envelope.DataKey) -> dict[str, object]:
    c = content_of(h, key)

    def t(v: datetime | None) -> str | None:
        return v.isoformat() if v else None

    return {"record": "handover", "id": str(h.id), "conversation_id": str(h.conversation_id),
            "team_id": str(h.team_id) if h.team_id else None, "author_id": str(h.author_id),
            "created_at": h.created_at.isoformat(), "shift_name": h.shift_name,
            "shift_starts_at": h.shift_starts_at.isoformat(), "shift_ends_at": h.shift_ends_at.isoformat(),
            "target": c.target, "data": c.data, "actions": c.actions, "results": c.results,
            "confirmed_by": str(h.confirmed_by) if h.confirmed_by else None, "confirmed_at": t(h.confirmed_at),
            "flagged_at": t(h.flagged_at)}


async def by_conversation(tx: Transaction, org_id: uuid.UUID) -> dict[uuid.UUID, list[Handover]]:
    """The organisation's notes (sealed), by care case, oldest first: the archive opens each with
    its care case's key."""
    out: dict[uuid.UUID, list[Handover]] = {}
    for h in await tx.handovers.of_organisation(org_id):
        out.setdefault(h.conversation_id, []).append(h)
    return out


async def export_templates(tx: Transaction, org_id: uuid.UUID) -> list[dict[str, object]]:
    """The teams' templates, for the archive."""
    return [{"record": "handover_template", "team_id": str(team_id), "position": n, "name": t.name,
             "target": t.target, "prompt_data": t.prompt_data, "prompt_actions": t.prompt_actions,
             "prompt_results": t.prompt_results}
            for team_id, ts in (await tx.handovers.all_templates(org_id)).items() for n, t in enumerate(ts)]


async def import_records(u: Unit, org_id: uuid.UUID, keys: dict[uuid.UUID, envelope.DataKey],
                         notes: Sequence[dict[str, object]], templates: Sequence[dict[str, object]]) -> int:
    """Inside the archive import's transaction: notes sealed again under the new keys, with
    their terms; templates as they were."""
    def when(v: object) -> datetime:
        return datetime.fromisoformat(str(v))

    def maybe(v: object) -> datetime | None:
        return when(v) if v else None

    for r in notes:
        cid = uuid.UUID(str(r["conversation_id"]))
        key = keys[cid]  # a note of a conversation the archive lacks: KeyError, the import refuses it
        content = HandoverContent(str(r["target"]), str(r["data"]), str(r["actions"]), str(r["results"]))
        h = Handover(uuid.UUID(str(r["id"])), org_id, cid, uuid.UUID(str(r["team_id"])) if r["team_id"] else None,
                     uuid.UUID(str(r["author_id"])), when(r["created_at"]), str(r["shift_name"])[:40],
                     when(r["shift_starts_at"]), when(r["shift_ends_at"]), b"",
                     uuid.UUID(str(r["confirmed_by"])) if r["confirmed_by"] else None, maybe(r["confirmed_at"]),
                     maybe(r["flagged_at"]))
        h = replace(h, content_sealed=key.seal(content.to_json(), _aad(h)))
        await u.tx.handovers.add(h, blind_index.terms(key.search_key, content.searchable_text))
    by_team: dict[uuid.UUID, list[tuple[int, HandoverTemplate]]] = {}
    for r in templates:
        by_team.setdefault(uuid.UUID(str(r["team_id"])), []).append((int(str(r["position"])), clean_template(
            str(r["name"]), str(r["target"]), str(r["prompt_data"]), str(r["prompt_actions"]),
            str(r["prompt_results"]))))
    for team_id, ts in by_team.items():
        await u.tx.handovers.set_templates(org_id, team_id, [t for _, t in sorted(ts, key=lambda x: x[0])],
                                           u.services.clock.now())
    return len(notes)

"""The daily screens: conversation list, a conversation, sending, replying, editing, deleting,
new conversations, members, search. Each handler parses, calls one action, renders."""

from __future__ import annotations

import base64
import re
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
from babel.dates import format_date
from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.attachments import upload
from chevet.app.attachments.views import LimitsView
from chevet.app.care import handovers, rosters
from chevet.app.identity import people
from chevet.app.messaging import conversations, memberships, messages, search_index, teams
from chevet.app.messaging.previews import files_label
from chevet.app.messaging.views import MessageView
from chevet.core import blind_index
from chevet.core.errors import ChevetError, InvalidInput, NotFound
from chevet.core.ids import parse_id
from chevet.web.api.mssante import configured_gateway
from chevet.web.pages import alerts as alert_pages
from chevet.web.pages.page import Page, SignedInPage, field_of, read_form, signed_in, ui, wants_json
from chevet.web.responses import Json

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 40
_MENTION = re.compile(r"@\[([0-9a-fA-F-]{36})\]")
KINDS = ("care_case", "direct", "group", "team")
KIND_PERMISSION = {"care_case": "create_care_case", "direct": "create_direct", "group": "create_group",
                   "team": "create_team_channel"}


def _int(value: str | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 10:
        return None
    return int(value)


def segments(body: str, names: dict[str, str]) -> list[tuple[str, bool]]:
    """A message body cut into text and @mentions (shown with the person's name)."""
    out: list[tuple[str, bool]] = []
    last = 0
    for m in _MENTION.finditer(body):
        out.append((body[last:m.start()], False))
        out.append(("@" + names.get(m.group(1).lower(), "?"), True))
        last = m.end()
    out.append((body[last:], False))
    return [s for s in out if s[0]]


def with_mentions(body: str, members: list[memberships.MemberView]) -> str:
    """``@Paul Lefèvre`` typed in the composer becomes a mention of that member (``@[id]``),
    so that mentions work without a script; longest names first."""
    for m in sorted(members, key=lambda m: len(m.name), reverse=True):
        if f"@{m.name}" in body:
            body = body.replace(f"@{m.name}", f"@[{m.id}]")
    return body


def day_label(p: Page, at: datetime) -> str:
    day = p.local(at).date()
    today = p.local(p.services.clock.now()).date()
    if day == today:
        return p.t("ui.today")
    if day == today - timedelta(days=1):
        return p.t("ui.yesterday")
    return format_date(day, format="EEEE d MMMM y" if day.year != today.year else "EEEE d MMMM", locale=p.lang)


def cursors_attr(positions: dict[uuid.UUID, int]) -> str:
    raw = orjson.dumps({str(k): v for k, v in positions.items()})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@router.get("/")
@ui
async def home(request: Request) -> Response:
    p = await signed_in(request)
    listing = await conversations.conversation_list(p.services, p.actor)
    previews = listing["previews"]
    items: list[dict[str, Any]] = [{**item, "when": p.local(datetime.fromisoformat(item["last_activity"])),
                                    "preview": (previews or {}).get(item["id"])}
                                   for item in listing["conversations"]]
    positions = {uuid.UUID(c["id"]): c["last_seq"] for c in items}
    return p.render("list.html", conversations=items, cursors=cursors_attr(positions), previews=previews is not None,
                    today=p.local(p.services.clock.now()).date(), notice=request.query_params.get("notice"),
                    handovers_waiting=await handovers.waiting(p.services, p.actor))


async def _conversation_context(p: SignedInPage, conversation_id: uuid.UUID, before: int | None) -> dict[str, Any]:
    conv = await conversations.get_conversation(p.services, p.actor, conversation_id)
    items: list[dict[str, Any]] = [{**i} for i in await messages.history(p.services, p.actor, conversation_id,
                                                                         before_seq=before, limit=PAGE_SIZE)]
    members = await memberships.members_of(p.services, p.actor, conversation_id)
    names = {str(m.id): m.name for m in members}
    by_seq = {i["seq"]: i for i in items if "body" in i}
    for i in by_seq.values():  # what a reply's quote names a message without text by
        if not i["deleted"] and not i["body"] and i.get("attachments"):
            i["files"] = files_label([a["mime"] for a in i["attachments"]], [a["kind"] for a in i["attachments"]])
    days: list[tuple[str, list[dict[str, Any]]]] = []
    for item in items:
        at = datetime.fromisoformat(item.get("created_at") or item["at"])
        item["local"] = p.local(at)
        label = day_label(p, at)
        if not days or days[-1][0] != label:
            days.append((label, []))
        days[-1][1].append(item)
    me = str(p.actor.id)
    seen_by: dict[int, list[str]] = {}
    message_seqs = sorted(by_seq)
    for m in members:
        if str(m.id) == me:
            continue
        upto = [s for s in message_seqs if s <= m.read_seq]
        if upto:
            seen_by.setdefault(upto[-1], []).append(m.name)
    read_seq = int(conv.get("read_seq", 0))
    urgent = [i for i in items if i.get("urgent") and not i.get("deleted") and i["seq"] > read_seq
              and i.get("author_id") != me]
    first_new = next((i["seq"] for i in items if "body" in i and i["seq"] > read_seq and i.get("author_id") != me),
                     None)
    oldest = items[0]["seq"] if items else None
    alerts = await alert_pages.conversation_block(p, conversation_id)
    # Role addresses (@garde) the composer suggests next to the members (app/care/rosters.py).
    roles = [{"slug": r.slug, "label": r.label} for r in await rosters.role_choices(p.services, p.actor)]
    return {**alerts, "conversation": conv, "days": days, "by_seq": by_seq, "names": names, "members": members,
            "roles": roles,
            "seen_by": seen_by, "urgent": urgent[-1] if urgent else None, "first_new": first_new,
            "older": oldest if oldest is not None and oldest > 1 and len(items) >= PAGE_SIZE else None,
            "me": me, "segments": segments,
            "mss_ready": configured_gateway(p.request) is not None}  # the synthesis leaves through MSSanté


@router.get("/c/{conversation_id}")
@ui
async def conversation(conversation_id: str, request: Request) -> Response:
    p = await signed_in(request)
    cid = parse_id(conversation_id)
    before = _int(request.query_params.get("before"))
    ctx = await _conversation_context(p, cid, before)
    if request.query_params.get("fragment") == "1":
        return p.render("_messages.html", **ctx)
    conv = ctx["conversation"]
    if before is None and conv["last_seq"] > conv.get("read_seq", 0):
        await conversations.mark_read(p.services, p.actor, cid, conv["last_seq"])
    reply = None
    reply_id = request.query_params.get("reply")
    if reply_id:
        reply = next((i for _, day in ctx["days"] for i in day if i.get("id") == reply_id and "body" in i), None)
    positions = await conversations.positions(p.services, p.actor)
    return p.render("conversation.html", **ctx, reply=reply, client_id=secrets.token_urlsafe(12),
                    cursors=cursors_attr(positions), draft="", error=None, limits=_limits(p))


def _limits(p: Page) -> LimitsView | None:
    """Sizes and types accepted, shown before choosing a file (RGESN 4.11)."""
    try:
        return upload.limits_view(p.services)
    except (ChevetError, AttributeError, LookupError):
        return None


@router.post("/c/{conversation_id}/send")
@ui
async def send(conversation_id: str, request: Request) -> Response:
    p = await signed_in(request)
    cid = parse_id(conversation_id)
    form = await read_form(p)
    reply_to = field_of(form, "reply_to", 40)
    body = field_of(form, "body", 1_000_000)
    if "@" in body:
        body = with_mentions(body, await memberships.members_of(p.services, p.actor, cid))
    files = [v for v in form.getlist("attachment_ids") if isinstance(v, str)][:20]
    try:
        view, _ = await messages.send_message(
            p.services, p.actor, cid, body=body, attachment_ids=[parse_id(v) for v in files],
            client_id=field_of(form, "client_id", 64), urgent=field_of(form, "urgent", 5) == "1",
            reply_to=parse_id(reply_to) if reply_to else None, alert_for=field_of(form, "alert_for", 100) or None)
    except (InvalidInput, NotFound) as exc:
        if isinstance(exc, NotFound) and not exc.code.startswith("alert_"):
            raise
        if wants_json(request):
            return Json({"code": exc.code, "detail": p.error_text(exc)}, status_code=422)
        ctx = await _conversation_context(p, cid, None)
        positions = await conversations.positions(p.services, p.actor)
        return p.render("conversation.html", status=422, **ctx, reply=None, client_id=secrets.token_urlsafe(12),
                        cursors=cursors_attr(positions), draft=field_of(form, "body", 70_000),
                        error=p.error_text(exc), limits=_limits(p))
    if wants_json(request):
        return Json(view, status_code=201)
    return p.redirect(f"/c/{cid}#m-{view['seq']}")


@router.post("/c/{conversation_id}/read")
@ui
async def read(conversation_id: str, request: Request) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    seq = _int(field_of(form, "seq", 12))
    if seq is None:
        raise InvalidInput("seq_invalid")
    done = await conversations.mark_read(p.services, p.actor, parse_id(conversation_id), seq)
    return Json({"read_seq": done})


async def _own(p: SignedInPage, cid: uuid.UUID, mid: str) -> MessageView:
    target = parse_id(mid)
    # Looked up in the conversation's recent history: what the screen offers to edit.
    items = await messages.history(p.services, p.actor, cid, limit=200)
    found = next((cast(MessageView, i) for i in items if i.get("id") == str(target) and "body" in i), None)
    if found is None or found["deleted"] or found["author_id"] != str(p.actor.id):
        raise NotFound("message_not_found")
    return found


@router.get("/c/{conversation_id}/m/{message_id}/edit")
@ui
async def edit_form(conversation_id: str, message_id: str, request: Request) -> Response:
    p = await signed_in(request)
    cid = parse_id(conversation_id)
    message = await _own(p, cid, message_id)
    return p.render("edit.html", conversation_id=cid, message=message, error=None)


@router.post("/c/{conversation_id}/m/{message_id}/edit")
@ui
async def edit(conversation_id: str, message_id: str, request: Request) -> Response:
    p = await signed_in(request)
    cid, mid = parse_id(conversation_id), parse_id(message_id)
    form = await read_form(p)
    try:
        view = await messages.edit_message(p.services, p.actor, cid, mid, field_of(form, "body", 1_000_000))
    except InvalidInput as exc:
        message = await _own(p, cid, message_id)
        message["body"] = field_of(form, "body", 70_000)
        return p.render("edit.html", status=422, conversation_id=cid, message=message, error=p.error_text(exc))
    return p.redirect(f"/c/{cid}#m-{view['seq']}")


@router.get("/c/{conversation_id}/m/{message_id}/delete")
@ui
async def delete_form(conversation_id: str, message_id: str, request: Request) -> Response:
    p = await signed_in(request)
    cid = parse_id(conversation_id)
    message = await _own(p, cid, message_id)
    return p.render("delete.html", conversation_id=cid, message=message)


@router.post("/c/{conversation_id}/m/{message_id}/delete")
@ui
async def delete(conversation_id: str, message_id: str, request: Request) -> Response:
    p = await signed_in(request)
    cid = parse_id(conversation_id)
    await read_form(p)
    await messages.delete_message(p.services, p.actor, cid, parse_id(message_id))
    return p.redirect(f"/c/{cid}")


async def _people_choices(p: SignedInPage) -> list[Any]:
    if not p.can("list_people"):
        return []
    return [x for x in await people.search_people(p.services, p.actor, "", 200)
            if x.id != p.actor.id and x.status.value == "active"]


@router.get("/new")
@ui
async def new_form(request: Request) -> Response:
    p = await signed_in(request)
    kind = request.query_params.get("kind", "care_case")
    return p.render("new.html", kinds=[k for k in KINDS if p.can(KIND_PERMISSION[k])],
                    kind=kind if kind in KINDS else "care_case", people=await _people_choices(p),
                    teams=await teams.list_teams(p.services, p.actor) if p.can("create_team_channel") else [],
                    roles=await rosters.role_choices(p.services, p.actor), form={}, chosen=set(), error=None)


@router.post("/new")
@ui
async def new(request: Request) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    kind = field_of(form, "kind", 20)
    chosen = [v for v in form.getlist("members") if isinstance(v, str)][:1000]
    team = field_of(form, "team_id", 40)
    # A role address (« Infirmière de garde ») is whoever holds it at creation (app/care/duty.py).
    roles = [v[:60] for v in form.getlist("roles") if isinstance(v, str) and v][:10] if kind != "team" else []
    try:
        member_ids = [parse_id(v) for v in chosen]
        if kind == "direct" and len(member_ids) + len(roles) != 1:
            raise InvalidInput("direct_needs_one_member")
        view, _ = await conversations.create_conversation(
            p.services, p.actor, kind=kind, title=field_of(form, "title", 500) or None, member_ids=member_ids,
            care_case_ref=field_of(form, "care_case_ref", 500) or None,
            team_id=parse_id(team) if team and kind == "team" else None, role_addresses=roles)
    except ChevetError as exc:
        if not isinstance(exc, (InvalidInput, NotFound)):
            raise
        return p.render("new.html", status=422, kinds=[k for k in KINDS if p.can(KIND_PERMISSION[k])],
                        kind=kind if kind in KINDS else "care_case", people=await _people_choices(p),
                        teams=await teams.list_teams(p.services, p.actor) if p.can("create_team_channel") else [],
                        form={k: field_of(form, k, 500) for k in ("title", "care_case_ref", "team_id")},
                        roles=await rosters.role_choices(p.services, p.actor), chosen=set(chosen) | set(roles),
                        error=p.error_text(exc))
    return p.redirect(f"/c/{view['id']}")


@router.get("/c/{conversation_id}/members")
@ui
async def members(conversation_id: str, request: Request) -> Response:
    p = await signed_in(request)
    cid = parse_id(conversation_id)
    conv = await conversations.get_conversation(p.services, p.actor, cid)
    current = await memberships.members_of(p.services, p.actor, cid)
    inside = {m.id for m in current}
    candidates = [x for x in await _people_choices(p) if x.id not in inside]
    may_manage = str(p.actor.id) in conv.get("owner_ids", []) or p.can("manage_any_conversation")
    return p.render("members.html", conversation=conv, members=current, candidates=candidates,
                    may_manage=may_manage and conv["kind"] != "direct", me=p.actor.id,
                    notice=request.query_params.get("notice"))


@router.post("/c/{conversation_id}/members")
@ui
async def add_member(conversation_id: str, request: Request) -> Response:
    p = await signed_in(request)
    cid = parse_id(conversation_id)
    form = await read_form(p)
    await conversations.add_member(p.services, p.actor, cid, parse_id(field_of(form, "person_id", 40)),
                                   share_history=field_of(form, "history", 5) == "1")
    return p.redirect(f"/c/{cid}/members?notice=member_added")


@router.post("/c/{conversation_id}/members/{person_id}/remove")
@ui
async def remove_member(conversation_id: str, person_id: str, request: Request) -> Response:
    p = await signed_in(request)
    cid, pid = parse_id(conversation_id), parse_id(person_id)
    await read_form(p)
    await conversations.remove_member(p.services, p.actor, cid, pid)
    return p.redirect("/" if pid == p.actor.id else f"/c/{cid}/members?notice=member_removed")


@router.get("/search")
@ui
async def search(request: Request) -> Response:
    p = await signed_in(request)
    q = (request.query_params.get("q") or "").strip()[:200]
    results: list[dict[str, Any]] = []
    handover_hits: list[handovers.HandoverHit] = []
    error = None
    if q:
        try:
            handover_hits = await handovers.search(p.services, p.actor, q, 20)
            found = await messages.search(p.services, p.actor, q, 50)
            names = {str(x.id): x.name for x in await _people_choices(p)} if any(r["mentions"] for r in found) else {}
            for r in found:
                at = datetime.fromisoformat(r["created_at"])
                shown = "".join(text for text, _ in segments(r["body"] or "", names))
                results.append({**r, "day": day_label(p, at), "time": p.local(at).strftime("%H:%M"),
                                "snippet": blind_index.snippet(q, shown)})
        except InvalidInput as exc:
            error = p.error_text(exc)
    pending = await search_index.waiting(p.services, p.actor) if q else 0
    return p.render("search.html", q=q, results=results, error=error, pending=pending, handover_hits=handover_hits,
                    moment=lambda at: p.moment(at, year=False))

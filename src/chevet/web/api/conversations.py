from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field, StrictInt
from starlette.routing import Route
from typing_extensions import TypedDict

from chevet.app.messaging import conversations, messages
from chevet.app.messaging.views import (
    ConversationDetailView,
    ConversationMembersView,
    ConversationSummaryView,
    EntryPayload,
    MessageView,
    SearchHitView,
)
from chevet.app.services import Actor, Services
from chevet.core.ids import parse_id
from chevet.web import json_body
from chevet.web.api.models import ConversationIn, Digits, EditIn, MemberIn, MessageIn, ReadIn
from chevet.web.deps import ActorDep, ServicesDep, actor
from chevet.web.responses import Json

router = APIRouter(tags=["conversations"])


class ReadView(TypedDict):
    read_seq: int


@router.post("/conversations", status_code=201, response_model=ConversationMembersView,
             responses={200: {"model": ConversationMembersView,
                              "description": "The direct conversation that already existed between the two"}})
async def create(body: ConversationIn, actor: ActorDep, svc: ServicesDep) -> Json:
    view, created = await conversations.create_conversation(
        svc, actor, kind=body.kind, title=body.title, member_ids=body.member_ids,
        care_case_ref=body.care_case_ref, team_id=body.team_id)
    return Json(view, status_code=201 if created else 200)


@router.get("/conversations")
async def list_(actor: ActorDep, svc: ServicesDep) -> list[ConversationSummaryView]:
    return await conversations.list_conversations(svc, actor)


@router.get("/conversations/{conversation_id}")
async def get(conversation_id: str, actor: ActorDep, svc: ServicesDep) -> ConversationDetailView:
    return await conversations.get_conversation(svc, actor, parse_id(conversation_id))


@router.post("/conversations/{conversation_id}/members", status_code=204)
async def add_member(conversation_id: str, body: MemberIn, actor: ActorDep, svc: ServicesDep) -> Response:
    await conversations.add_member(svc, actor, parse_id(conversation_id), body.person_id,
                                   share_history=body.share_history)
    return Response(status_code=204)


@router.delete("/conversations/{conversation_id}/members/{person_id}", status_code=204)
async def remove_member(conversation_id: str, person_id: str, actor: ActorDep, svc: ServicesDep) -> Response:
    await conversations.remove_member(svc, actor, parse_id(conversation_id), parse_id(person_id))
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/messages", status_code=201, response_model=MessageView)
async def send(conversation_id: str, body: MessageIn, actor: ActorDep, svc: ServicesDep) -> Json:
    """Send a message. Re-sending the same ``client_id`` returns the first message unchanged."""
    return await post_message(svc, actor, conversation_id, body)


async def post_message(svc: Services, actor: Actor, conversation_id: str, body: MessageIn) -> Json:
    view, created = await messages.send_message(svc, actor, parse_id(conversation_id), body=body.body,
                                                client_id=body.client_id, urgent=body.urgent,
                                                reply_to=body.reply_to, attachment_ids=body.attachment_ids,
                                                alert_for=body.alert_for)
    return Json(view, status_code=201, headers={} if created else {"Idempotent-Replayed": "true"})


SEND_PATH = "/api/v1/conversations/{conversation_id}/messages"


async def _send_fast(request: Request) -> Response:
    # In FastAPI's order: the body is decoded, then the actor found, then the body validated.
    svc: Services = request.app.state.services
    decoded = json_body.decode(await request.body(), request.headers.get("content-type"))
    who = await actor(request, svc)
    return await post_message(svc, who, request.path_params["conversation_id"],
                              json_body.validated(MessageIn, decoded))


# The busiest route of all, matched before FastAPI's router: same middlewares, same errors and
# the same code as ``send`` above (which documents it), without walking the route table and the
# dependency solver on every message (a fifth of the server's CPU per message under load).
fast_routes = [Route(SEND_PATH, _send_fast, methods=["POST"], include_in_schema=False)]


@router.get("/conversations/{conversation_id}/messages")
async def history(conversation_id: str, actor: ActorDep, svc: ServicesDep,
                  after_seq: Annotated[StrictInt | None, Field(ge=0, le=2**31 - 1), Digits, Query()] = None,
                  before_seq: Annotated[StrictInt | None, Field(ge=0, le=2**31 - 1), Digits, Query()] = None,
                  limit: Annotated[StrictInt, Field(ge=1, le=200), Digits, Query()] = 50
                  ) -> list[MessageView | EntryPayload]:
    return await messages.history(svc, actor, parse_id(conversation_id), after_seq=after_seq,
                                  before_seq=before_seq, limit=limit)


@router.patch("/conversations/{conversation_id}/messages/{message_id}")
async def edit(conversation_id: str, message_id: str, body: EditIn, actor: ActorDep,
               svc: ServicesDep) -> MessageView:
    return await messages.edit_message(svc, actor, parse_id(conversation_id), parse_id(message_id), body.body)


@router.delete("/conversations/{conversation_id}/messages/{message_id}", status_code=204)
async def delete(conversation_id: str, message_id: str, actor: ActorDep, svc: ServicesDep) -> Response:
    await messages.delete_message(svc, actor, parse_id(conversation_id), parse_id(message_id))
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/read")
async def read(conversation_id: str, body: ReadIn, actor: ActorDep, svc: ServicesDep) -> ReadView:
    return {"read_seq": await conversations.mark_read(svc, actor, parse_id(conversation_id), body.seq)}


@router.get("/search")
async def search(actor: ActorDep, svc: ServicesDep, q: str = Query(..., min_length=1, max_length=200),
                 limit: Annotated[StrictInt, Field(ge=1, le=100), Digits, Query()] = 50) -> list[SearchHitView]:
    """Search the caller's conversations (blind index; see docs/security.md for what it leaks)."""
    return await messages.search(svc, actor, q, limit)

"""The send route is matched before FastAPI's router (``fast_routes``). Every answer it gives,
good or bad, must be the one FastAPI's documented route gives for the same request."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from chevet.app.identity import auth
from chevet.app.messaging import conversations
from chevet.bootstrap import Installation
from chevet.web.api.conversations import fast_routes
from chevet.web.app import create_app
from tests.support import new_member, new_org


def _shape(r: httpx.Response) -> tuple[Any, ...]:
    body = r.json() if r.content else None
    if isinstance(body, dict):  # what differs between two sends of one message, not between routes
        body = {k: v for k, v in body.items() if k not in ("id", "seq", "created_at")}
    headers = {k: v for k, v in r.headers.items() if k not in ("content-length", "date")}
    return r.status_code, headers, body


async def test_the_fast_send_route_answers_as_the_documented_one(installation: Installation) -> None:
    svc = installation.services
    org, other = await new_org(svc), await new_org(svc)
    nurse, doc = await new_member(svc, org, "nurse"), await new_member(svc, org, "physician")
    stranger = await new_member(svc, other, "nurse")
    view, _ = await conversations.create_conversation(svc, nurse.actor, kind="group", title="Nuit", member_ids=[doc.id])
    nurse_token = (await auth.login(svc, nurse.email, nurse.password, nurse.otp())).token
    stranger_token = (await auth.login(svc, stranger.email, stranger.password, stranger.otp())).token
    fast = create_app(installation)
    documented = create_app(installation)
    documented.router.routes = [r for r in documented.router.routes if r not in fast_routes]
    assert fast.router.routes[0] in fast_routes and not any(r in fast_routes for r in documented.router.routes)
    assert "/api/v1/conversations/{conversation_id}/messages" in fast.openapi()["paths"]

    send = f"/api/v1/conversations/{view['id']}/messages"
    bearer = {"authorization": f"Bearer {nurse_token}"}
    plain = b'{"body": "x", "client_id": "a"}'
    cases: list[tuple[str, dict[str, str], bytes]] = [
        (send, {**bearer, "content-type": "application/json"}, b'{"body": "Tension 13/8", "client_id": "%s"}'),
        (send, {**bearer, "content-type": "application/json"}, b'{"body": "Tension 13/8", "client_id": "%s"}'),
        (send, {**bearer, "content-type": "application/json", "accept-language": "en"}, b"{nope"),
        (send, {**bearer, "content-type": "application/json"}, b'{"body": 42, "client_id": "a"}'),
        (send, {**bearer, "content-type": "application/json"}, b'{"client_id": "a"}'),
        (send, {**bearer, "content-type": "application/json"}, b'{"body": "x", "client_id": "a", "extra": 1}'),
        (send, {**bearer, "content-type": "application/json"}, b'["body"]'),
        (send, {**bearer, "content-type": "application/json"}, b'{"body": "   ", "client_id": "a"}'),
        (send, {**bearer, "content-type": "application/json"}, b'{"body": "x", "client_id": "bad id!"}'),
        (send, {**bearer, "content-type": "application/json"},
         b'{"body": "x", "client_id": "r", "reply_to": "%s"}' % str(uuid.uuid4()).encode()),
        (send, {**bearer, "content-type": "application/json"}, b'{"body": "x", "client_id": "u", "urgent": "yes"}'),
        (send, {"content-type": "application/json"}, b'{"body": "x", "client_id": "a"}'),
        (send, {"authorization": "Bearer forged", "content-type": "application/json"}, plain),
        (send, {"authorization": f"Bearer {stranger_token}", "content-type": "application/json"},
         b'{"body": "x", "client_id": "a"}'),
        (f"/api/v1/conversations/{uuid.uuid4()}/messages", {**bearer, "content-type": "application/json"},
         b'{"body": "x", "client_id": "a"}'),
        ("/api/v1/conversations/not-an-id/messages", {**bearer, "content-type": "application/json"},
         b'{"body": "x", "client_id": "a"}'),
        (send, {**bearer, "content-type": "application/json"}, b'{"body": "%s", "client_id": "big"}' % (b"x" * 70000)),
        # Strict JSON and strict types: nothing coerced, no name given twice, no NaN.
        (send, {**bearer, "content-type": "application/json"}, b'{"body": "x", "client_id": "d", "body": "y"}'),
        (send, {**bearer, "content-type": "application/json"},
         b'{"body": "x", "client_id": "d", "urgent": false, "urgent": true}'),
        (send, {**bearer, "content-type": "application/json"}, b'{"body": "x", "client_id": "u", "urgent": 1}'),
        (send, {**bearer, "content-type": "application/json"}, b'{"body": true, "client_id": "t"}'),
        (send, {**bearer, "content-type": "application/json"}, b'{"body": "x", "client_id": 7}'),
        (send, {**bearer, "content-type": "application/json"}, b'{"body": "x", "client_id": "r", "reply_to": 1}'),
        (send, {**bearer, "content-type": "application/json"},
         b'{"body": "x", "client_id": "a", "attachment_ids": [1]}'),
        (send, {**bearer, "content-type": "application/json"},
         b'{"body": "x", "client_id": "a", "attachment_ids": null}'),
        (send, {**bearer, "content-type": "application/json"}, b'{"body": "x", "client_id": "n", "urgent": NaN}'),
        (send, {**bearer, "content-type": "application/json"}, b'[{"a": 1, "a": 2}]'),
        (send, {**bearer, "content-type": "application/json"}, b""),
        (send, {**bearer, "content-type": "text/plain"}, plain),
        (send, bearer, plain),
        (send, {"content-type": "application/json"}, b'{"body": "x", "client_id": "a", "body": "y"}'),
        (send, {"content-type": "application/json"}, b"{nope"),
    ]
    transports = {name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chevet.test")
                  for name, app in (("fast", fast), ("documented", documented))}
    try:
        for i, (path, headers, body) in enumerate(cases):
            answers = []
            for name, client in transports.items():
                content = body.replace(b"%s", name.encode())  # the first two: a send, then its retry
                answers.append(_shape(await client.post(path, headers=headers, content=content)))
            assert answers[0] == answers[1], (i, answers)
            assert answers[0][0] < 500
            if i == 1:
                assert answers[0][0] == 201 and answers[0][1]["idempotent-replayed"] == "true"
    finally:
        for client in transports.values():
            await client.aclose()

"""The OpenAPI document says what the API answers: every operation documents its success with
a schema and its refusals as problem details (RFC 9457), and real answers of the main
operations match the schemas documented for them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jsonschema
import orjson
import pytest

from chevet.app.governance import retention
from chevet.app.identity import auth
from chevet.app.messaging import conversations, messages
from chevet.bootstrap import Installation
from chevet.web.app import create_app
from tests.support import new_member, new_org

PROBLEM = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture
async def client(installation: Installation) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(installation)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chevet.test",
                                 timeout=30) as c:
        yield c


def api_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, methods in document["paths"].items() if path.startswith("/api/")
            for method, op in methods.items()]


async def test_every_operation_documents_its_refusals_as_problems(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/openapi.json")).json()
    operations = api_operations(document)
    assert len(operations) >= 100
    assert "Problem" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]  # 422 is a problem too
    wrong = []
    for path, method, op in operations:
        refusals = {s: r for s, r in op["responses"].items() if s.startswith(("4", "5"))}
        if "422" not in refusals or "503" not in refusals:
            wrong.append(f"{method.upper()} {path}: no 422 or 503")
        for status, response in refusals.items():
            if response.get("content") != {"application/problem+json": {"schema": PROBLEM}}:
                wrong.append(f"{method.upper()} {path} {status}: {response.get('content')}")
        signed_in = "401" in refusals
        if path.startswith("/api/v1/admin/") and not signed_in:
            wrong.append(f"{method.upper()} {path}: administration without 401")
        if "{" in path and "404" not in refusals:
            wrong.append(f"{method.upper()} {path}: an identifier in the path without 404")
    assert wrong == [], "\n".join(wrong)


def untyped(schema: dict[str, Any]) -> bool:
    """A schema that says nothing of its members: ``{}``, or an object without properties whose
    members may be anything."""
    if "$ref" in schema:
        return False
    if not schema or (schema.get("type") == "object" and "properties" not in schema
                      and schema.get("additionalProperties", True) in (True, {})):
        return True
    if schema.get("type") == "array":
        return untyped(schema.get("items", {}))
    return any(untyped(s) for s in schema.get("anyOf", []))


async def test_every_operation_documents_what_it_answers(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/openapi.json")).json()
    wrong = []
    for path, method, op in api_operations(document):
        successes = {s: r for s, r in op["responses"].items() if s.startswith("2")}
        if not successes:
            wrong.append(f"{method.upper()} {path}: no success documented")
        for status, response in successes.items():
            for media_type, content in response.get("content", {}).items():
                if media_type == "application/json" and untyped(content.get("schema", {})):
                    wrong.append(f"{method.upper()} {path} {status}: {content.get('schema')}")
                elif media_type != "application/json" and not content.get("schema"):
                    wrong.append(f"{method.upper()} {path} {status} {media_type}: no schema")
    assert wrong == [], "\n".join(wrong)


def _closed(schema: Any) -> Any:
    """The schema with every object closed to members it does not document (the Problem
    schema stays open: a refusal's parameters come along)."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _closed(v) for k, v in schema.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def checker(document: dict[str, Any]) -> Callable[[httpx.Response, str, str], None]:
    components = _closed(document["components"])

    def check(r: httpx.Response, path: str, method: str) -> None:
        documented = document["paths"][path][method]["responses"]
        assert str(r.status_code) in documented, (method, path, r.status_code, r.text[:300])
        media_type = r.headers["content-type"].split(";")[0]
        schema = documented[str(r.status_code)]["content"][media_type]["schema"]
        validator = jsonschema.Draft202012Validator({**_closed(schema), "components": components})
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(r.json())]
        assert errors == [], (method, path, errors[:5])
    return check


async def test_answers_match_their_documented_schemas(client: httpx.AsyncClient,
                                                      installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin")
    nurse = await new_member(svc, org, "nurse")
    physician = await new_member(svc, org, "physician")
    document = (await client.get("/api/openapi.json")).json()
    check = checker(document)

    r = await client.post("/api/v1/auth/login", json={"email": admin.email, "password": admin.password,
                                                      "otp": admin.otp()})
    check(r, "/api/v1/auth/login", "post")
    h = {"Authorization": f"Bearer {r.json()['token']}"}
    answers: list[tuple[str, str, httpx.Response]] = []

    async def call(method: str, path: str, url: str | None = None, **kw: Any) -> httpx.Response:
        r = await client.request(method, url or path, headers=kw.pop("headers", h), **kw)
        answers.append((path, method, r))
        return r

    await call("get", "/api/v1/me")
    await call("get", "/api/v1/users")
    await call("get", "/api/v1/auth/sessions")
    team = (await call("post", "/api/v1/teams", json={"name": "Nuit", "member_ids": [str(nurse.id)]})).json()
    await call("get", "/api/v1/teams")
    conv = (await call("post", "/api/v1/conversations",
                       json={"kind": "team", "title": "Relève", "team_id": team["id"]})).json()
    cid = conv["id"]
    direct = {"kind": "direct", "member_ids": [str(nurse.id)]}
    await call("post", "/api/v1/conversations", json=direct)
    replay = await call("post", "/api/v1/conversations", json=direct)
    assert replay.status_code == 200
    messages = "/api/v1/conversations/{conversation_id}/messages"
    sent = (await call("post", messages, messages.format(conversation_id=cid),
                       json={"body": f"Tension 13/8 @[{nurse.id}]", "client_id": "c1", "urgent": True})).json()
    await call("post", messages, messages.format(conversation_id=cid), json={"body": "x", "client_id": "c1"})
    await call("post", "/api/v1/conversations/{conversation_id}/members",
               f"/api/v1/conversations/{cid}/members", json={"person_id": str(physician.id)})
    await call("patch", "/api/v1/conversations/{conversation_id}/messages/{message_id}",
               f"/api/v1/conversations/{cid}/messages/{sent['id']}", json={"body": "Tension 12/8"})
    await call("get", messages, messages.format(conversation_id=cid))
    await call("get", "/api/v1/conversations")
    await call("get", "/api/v1/conversations/{conversation_id}", f"/api/v1/conversations/{cid}")
    await call("post", "/api/v1/conversations/{conversation_id}/read", f"/api/v1/conversations/{cid}/read",
               json={"seq": 1})
    await call("get", "/api/v1/search", params={"q": "tension"})
    await call("get", "/api/v1/conversations/{conversation_id}/retention", f"/api/v1/conversations/{cid}/retention")
    await call("get", "/api/v1/retention/policies")
    await call("get", "/api/v1/retention/expiring", params={"within_days": 3650})
    await call("get", "/api/v1/audit/traces", params={"conversation_id": cid})
    await call("get", "/api/v1/auth/recovery-codes")
    await call("get", "/api/v1/organisation/session-policy")
    await call("get", "/api/v1/auth/passkeys")
    await call("get", "/api/v1/auth/psc")
    await call("get", "/api/v1/me/data")
    await call("get", "/api/v1/gdpr/register")
    await call("get", "/api/v1/gdpr/breaches")
    await call("get", "/api/v1/admin/sobriety")
    await call("get", "/api/v1/directory/status")
    await call("get", "/api/v1/reports")
    await call("get", "/api/v1/retention/reports")
    # Refusals: not signed in, unknown, invalid, not JSON.
    await call("get", "/api/v1/conversations/{conversation_id}", f"/api/v1/conversations/{uuid.uuid4()}")
    await call("post", messages, messages.format(conversation_id=cid), json={"body": 5, "client_id": "c2"})
    await call("post", "/api/v1/teams", content=b"{nope", headers={**h, "content-type": "application/json"})
    r = await client.get("/api/v1/me")
    answers.append(("/api/v1/me", "get", r))

    statuses = sorted({r.status_code for _, _, r in answers})
    assert statuses == [200, 201, 204, 400, 401, 404, 422], statuses
    for path, method, r in answers:
        if r.status_code != 204:
            check(r, path, method)


async def test_declared_models_change_no_answer(client: httpx.AsyncClient, installation: Installation) -> None:
    """FastAPI validates and serialises an answer through its declared model, which could
    drop, reorder or convert members: the bytes answered are those the application returned."""
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin")
    nurse = await new_member(svc, org, "nurse")
    view, _ = await conversations.create_conversation(svc, admin.actor, kind="group", title="Nuit",
                                                      member_ids=[nurse.id])
    cid = uuid.UUID(view["id"])
    await messages.send_message(svc, nurse.actor, cid, body=f"Tension @[{admin.id}]", client_id="a", urgent=True)
    await conversations.add_member(svc, admin.actor, cid, (await new_member(svc, org, "physician")).id)
    signed = await auth.login(svc, admin.email, admin.password, admin.otp())
    h = {"Authorization": f"Bearer {signed.token}"}
    expected = {
        f"/api/v1/conversations/{cid}": await conversations.get_conversation(svc, admin.actor, cid),
        f"/api/v1/conversations/{cid}/messages": await messages.history(svc, admin.actor, cid),
        "/api/v1/conversations": await conversations.list_conversations(svc, admin.actor),
        "/api/v1/search?q=tension": await messages.search(svc, admin.actor, "tension"),
        "/api/v1/retention/policies": await retention.policies(svc, admin.actor, org.id),
    }
    for url, value in expected.items():
        r = await client.get(url, headers=h)
        assert r.status_code == 200, (url, r.text)
        assert r.content == orjson.dumps(value), url

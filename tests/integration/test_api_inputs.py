"""Bad input over HTTP: a clear 4xx problem in the caller's language, nothing changed, never
a 500. Another organisation's objects answer 404 as if they did not exist."""

from __future__ import annotations

import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chevet.app.identity import addresses
from chevet.app.messaging import conversations
from chevet.bootstrap import Installation
from tests.support import Server, login, new_member, new_org


@pytest.fixture
async def world(installation: Installation, server: Server) -> dict:
    svc = installation.services
    org, other = await new_org(svc), await new_org(svc)
    nurse, doc = await new_member(svc, org, "nurse"), await new_member(svc, org, "physician")
    stranger = await new_member(svc, other, "admin")
    view, _ = await conversations.create_conversation(svc, nurse.actor, kind="group", title="Nuit", member_ids=[doc.id])
    return {"url": server.url, "conv": view["id"], "nurse": {"Authorization": f"Bearer {login(server.url, nurse)}"},
            "stranger": {"Authorization": f"Bearer {login(server.url, stranger)}"}, "doc": doc}


def _problem(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["detail"] and body["title"]
    if code:
        assert body["code"] == code
    return body


def _count(url: str, conv: str, headers: dict) -> int:
    return len(httpx.get(f"{url}/api/v1/conversations/{conv}/messages", headers=headers).json())


def test_malformed_and_mistyped_bodies(world: dict) -> None:
    url, conv, h = world["url"], world["conv"], world["nurse"]
    before = _count(url, conv, h)
    send = f"{url}/api/v1/conversations/{conv}/messages"
    body = _problem(httpx.post(send, headers={**h, "content-type": "application/json"}, content=b"{nope"),
                    400, "json_invalid")
    assert body["detail"] == "Le corps de la requête n'est pas un JSON valide."
    _problem(httpx.post(send, headers=h, json={"body": 42, "client_id": "a"}), 422, "request_invalid")
    _problem(httpx.post(send, headers=h, json={"client_id": "a"}), 422, "request_invalid")
    _problem(httpx.post(send, headers=h, json={"body": "x", "client_id": "a", "urgent": "yes"}), 422)
    _problem(httpx.post(send, headers=h, json={"body": "x", "client_id": "a", "extra": 1}), 422)
    _problem(httpx.post(send, headers=h, json={"body": "   ", "client_id": "a"}), 422, "body_required")
    _problem(httpx.post(send, headers=h, json={"body": "x", "client_id": "bad id!"}), 422, "client_id_invalid")
    _problem(httpx.post(send, headers=h, json=["body"]), 422)
    _problem(httpx.post(send, headers=h, json={"body": "x", "client_id": "r", "reply_to": str(uuid.uuid4())}),
             404, "message_not_found")
    en = _problem(httpx.post(send, headers={**h, "Accept-Language": "en"}, json={"body": "", "client_id": "a"}), 422)
    assert en["detail"] == "The message is empty."
    # Strict types and strict JSON (see test_api_strict.py for every operation).
    urgent = _problem(httpx.post(send, headers=h, json={"body": "x", "client_id": "u", "urgent": 1}), 422)
    assert urgent["fields"] == ["urgent"] and urgent["errors"] == ["Le champ urgent doit valoir true ou false "
                                                                   "(reçu : un nombre)."]
    twice = _problem(httpx.post(send, headers={**h, "content-type": "application/json"},
                                content=b'{"body": "x", "client_id": "d", "body": "y"}'), 422, "request_invalid")
    assert twice["fields"] == ["body"]
    _problem(httpx.post(send, headers={**h, "content-type": "application/json"},
                        content=b'{"body": "x", "client_id": "n", "urgent": NaN}'), 400, "json_invalid")
    rules = f"{url}/api/v1/admin/attachments/rules"
    _problem(httpx.put(rules, headers=h, json={"org_quota_bytes": False}), 422, "request_invalid")
    _problem(httpx.get(f"{url}/api/v1/conversations/{conv}/messages?limit=true", headers=h), 422, "request_invalid")
    _problem(httpx.get(f"{url}/api/v1/conversations/{conv}/messages?limit=1.0", headers=h), 422, "request_invalid")
    assert _count(url, conv, h) == before


def test_oversize_bodies(world: dict) -> None:
    url, conv, h = world["url"], world["conv"], world["nurse"]
    send = f"{url}/api/v1/conversations/{conv}/messages"
    big = "é" * 40_000  # 80 kB of UTF-8: over the 64 KiB message limit, under the request limit
    _problem(httpx.post(send, headers=h, json={"body": big, "client_id": "big"}), 413, "message_too_large")
    huge = b'{"body": "' + b"a" * 300_000 + b'", "client_id": "huge"}'
    _problem(httpx.post(send, headers={**h, "content-type": "application/json"}, content=huge), 413,
             "request_too_large")

    def chunks():  # no Content-Length: the limit still holds while streaming
        yield b'{"body": "'
        for _ in range(40):
            yield b"a" * 10_000
        yield b'", "client_id": "stream"}'

    _problem(httpx.post(send, headers={**h, "content-type": "application/json"}, content=chunks()), 413)
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_unknown_and_foreign_ids_are_not_found(world: dict) -> None:
    url, conv = world["url"], world["conv"]
    for h in (world["nurse"], world["stranger"]):
        for path in (f"/api/v1/conversations/{uuid.uuid4()}", "/api/v1/conversations/not-a-uuid",
                     "/api/v1/conversations/..%2F..%2Fetc"):
            _problem(httpx.get(url + path, headers=h), 404)
    stranger = world["stranger"]
    _problem(httpx.get(f"{url}/api/v1/conversations/{conv}", headers=stranger), 404, "conversation_not_found")
    _problem(httpx.get(f"{url}/api/v1/conversations/{conv}/messages", headers=stranger), 404)
    _problem(httpx.post(f"{url}/api/v1/conversations/{conv}/messages", headers=stranger,
                        json={"body": "intrusion", "client_id": "i"}), 404)
    _problem(httpx.post(f"{url}/api/v1/conversations", headers=stranger,
                        json={"kind": "direct", "member_ids": [str(world["doc"].id)]}), 422, "unknown_member")
    users = httpx.get(f"{url}/api/v1/users", headers=stranger).json()
    assert len(users) == 1


def test_authentication_is_required_everywhere(world: dict) -> None:
    url = world["url"]
    for method, path in (("GET", "/api/v1/me"), ("GET", "/api/v1/conversations"), ("GET", "/api/v1/search?q=x"),
                         ("GET", "/api/v1/auth/sessions"), ("POST", "/api/v1/auth/logout")):
        _problem(httpx.request(method, url + path), 401, "authentication_required")
        _problem(httpx.request(method, url + path, headers={"Authorization": "Bearer forged"}), 401,
                 "session_invalid")
    _problem(httpx.post(f"{url}/api/v1/auth/login", json={"email": "a@b.example", "password": "x", "otp": "1"}),
             401, "login_failed")
    _problem(httpx.get(f"{url}/api/v1/nowhere"), 404)
    _problem(httpx.delete(f"{url}/api/v1/me"), 405)


def test_security_headers_and_openapi(world: dict) -> None:
    r = httpx.get(f"{world['url']}/api/openapi.json")
    assert r.status_code == 200 and "/api/v1/conversations/{conversation_id}/messages" in r.json()["paths"]
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4), max_leaves=12))
def test_no_json_body_produces_a_server_error(world: dict, payload: object) -> None:
    url, conv, h = world["url"], world["conv"], world["nurse"]
    for path in (f"/api/v1/conversations/{conv}/messages", "/api/v1/conversations", "/api/v1/auth/login",
                 f"/api/v1/conversations/{conv}/read"):
        r = httpx.post(url + path, headers=h, json=payload)
        assert r.status_code < 500, (path, payload, r.text)


async def test_invitation_over_http_with_svg_qr_code(installation: Installation, server: Server) -> None:
    import time

    from chevet.core import totp

    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin")
    h = {"Authorization": f"Bearer {login(server.url, admin)}"}
    r = httpx.post(f"{server.url}/api/v1/users/invitations", headers=h,
                   json={"email": "aide@nuit.example", "name": "Aide de nuit", "role": "care_assistant"})
    assert r.status_code == 201, r.text
    token = r.json()["invitation_token"]
    assert httpx.get(f"{server.url}/api/v1/invitations/{token}").json()["name"] == "Aide de nuit"
    _problem(httpx.post(f"{server.url}/api/v1/invitations/{token}/accept", json={"password": "court"}), 422,
             "password_too_short")
    enrol = httpx.post(f"{server.url}/api/v1/invitations/{token}/accept", json={"password": "phrase-de-passe-longue"})
    assert enrol.status_code == 200 and enrol.json()["qr_svg"].lstrip().startswith("<svg")
    secret = enrol.json()["totp_secret"]
    step = totp.step_of(time.time())
    r = httpx.post(f"{server.url}/api/v1/invitations/{token}/confirm", json={"otp": totp.code_at(secret, step)})
    assert r.status_code == 200 and r.json()["status"] == "active"
    _problem(httpx.get(f"{server.url}/api/v1/invitations/{token}"), 404, "invitation_invalid")
    r = httpx.post(f"{server.url}/api/v1/auth/login", json={"email": "aide@nuit.example",
                                                           "password": "phrase-de-passe-longue",
                                                           "otp": totp.code_at(secret, step + 1)})
    assert r.status_code == 200
    async with svc.db.transaction() as tx:
        [entry] = [e for e in await tx.audit.query(org.id, limit=20) if e.action == "auth.login"
                   and e.actor_id != admin.id]
        keys = await addresses.keys_for(svc, tx, org.id, [entry])
    # From where: sealed under her own address key (destroyed if she is ever anonymised).
    assert entry.ip is None and addresses.recorded(entry, keys) == "127.0.0.1"

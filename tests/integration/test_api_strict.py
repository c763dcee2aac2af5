"""Strict types at the API boundary, checked from the contract: for every operation of
``/api/openapi.json`` that takes a JSON body, each field is sent with values of the wrong JSON
type (a boolean for a number, a number for a text, an identifier or a date, a numeric text
for a number, null where the schema does not allow it, an unknown field, a field given twice).
Each is refused with a 422 problem in French naming the field, and the database is unchanged
afterwards, byte for byte. Integer query parameters get the same treatment.

The application runs in process (the real application and database, without a server process:
about 1,300 requests here, where a server adds nothing but start-up time); the HTTP side of
the same checks runs against a real server in test_api_inputs.py."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

import chevet.adapters.db.schema as schema
import chevet.adapters.db.schema_attachments
import chevet.adapters.db.schema_governance
import chevet.adapters.db.schema_identity
import chevet.adapters.db.schema_mssante
import chevet.adapters.db.schema_signalement
import chevet.adapters.db.schema_web  # noqa: F401  (every table registered on the metadata)
from chevet.app.identity import auth
from chevet.app.messaging import conversations
from chevet.bootstrap import Installation
from chevet.web.app import create_app
from tests.support import Member, new_member, new_org

# Dependencies that answer before the body is validated, whatever it holds: the MSSanté
# gateway is not configured in this installation.
REFUSED_FIRST = {("/api/v1/mssante/exchanges", "post"): "mss_not_configured"}
SOME_ID = str(uuid.uuid4())


@pytest.fixture
async def client(installation: Installation) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(installation)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chevet.test",
                                 timeout=30) as c:
        yield c


async def bearer(installation: Installation, member: Member) -> dict[str, str]:
    signed = await auth.login(installation.services, member.email, member.password, member.otp())
    return {"Authorization": f"Bearer {signed.token}"}


async def fingerprint(installation: Installation) -> str:
    """A digest of every row of every table. Signing in moves the session's last use time,
    which is no change a refused request makes."""
    digest = hashlib.sha256()
    async with installation.services.db.engine.connect() as conn:
        for table in sorted(schema.metadata.tables.values(), key=lambda t: t.name):
            columns = [c for c in table.columns if not (table.name == "session" and c.name == "last_used_at")]
            rows = (await conn.execute(sa.select(*columns))).all()
            digest.update(f"{table.name}:{sorted(map(repr, rows))}".encode())
    return digest.hexdigest()


def _alternatives(prop: dict[str, Any]) -> list[dict[str, Any]]:
    # A nested model (a "$ref" to another schema) is a JSON object.
    return [{"type": "object"} if "$ref" in a else a for a in prop.get("anyOf", [prop])]


def _valid(prop: dict[str, Any]) -> Any:
    """A value of the right JSON type (not necessarily one the operation will accept)."""
    alt = next(a for a in _alternatives(prop) if a.get("type") != "null")
    kind, fmt = alt.get("type"), alt.get("format")
    if kind == "string":
        return SOME_ID if fmt == "uuid" else "2026-03-01T08:30:00+01:00" if fmt == "date-time" else "x"
    return {"integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}.get(kind, "x")


def wrong_values(prop: dict[str, Any]) -> list[Any]:
    """Values of another JSON type than the field's, that a lenient parser would coerce."""
    alts = _alternatives(prop)
    kinds = {a.get("type") for a in alts}
    fmts = {a.get("format") for a in alts}
    out: list[Any] = []
    if "integer" in kinds:
        out += [True, False, "1", 1.5]
    if "number" in kinds:
        out += [True, "1.5"]
    if "boolean" in kinds:
        out += [1, 0, "true", "false"]
    if "string" in kinds:
        if "uuid" in fmts:
            out += [1, True, ["x"]]
        elif "date-time" in fmts:
            out += [1700000000, "1700000000", True, "2026-03-01T08:30:00"]  # Unix time, naive
        else:
            out += [1, True, ["x"]]
    if "array" in kinds:
        items = next(a for a in alts if a.get("type") == "array").get("items", {})
        out += ["x", {"a": 1}]
        out += [[w] for w in wrong_values(items)[:2]] if items.get("type") or items.get("anyOf") else []
    if "object" in kinds:
        out += ["x", ["x"], 1]
    if "null" not in kinds:
        out.append(None)
    return out


def _resolve(doc: dict[str, Any], schema_or_ref: dict[str, Any]) -> dict[str, Any]:
    ref = schema_or_ref.get("$ref")
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema_or_ref


def json_operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    ops = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                ops.append((path, method, _resolve(doc, content["application/json"]["schema"])))
    return ops


def _url(path: str) -> str:
    for name in ("conversation_id", "message_id", "report_id", "action_id", "team_id", "person_id", "breach_id",
                 "token", "kind", "record_type"):
        path = path.replace("{" + name + "}", SOME_ID)
    return path


def cases(model: dict[str, Any]) -> list[tuple[str, bytes]]:
    """(field, raw body) pairs: each wrong value of each field, an unknown field, each field
    given twice (the second time with a wrong type)."""
    props = model.get("properties", {})
    base = {name: _valid(p) for name, p in props.items()}
    out: list[tuple[str, bytes]] = []
    for name, prop in props.items():
        for wrong in wrong_values(prop):
            out.append((name, json.dumps({**base, name: wrong}).encode()))
        others = json.dumps({k: v for k, v in base.items() if k != name})[1:-1]
        twice = f'"{name}": {json.dumps(base[name])}, "{name}": {json.dumps(wrong_values(prop)[0])}'
        out.append((name, ("{" + twice + (", " + others if others else "") + "}").encode()))
    if model.get("additionalProperties") is False:
        out.append(("surprise", json.dumps({**base, "surprise": 1}).encode()))
    return out


async def test_every_body_field_refuses_other_types(installation: Installation, client: httpx.AsyncClient) -> None:
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin")
    doc_ = await new_member(svc, org, "physician")
    await conversations.create_conversation(svc, admin.actor, kind="group", title="Nuit", member_ids=[doc_.id])
    h = {**await bearer(installation, admin), "content-type": "application/json"}
    schema_doc = (await client.get("/api/openapi.json")).json()
    operations = json_operations(schema_doc)
    assert len(operations) >= 40  # every body of the API, not a sample
    before = await fingerprint(installation)
    failures: list[str] = []
    sent = 0
    for path, method, model in operations:
        expected = REFUSED_FIRST.get((path, method), "request_invalid")
        for field, raw in cases(model):
            r = await client.request(method, _url(path), content=raw, headers=h)
            sent += 1
            body = r.json() if r.headers.get("content-type") == "application/problem+json" else {}
            named = body.get("code") != "request_invalid" or field in body.get("fields", []) or any(
                f.startswith(field + "[") for f in body.get("fields", []))
            if r.status_code != 422 or body.get("code") not in ("request_invalid", expected) or not named \
                    or r.headers.get("content-language") != "fr":
                failures.append(f"{method.upper()} {path} {raw.decode()[:120]} -> {r.status_code} {r.text[:160]}")
    assert sent > 500
    accepted = [f for f in failures if " -> 2" in f]
    reached = [f for f in failures if "request_invalid" not in f and f not in accepted]
    assert failures == [], (f"{len(accepted)} of {sent} accepted, {len(reached)} more not refused as invalid "
                            f"(the operation ran), {len(failures) - len(accepted) - len(reached)} refused without "
                            "naming the field:\n" + "\n".join((accepted + reached + failures)[:40]))
    assert await fingerprint(installation) == before


async def test_refusals_say_what_the_field_must_be(installation: Installation, client: httpx.AsyncClient) -> None:
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin")
    h = await bearer(installation, admin)
    before = await fingerprint(installation)
    rules = "/api/v1/admin/attachments/rules"
    r = await client.put(rules, headers=h, json={"org_quota_bytes": False})
    assert r.status_code == 422 and r.json()["fields"] == ["org_quota_bytes"]
    assert r.json()["errors"] == ["Le champ org_quota_bytes doit être un nombre entier, écrit sans guillemets "
                                  "(reçu : un booléen)."]
    en = await client.put(rules, headers={**h, "Accept-Language": "en"}, json={"org_quota_bytes": False})
    assert en.json()["errors"] == ["The field org_quota_bytes must be a whole number, written without quotes "
                                   "(received: a boolean)."]
    dup = await client.put(rules, headers={**h, "content-type": "application/json"},
                    content=b'{"org_quota_bytes": 100, "org_quota_bytes": false}')
    assert dup.status_code == 422 and dup.json()["code"] == "request_invalid"
    assert dup.json()["errors"] == ["Le champ org_quota_bytes est donné plusieurs fois : donnez-le une seule fois."]
    nested = await client.put(rules, headers={**h, "content-type": "application/json"},
                       content=b'{"keep_originals_for": [{"a": 1, "a": 2}]}')
    assert nested.status_code == 422 and nested.json()["fields"] == ["a"]
    breach = await client.post("/api/v1/gdpr/breaches", headers=h,
                        json={"discovered_at": 0, "nature": "perte", "data_categories": "santé"})
    assert breach.status_code == 422 and breach.json()["fields"] == ["discovered_at"]
    assert "ISO 8601" in breach.json()["errors"][0] and "2026-03-01T08:30:00+01:00" in breach.json()["errors"][0]
    for constant in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
        r = await client.put(rules, headers={**h, "content-type": "application/json"},
                      content=b'{"org_quota_bytes": ' + constant + b"}")
        assert r.status_code == 400 and r.json()["code"] == "json_invalid", (constant, r.text)
    assert await fingerprint(installation) == before
    # The right types still go through.
    ok = await client.put(rules, headers=h, json={"org_quota_bytes": 10_000_000})
    assert ok.status_code == 200, ok.text


async def test_integer_query_parameters_are_digits_only(installation: Installation, client: httpx.AsyncClient) -> None:
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin")
    doc_ = await new_member(svc, org, "physician")
    view, _ = await conversations.create_conversation(svc, admin.actor, kind="group", title="Nuit",
                                                      member_ids=[doc_.id])
    h = await bearer(installation, admin)
    schema_doc = (await client.get("/api/openapi.json")).json()
    targets = []
    for path, methods in schema_doc["paths"].items():
        for method, op in methods.items():
            required = {p["name"]: "tension" for p in op.get("parameters", [])
                        if p["in"] == "query" and p.get("required")}
            for p in op.get("parameters", []):
                if p["in"] == "query" and "integer" in json.dumps(p["schema"]):
                    targets.append((method, path.replace("{conversation_id}", view["id"]), p["name"], required))
    assert len(targets) >= 8
    for method, path, name, required in targets:
        r = await client.request(method, path, params={**required, name: "5"}, headers=h)
        assert r.status_code == 200, (path, name, r.text)
        for wrong in ("true", "false", "1.0", "5_0", "+5", " 5", "5 ", "1e2", "0x10", "٥"):
            r = await client.request(method, path, params={**required, name: wrong}, headers=h)
            assert r.status_code == 422, (path, name, wrong, r.text)
            assert r.json()["fields"] == [name] and "nombre entier" in r.json()["errors"][0], r.text

"""The OpenAPI document says what the API answers: every operation documents its success with
a schema and its refusals as problem details (RFC 9457), and real answers of the main
operations match the schemas documented for them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chevet.bootstrap import Installation
from chevet.web.app import create_app

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

"""A passkey answer is the browser's (or anyone's) JSON: whatever its shape, finishing a
registration refuses it with a clear error and registers nothing (found by the schema-driven
fuzzer: an answer of the wrong structure was a server error)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from chevet.app.identity import passkeys
from chevet.bootstrap import Installation
from chevet.core.errors import InvalidInput
from tests.support import new_member, new_org

ANSWERS: list[dict[str, Any]] = [
    {},
    {"id": "x"},
    {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}},
    {"id": "AAAA", "rawId": "AAAA", "type": "public-key",
     "response": {"clientDataJSON": "bm90IGpzb24", "attestationObject": "AAAA"}},
    {"id": 1, "rawId": [1, 2], "type": None, "response": "nothing"},
    {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {"clientDataJSON": 5, "attestationObject": {}}},
]


@pytest.mark.parametrize("answer", ANSWERS, ids=range(len(ANSWERS)))
async def test_a_malformed_registration_answer_is_refused(installation: Installation, answer: dict[str, Any]) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    ceremony = await passkeys.begin_registration(svc, nurse.actor)
    with pytest.raises(InvalidInput) as refused:
        await passkeys.finish_registration(svc, nurse.actor, uuid.UUID(ceremony["challenge_id"]), answer, "Téléphone")
    assert refused.value.code in ("passkey_response_invalid", "passkey_challenge_invalid")
    async with svc.db.transaction() as tx:
        assert await tx.passkeys.for_person(org.id, nurse.id) == []

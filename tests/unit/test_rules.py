import uuid

import pytest

from chevet.core import ids
from chevet.core.conversation import ConversationKind, clean_care_case_ref, clean_title, looks_like_national_id
from chevet.core.errors import InvalidInput, NotFound, TooLarge
from chevet.core.message import clean_body, clean_client_id, mentioned_ids
from chevet.core.roles import Permission, Role, can, parse_role


@pytest.mark.parametrize("text", ["1 85 05 78 006 084 36", "185057800608436", "2850578006084", "2 85 05 2A 006 084"])
def test_national_identifiers_are_recognised(text: str) -> None:
    assert looks_like_national_id(text)


@pytest.mark.parametrize("text", ["CH12-R", "Chambre 12 — Mme D.", "Lit 3", "2026-11-28", "RPPS 10101010101x"])
def test_ordinary_references_pass(text: str) -> None:
    assert not looks_like_national_id(text)


def test_care_case_needs_a_pseudonymous_reference() -> None:
    with pytest.raises(InvalidInput, match="care_case_ref_required"):
        clean_care_case_ref(ConversationKind.CARE_CASE, "  ")
    with pytest.raises(InvalidInput, match="national_id_refused"):
        clean_care_case_ref(ConversationKind.CARE_CASE, "185057800608436")
    with pytest.raises(InvalidInput):
        clean_care_case_ref(ConversationKind.GROUP, "CH12")
    assert clean_care_case_ref(ConversationKind.CARE_CASE, " CH12   R ") == "CH12 R"
    with pytest.raises(InvalidInput, match="national_id_refused"):
        clean_title("Mme X 2 85 05 78 006 084 36", ConversationKind.CARE_CASE)
    with pytest.raises(InvalidInput, match="title_required"):
        clean_title("", ConversationKind.GROUP)


def test_message_rules() -> None:
    with pytest.raises(InvalidInput):
        clean_body("   ", 100)
    with pytest.raises(InvalidInput):
        clean_body("a\x00b", 100)
    with pytest.raises(TooLarge):
        clean_body("é" * 51, 100)
    assert clean_body("é" * 50, 100)
    for bad in ("", "a" * 65, "with space", "slash/", "é"):
        with pytest.raises(InvalidInput):
            clean_client_id(bad)
    u = uuid.uuid4()
    assert mentioned_ids(f"@[{u}] voir @[not-a-uuid-000000000000000000000000]") == {u}


def test_roles_and_permissions() -> None:
    assert can(Role.NURSE, Permission.CREATE_CARE_CASE)
    assert not can(Role.EXTERNAL, Permission.CREATE_CARE_CASE)
    assert not can(Role.NURSE, Permission.MANAGE_PEOPLE)
    assert can(Role.DPO, Permission.VIEW_AUDIT) and not can(Role.DPO, Permission.CREATE_CARE_CASE)
    with pytest.raises(InvalidInput):
        parse_role("superuser")


def test_ids() -> None:
    a, b = ids.new_id(), ids.new_id()
    assert a.version == 7 and a != b and str(a)[:8] <= str(b)[:8]
    conv, author = uuid.uuid4(), uuid.uuid4()
    assert ids.message_id(conv, author, "c1") == ids.message_id(conv, author, "c1")
    assert ids.message_id(conv, author, "c1") != ids.message_id(conv, uuid.uuid4(), "c1")
    with pytest.raises(NotFound):
        ids.parse_id("../../etc/passwd")

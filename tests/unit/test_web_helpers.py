"""Small rules of the web client: no open redirect after sign-in, mentions typed by name."""

from __future__ import annotations

import uuid

from chevet.app.messaging.memberships import MemberView
from chevet.core.roles import Role
from chevet.web.pages.conversations import segments, with_mentions
from chevet.web.pages.page import safe_next


def test_next_is_always_a_local_path() -> None:
    assert safe_next("/c/123?x=1") == "/c/123?x=1"
    for hostile in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)", None, ""):
        assert safe_next(hostile) == "/"


def test_mentions_by_full_name_longest_first() -> None:
    paul, paula = uuid.uuid4(), uuid.uuid4()
    members = [MemberView(paul, "Paul", Role.PHYSICIAN, False, 0),
               MemberView(paula, "Paul Lefèvre", Role.NURSE, False, 0)]
    body = with_mentions("@Paul Lefèvre et @Paul, merci", members)
    assert body == f"@[{paula}] et @[{paul}], merci"
    assert segments(body, {str(paula): "Paul Lefèvre", str(paul): "Paul"}) == [
        ("@Paul Lefèvre", True), (" et ", False), ("@Paul", True), (", merci", False)]


def test_file_sizes_read_naturally() -> None:
    from chevet.web.pages.page import file_size

    assert file_size(20 * 1_048_576, "fr") == "20 Mo"
    assert file_size(1536, "fr") == "1,5 Ko"
    assert file_size(1536, "en") == "1.5 KB"
    assert file_size(999, "fr") == "999 o"

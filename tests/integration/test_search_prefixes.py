"""Search by word beginnings through the application layer, on SQLite and PostgreSQL, and the
re-index job that gives older messages their prefix terms."""

from __future__ import annotations

import html
import uuid

import pytest

from chevet.app.messaging import conversations, messages, search_index
from chevet.app.services import Services
from chevet.bootstrap import Installation
from chevet.core import blind_index
from chevet.core.errors import InvalidInput
from tests.support import Member, migrate, new_member, new_org


async def _conversation(svc: Services, author: Member, *others: Member, title: str = "Plaies") -> uuid.UUID:
    view, _ = await conversations.create_conversation(svc, author.actor, kind="group", title=title,
                                                      member_ids=[m.id for m in others])
    return uuid.UUID(view["id"])


async def test_word_beginnings_are_found(installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc)
    a, b = await new_member(svc, org, "nurse"), await new_member(svc, org, "physician")
    cid = await _conversation(svc, a, b)
    await messages.send_message(svc, a.actor, cid, body="Pansement du talon refait", client_id="1")
    await messages.send_message(svc, a.actor, cid, body="Tension à 13, talc appliqué", client_id="2")
    for query in ("tal", "pans", "TALON", "talo", "Pansements", "pans tal", "l'talon"):
        found = await messages.search(svc, b.actor, query)
        assert [r["body"] for r in found][-1:] == ["Pansement du talon refait"], query
    assert len(await messages.search(svc, b.actor, "tal")) == 2  # "talon" and "talc"
    for query in ("talons plaie", "alon", "tala", "pansu"):
        assert await messages.search(svc, b.actor, query) == [], query


async def test_one_or_two_letters_get_an_explanation(installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc)
    a = await new_member(svc, org, "nurse")
    cid = await _conversation(svc, a)
    await messages.send_message(svc, a.actor, cid, body="Pansement du talon refait à 9h", client_id="1")
    for query in ("ta", "pa", "ab cd"):
        with pytest.raises(InvalidInput) as refused:
            await messages.search(svc, a.actor, query)
        assert refused.value.code == "search_query_short"
    assert len(await messages.search(svc, a.actor, "9h")) == 1  # a short word with a digit: exact


async def test_others_never_match_a_beginning(installation: Installation) -> None:
    svc = installation.services
    org, other_org = await new_org(svc), await new_org(svc)
    a, b, outsider = (await new_member(svc, org, "nurse"), await new_member(svc, org, "nurse"),
                      await new_member(svc, org, "nurse"))
    stranger = await new_member(svc, other_org, "admin")
    cid = await _conversation(svc, a, b)
    await messages.send_message(svc, a.actor, cid, body="Pansement du talon refait", client_id="1")
    # the stranger and the outsider have conversations of their own with the same words
    for m in (stranger, outsider):
        own = await _conversation(svc, m, title="Autre")
        await messages.send_message(svc, m.actor, own, body="Talc sur le pansu", client_id="x")
    for m in (stranger, outsider):
        for query in ("tal", "pans", "talon"):
            assert [r["body"] for r in await messages.search(svc, m.actor, query)] in ([], ["Talc sur le pansu"])
        assert await messages.search(svc, m.actor, "pansem") == []
    assert [r["body"] for r in await messages.search(svc, b.actor, "tal")] == ["Pansement du talon refait"]


async def _down_then_up(installation: Installation) -> None:
    """Down to before word beginnings and up again. Going down drops the organisation keys'
    table (it came later), and with it every key of the file provider: kept aside and put back,
    as an operator who downgrades would have to (the data keys are wrapped by them)."""
    from sqlalchemy import insert, select

    from chevet.adapters.db.schema_keys import organisation_key

    db = installation.services.db
    async with db.transaction() as tx:
        rows = [dict(r._mapping) for r in await tx.conn.execute(select(organisation_key))]  # type: ignore[attr-defined]
    await migrate(installation, "0011_search_prefixes-1", up=False)
    await migrate(installation, "heads")
    if rows:
        async with db.transaction() as tx:
            await tx.conn.execute(insert(organisation_key), rows)  # type: ignore[attr-defined]


async def _as_before_prefixes(svc: Services, org_id: uuid.UUID, cid: uuid.UUID) -> None:
    """Give the conversation's messages the terms of the index before word beginnings."""
    async with svc.unit() as u:
        wrapped = await u.tx.conversations.wrapped_key(cid)
        assert wrapped is not None
        key = await svc.unwrap_key(org_id, cid, wrapped)
        old = []
        for e in await u.tx.entries.after(cid, 0, 1000):
            text = messages.body_of(cid, key, e)
            if text:
                old.append((e.seq, sorted({blind_index.term(key.search_key, w) for w in blind_index.words(text)})))
        await u.tx.entries.set_terms(cid, old)


async def test_reindex_gives_older_messages_prefix_terms_and_resumes(installation: Installation) -> None:
    svc = installation.services
    org, other_org = await new_org(svc), await new_org(svc)
    a, b = await new_member(svc, org, "nurse"), await new_member(svc, org, "nurse")
    c = await new_member(svc, other_org, "nurse")
    cid, other = await _conversation(svc, a, b), await _conversation(svc, c, title="Ailleurs")
    for i in range(5):
        await messages.send_message(svc, a.actor, cid, body=f"Pansement du talon refait, jour {i + 1}",
                                    client_id=str(i))
    await messages.send_message(svc, c.actor, other, body="Talon à surveiller", client_id="c")
    await _as_before_prefixes(svc, org.id, cid)
    await _as_before_prefixes(svc, other_org.id, other)
    # the migration that brought word beginnings queues every conversation with messages
    await _down_then_up(installation)
    assert await messages.search(svc, b.actor, "tal") == []
    assert len(await messages.search(svc, b.actor, "talon")) == 5  # whole words meanwhile
    assert await search_index.waiting(svc, b.actor) >= 5
    # interrupted after one batch of two messages: what it did is kept, the rest waits
    first = await search_index.reindex(svc, batch=2, max_batches=1)
    assert first.messages == 2 and first.left >= 4
    assert 0 < len(await messages.search(svc, b.actor, "tal")) < 5
    rest = await search_index.reindex(svc, batch=2)
    assert rest.left == 0 and rest.messages >= 4
    assert len(await messages.search(svc, b.actor, "tal")) == 5
    assert [r["body"] for r in await messages.search(svc, c.actor, "tal")] == ["Talon à surveiller"]
    assert await search_index.waiting(svc, b.actor) == 0
    assert await search_index.reindex(svc) == search_index.Progress(0, 0)


async def test_search_page_and_api_in_french_and_english(installation: Installation) -> None:
    from chevet.web.app import create_app
    from tests.web_client import Browserless

    svc = installation.services
    org = await new_org(svc)
    a = await new_member(svc, org, "nurse", "Sophie Bernard")
    cid = await _conversation(svc, a)
    await messages.send_message(svc, a.actor, cid, body="Pansement du talon refait", client_id="1")
    b = await new_member(svc, org, "physician", "Paul Lefèvre")
    await conversations.add_member(svc, a.actor, cid, b.id)
    await messages.send_message(svc, a.actor, cid, body=f"@[{b.id}] talc à prévoir", client_id="2")
    client = Browserless(app=create_app(installation))
    try:
        await client.sign_in(a)
        found = await client.get("/search", params={"q": "tal"})
        none_fr = await client.get("/search", params={"q": "zzzz"})
        short_fr = await client.get("/search", params={"q": "ta"})
        en = {"Accept-Language": "en-GB,en;q=0.9"}
        none_en = await client.get("/search", params={"q": "zzzz"}, headers=en)
        short_en = await client.get("/search", params={"q": "ta"}, headers=en)
        api = await client.get("/api/v1/search", params={"q": "ta"})
    finally:
        await client.close()
    assert found.status_code == none_fr.status_code == short_fr.status_code == short_en.status_code == 200
    assert "<mark>tal</mark>on refait" in found.text and "Sophie Bernard" in found.text
    assert "@Paul Lefèvre <mark>tal</mark>c" in html.unescape(found.text)  # a mention shows the name
    assert str(cid) not in found.text.replace(f"/c/{cid}", "")  # only in the link, never shown
    assert "Aucun résultat pour «\u00a0zzzz\u00a0»" in html.unescape(none_fr.text)
    assert 'No results for "zzzz"' in html.unescape(none_en.text)
    assert "Tapez au moins 3 lettres" in html.unescape(short_fr.text)
    assert "Type at least 3 letters" in html.unescape(short_en.text)
    assert api.status_code == 422 and "search_query_short" in api.text


async def test_reindex_from_the_command_line(installation: Installation) -> None:
    import json
    import os

    from tests.governance_support import cli

    svc = installation.services
    org = await new_org(svc)
    a = await new_member(svc, org, "nurse")
    cid = await _conversation(svc, a)
    for i in range(3):
        await messages.send_message(svc, a.actor, cid, body=f"Talon droit, jour {i}", client_id=str(i))
    await _as_before_prefixes(svc, org.id, cid)
    await _down_then_up(installation)
    env = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else None
    status = cli(installation, "search", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["left"] >= 3
    first = cli(installation, "search", "reindex", "--batch", "2", "--batches", "1", env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["messages"] == 2
    rest = cli(installation, "search", "reindex", env=env)
    assert json.loads(rest.stdout) == {"messages": 1, "left": 0}
    assert len(await messages.search(svc, a.actor, "tal")) == 3
    bad = cli(installation, "search", "reindex", "--batch", "0", env=env)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


async def test_the_server_reindexes_by_itself(installation: Installation) -> None:
    import asyncio

    from tests.support import Server

    svc = installation.services
    org = await new_org(svc)
    a = await new_member(svc, org, "nurse")
    cid = await _conversation(svc, a)
    for i in range(3):
        await messages.send_message(svc, a.actor, cid, body=f"Talon gauche, jour {i}", client_id=str(i))
    await _as_before_prefixes(svc, org.id, cid)
    await _down_then_up(installation)
    assert await messages.search(svc, a.actor, "tal") == []
    server = Server(installation.settings)
    try:
        for _ in range(150):
            if await search_index.left(svc) == 0:
                break
            await asyncio.sleep(0.2)
    finally:
        server.stop()
    assert await search_index.left(svc) == 0
    assert len(await messages.search(svc, a.actor, "tal")) == 3

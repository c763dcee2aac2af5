"""Rotating an organisation's key, and migrating it from the key file to a token and back, on
SQLite and PostgreSQL: interrupted mid-way and resumed (the second time by the CLI, in another
process), every data key ends under the new version, the content reads as before, the older
versions are destroyed, the other organisation is untouched, and every step is on the
organisation's audit chain."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, update

from chevet.adapters.db.schema import conversation_key
from chevet.app.governance import organisation_key_rotation as rotation
from chevet.app.messaging import messages
from chevet.app.signalement import filing
from chevet.bootstrap import Installation
from chevet.core import envelope
from chevet.ports.organisation_keys import CURRENT, DESTROYED, PREVIOUS
from tests.governance_support import Scene, cli, say, scene
from tests.signalement_support import fall
from tests.softhsm_support import SoftHsmToken
from tests.support import new_installation


class Interrupted(Exception):
    pass


async def _texts(inst: Installation, s: Scene, conv: uuid.UUID) -> list[str]:
    page = await messages.history(inst.services, s.nurse.actor, conv, limit=200)
    return [str(m["body"]) for m in page if m.get("body")]


async def _blobs(inst: Installation, org_id: uuid.UUID) -> dict[tuple[str, tuple[object, ...]], bytes]:
    out = {}
    async for name, items in rotation.org_items(inst.services, org_id):
        out.update({(name, item.key): item.blob for item in items})
    return out


async def _make_legacy(inst: Installation, conv: uuid.UUID) -> None:
    """A conversation key as installations wrote them before organisations had keys: under the
    master key (0x01/0x02)."""
    svc = inst.services
    async with svc.db.transaction() as tx:
        wrapped = (await tx.conn.execute(select(conversation_key.c.wrapped)
                                         .where(conversation_key.c.conversation_id == conv))).scalar_one()
    aad = envelope.aad("ckey", conv)
    material = await svc.org_keys.unwrap((await _org_of(inst, conv)), bytes(wrapped), aad)
    async with svc.db.transaction() as tx:
        await tx.conn.execute(update(conversation_key).where(conversation_key.c.conversation_id == conv)
                              .values(wrapped=svc.keys.wrap(material, aad)))
    svc.org_keys.forget(await _org_of(inst, conv))


async def _org_of(inst: Installation, conv: uuid.UUID) -> uuid.UUID:
    from chevet.adapters.db.schema import conversation

    async with inst.services.db.transaction() as tx:
        return (await tx.conn.execute(select(conversation.c.org_id).where(conversation.c.id == conv))).scalar_one()


async def _populated(inst: Installation) -> tuple[Scene, Scene, dict[uuid.UUID, list[str]]]:
    svc = inst.services
    s, other = await scene(svc), await scene(svc)
    said: dict[uuid.UUID, list[str]] = {}
    for conv in (s.care, s.team, s.direct):
        said[conv] = [f"Transmission {n} pour {conv.hex[:6]} : tension 12/8" for n in range(4)]
        for line in said[conv]:
            await say(svc, s.nurse, conv, line)
    await say(svc, other.nurse, other.care, "Autre établissement : RAS")
    await filing.file_report(svc, s.nurse.actor, mode="named", **fall(svc.clock.now()))
    await _make_legacy(inst, s.direct)
    return s, other, said


def declare_in_settings_file(inst: Installation, token: SoftHsmToken) -> dict[str, str]:
    """The token in the installation's chevet.toml, so that a CLI run in another process knows
    it too; returns the environment that process needs (SoftHSM's configuration)."""
    c = token.config()
    with inst.settings.data_dir.joinpath("chevet.toml").open("a") as fh:
        fh.write(f'\n[organisation_keys.tokens.{token.name}]\nmodule = "{c["module"]}"\nlabel = "{c["label"]}"\n'
                 f'pin_file = "{c["pin_file"]}"\n')
    return {"SOFTHSM2_CONF": token.softhsm.environ["SOFTHSM2_CONF"]}


async def _audit_actions(inst: Installation, org_id: uuid.UUID) -> list[str]:
    async with inst.services.db.transaction() as tx:
        return [e.action async for e in tx.audit.entries(org_id) if e.action.startswith("org_key.")]


async def test_rotation_interrupted_then_resumed_by_the_cli(installation: Installation) -> None:
    svc = installation.services
    s, other, said = await _populated(installation)
    other_before = await _blobs(installation, other.org.id)
    before = await rotation.count_by_version(svc, s.org.id)
    assert before.get("1", 0) >= 3 and before.get("master") == 1, before  # v1 (file) and one legacy key

    seen: list[int] = []

    def fail_mid_way(stage: str, done: int, total: int) -> None:
        seen.append(done)
        if stage == "re-wrap" and 0 < done < total:
            raise Interrupted  # the operator's session dies after the first batch

    with pytest.raises(Interrupted):
        await rotation.rotate(svc, s.org.id, progress=fail_mid_way, grace=0, batch=2)
    mid = await rotation.count_by_version(svc, s.org.id)
    assert mid.get("2", 0) >= 1 and (mid.get("1", 0) + mid.get("master", 0)) >= 1, mid  # half done
    keys = {k.version: k.state for k in await svc.org_keys.refresh(s.org.id)}
    assert keys == {1: PREVIOUS, 2: CURRENT}
    for conv, lines in said.items():  # half re-wrapped: everything still reads
        assert await _texts(installation, s, conv) == lines

    done = cli(installation, "org", "key", "rotate", s.org.slug, "--grace", "0")
    assert done.returncode == 0, done.stderr
    assert "resumed: version 2 (file) is current" in done.stdout
    assert "destroyed: version(s) 1" in done.stdout
    assert "re-wrap:" in done.stderr  # the progress bar

    after = await rotation.count_by_version(svc, s.org.id)
    assert set(after) == {"2"} and after["2"] == sum(before.values())
    rows = {k.version: k for k in await svc.org_keys.refresh(s.org.id)}
    assert rows[1].state == DESTROYED and rows[1].wrapped is None and rows[1].destroyed_at is not None
    assert rows[2].state == CURRENT
    svc.org_keys.forget(s.org.id)
    for conv, lines in said.items():
        assert await _texts(installation, s, conv) == lines
    assert await _blobs(installation, other.org.id) == other_before, "the other organisation is untouched"
    actions = await _audit_actions(installation, s.org.id)
    assert actions.count("org_key.created") == 1 and actions.count("org_key.rewrapped") == 1
    assert actions.count("org_key.rewrap_started") == 2 and actions.count("org_key.destroyed") == 1

    # A plain rotation after that makes version 3, keeping version 2 when asked.
    kept = await rotation.rotate(svc, s.org.id, grace=0, keep_old=True)
    assert (kept.version, kept.resumed, kept.kept, kept.destroyed) == (3, False, [2], [])
    assert kept.verification.messages > 0 and kept.verification.reports == 1 and kept.done
    status = cli(installation, "org", "key", "status", s.org.slug)
    assert status.returncode == 0, status.stderr
    assert "version 3: current, file" in status.stdout and "version 2: previous, file" in status.stdout
    assert "version 1: destroyed" in status.stdout
    bad = cli(installation, "org", "key", "rotate", s.org.slug, "--to", "usb")
    assert bad.returncode == 2 and "expected file or token:<name>" in bad.stderr


async def test_file_to_token_and_back(tmp_path: object, database_url: str | None,
                                      softhsm_token: SoftHsmToken) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    inst = await new_installation(tmp_path / "data", database_url, **softhsm_token.settings())
    try:
        svc = inst.services
        s, other, said = await _populated(inst)
        other_before = await _blobs(inst, other.org.id)

        calls = 0

        def fail_once(stage: str, done: int, total: int) -> None:
            nonlocal calls
            calls += 1
            if stage == "re-wrap" and 0 < done < total and calls < 4:
                raise Interrupted

        with pytest.raises(Interrupted):
            await rotation.rotate(svc, s.org.id, rotation.Target("pkcs11", softhsm_token.name), fail_once,
                                  grace=0, batch=2)
        to_token = await rotation.rotate(svc, s.org.id, rotation.Target("pkcs11", softhsm_token.name), grace=0)
        assert to_token.resumed and to_token.version == 2 and to_token.done and to_token.destroyed == [1]
        [v2] = [k for k in await svc.org_keys.refresh(s.org.id) if k.version == 2]
        assert v2.provider == "pkcs11" and v2.wrapped is None
        label = v2.reference.split("/", 1)[1]
        assert label in softhsm_token.pkcs11_tool("--list-objects", "--type", "secrkey")
        svc.org_keys.forget(s.org.id)
        for conv, lines in said.items():
            assert await _texts(inst, s, conv) == lines

        back = cli(inst, "org", "key", "rotate", s.org.slug, "--to", "file", "--grace", "0",
                   env=declare_in_settings_file(inst, softhsm_token))
        assert back.returncode == 0, back.stderr
        assert "version 3 (file) is current" in back.stdout and "destroyed: version(s) 2" in back.stdout
        assert label not in softhsm_token.pkcs11_tool("--list-objects", "--type", "secrkey"), \
            "the token's object is destroyed once nothing is wrapped by it"
        assert set(await rotation.count_by_version(svc, s.org.id)) == {"3"}
        svc.org_keys.forget(s.org.id)
        for conv, lines in said.items():
            assert await _texts(inst, s, conv) == lines
        assert await _blobs(inst, other.org.id) == other_before
    finally:
        await inst.close()


async def test_a_token_unavailable_mid_rotation_loses_nothing(tmp_path: object, database_url: str | None,
                                                             softhsm_token: SoftHsmToken) -> None:
    from pathlib import Path

    from chevet.ports.organisation_keys import OrganisationKeyUnavailable

    assert isinstance(tmp_path, Path)
    inst = await new_installation(tmp_path / "data", database_url, **softhsm_token.settings())
    try:
        svc = inst.services
        s, _other, said = await _populated(inst)
        await rotation.rotate(svc, s.org.id, rotation.Target("pkcs11", softhsm_token.name), grace=0)
        svc.org_keys.forget(s.org.id)
        with softhsm_token.removed(), pytest.raises(OrganisationKeyUnavailable):
            await rotation.rotate(svc, s.org.id, rotation.Target("file"), grace=0)
        svc.org_keys.forget(s.org.id)
        # The new file version exists, nothing could be re-wrapped; the token came back: resume.
        resumed = await rotation.rotate(svc, s.org.id, rotation.Target("file"), grace=0)
        assert resumed.resumed and resumed.done and resumed.destroyed == [2]
        svc.org_keys.forget(s.org.id)
        for conv, lines in said.items():
            assert await _texts(inst, s, conv) == lines
    finally:
        await inst.close()

"""The DPO downloads a signed receipt of her organisation's audit trail from the console and keeps
it; later ``chevet audit verify --receipt FILE`` proves the trail still holds everything up to
it — or names what was cut or rewritten, even after the database and its witness were replaced.
A nurse cannot have one; another organisation's DPO gets her own organisation's only."""

from __future__ import annotations

import html
import re
import shutil

import httpx
import orjson
from sqlalchemy import delete, update

from chevet.adapters.db.schema import audit_head
from chevet.adapters.db.schema_governance import audit_checkpoint
from chevet.bootstrap import Installation
from tests.governance_support import cli, remove_trail, say, scene
from tests.support import Server, login


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found, text[:300]
    return found.group(1)


def _download(server: Server, token: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, cookies={"chevet_session": token}) as web:
        page = web.get("/gouvernance/recu")
        assert page.status_code == 200, page.text
        return web.post("/gouvernance/recu", data={"csrf": _csrf(page.text)})


async def test_a_receipt_from_the_console_proves_the_trail_until_it_is_cut(
        installation: Installation, server: Server) -> None:
    svc = installation.services
    s = await scene(svc)
    for i in range(4):
        await say(svc, s.nurse, s.care, f"transmission {i}")
    dpo = login(server.url, s.dpo)
    page = httpx.get(f"{server.url}/gouvernance/recu", cookies={"chevet_session": dpo})
    text = html.unescape(page.text)
    assert "Reçu signé de la piste d'audit" in text and "chevet audit verify --receipt" in text
    traces = httpx.get(f"{server.url}/gouvernance/traces", cookies={"chevet_session": dpo})
    assert 'href="/gouvernance/recu"' in traces.text  # the traces page links to it now
    r = _download(server, dpo)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    name = re.search(r'filename="([^"]+)"', r.headers["content-disposition"])
    assert name and name.group(1).startswith(f"chevet-recu-audit-{s.org.slug}-")
    body = orjson.loads(r.content)
    assert body["organisation"]["id"] == str(s.org.id)
    assert "traces enregistrées au" in body["summary"] and "UTC" not in body["summary"]
    [cp] = body["checkpoints"]
    assert cp["chain"] == str(s.org.id)
    kept = installation.settings.data_dir.parent / "recu.json"
    kept.write_bytes(r.content)
    async with svc.db.transaction() as tx:
        issued = await tx.audit_trail.search(s.org.id, actions=["audit.receipt_issued"], limit=5)
    assert [e.actor_id for e in issued] == [s.dpo.id]

    ok = cli(installation, "audit", "verify", "--receipt", str(kept))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"receipt: chain {s.org.id} holds every entry up to #{cp['seq']}, unchanged" in ok.stdout

    # Edited by hand (one more entry claimed): the receipt's signature no longer holds.
    forged = kept.with_name("faux.json")
    forged.write_bytes(r.content.replace(f'"seq": {cp["seq"]}'.encode(), f'"seq": {cp["seq"] + 1}'.encode()))
    bad = cli(installation, "audit", "verify", "--receipt", str(forged))
    assert bad.returncode == 1 and "is not signed by the audit key" in bad.stderr + bad.stdout

    # The careful attacker cuts the tail with its head and checkpoints, then replaces the witness
    # with one rebuilt without them: only the receipt, kept by the DPO, still says so.
    keep_seq = cp["seq"] - 3
    async with svc.db.transaction() as tx:
        keep = await tx.audit_trail.entry_at(s.org.id, keep_seq)
        assert keep is not None
        await remove_trail(tx, s.org.id, from_seq=keep_seq + 1)
        await tx.conn.execute(update(audit_head).where(audit_head.c.chain == s.org.id)
                              .values(seq=keep_seq, hash=keep.hash))
        await tx.conn.execute(delete(audit_checkpoint).where(audit_checkpoint.c.chain == s.org.id))
    shutil.move(installation.settings.audit_witness, installation.settings.audit_witness.with_suffix(".old"))
    cut = cli(installation, "audit", "verify", "--receipt", str(kept))
    assert cut.returncode == 1
    assert (f"receipt: chain {s.org.id} is CUT — the receipt holds it up to entry #{cp['seq']}, the database "
            f"goes only to #{keep_seq}") in cut.stdout


async def test_only_who_may_read_traces_gets_a_receipt_and_only_of_her_organisation(
        installation: Installation, server: Server) -> None:
    svc = installation.services
    s = await scene(svc)
    other = await scene(svc)
    nurse = login(server.url, s.nurse)
    with httpx.Client(base_url=server.url, cookies={"chevet_session": nurse}) as web:
        assert web.get("/gouvernance/recu").status_code == 403
        home = web.get("/console")
        assert "/gouvernance/recu" not in home.text
    r = _download(server, login(server.url, other.dpo))
    assert r.status_code == 200
    assert [c["chain"] for c in orjson.loads(r.content)["checkpoints"]] == [str(other.org.id)]
    # Without a session: sent to sign in, no receipt.
    anonymous = httpx.post(f"{server.url}/gouvernance/recu", data={"csrf": "x"})
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")

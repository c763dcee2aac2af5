"""Documents the gateway kept in its former sealed table move into the attachment store: each
one attached to its message, readable through the attachment download, exactly once."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, insert, select

from chevet.adapters.db.schema_mssante import mss_attachment
from chevet.app.mssante import documents as mssante_documents
from chevet.app.mssante import exchanges, inbound
from chevet.bootstrap import Installation
from chevet.core import envelope
from chevet.core.ids import new_id
from chevet.core.mssante.mime import Attachment
from tests.integration.test_mssante_inbound import _mail
from tests.mss_support import configure, download, unique
from tests.support import new_member, new_org

PDF = b"%PDF-1.4\n% ancien compte rendu\n%%EOF\n"
OTHER = b"\x00\x01 format propre au logiciel du laboratoire \xfe\xff"


async def _legacy(installation: Installation, conv: uuid.UUID, message: uuid.UUID, name: str, data: bytes,
                  org_id: uuid.UUID) -> None:
    svc = installation.services
    async with svc.db.transaction() as tx:
        key = await svc.unwrap_key(org_id, conv, await tx.conversations.wrapped_key(conv))  # type: ignore[arg-type]
        doc = new_id()
        await tx.mssante.conn.execute(insert(mss_attachment).values(  # type: ignore[attr-defined]
            id=doc, org_id=org_id, conversation_id=conv, message_id=message, content_type="application/pdf",
            size=len(data), name_sealed=key.seal(name.encode(), envelope.aad("mss-att-name", conv, doc)),
            data_sealed=key.seal(data, envelope.aad("mss-att", conv, doc))))


async def test_former_documents_become_attachments(installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    box = unique("secretariat", "ehpad.test")
    gw = configure(installation.settings, org.slug, [nurse.email], box).runtime.gateway
    got = await inbound.ingest(svc, gw, box, _mail("dr.x@gp.test", box, "l1@gp.test", "Ancien message"))
    assert got.conversation_id is not None
    conv = got.conversation_id
    await exchanges.send(svc, gw, nurse.actor, conv, body="Ancienne réponse", client_id="old-1")
    received, sent = (await exchanges.exchange_messages(svc, nurse.actor, conv))["messages"]
    await _legacy(installation, conv, uuid.UUID(received["mssante"]["id"]), "resultats.pdf", PDF, org.id)
    await _legacy(installation, conv, uuid.UUID(sent["mssante"]["id"]), "export.dat", OTHER, org.id)

    assert await mssante_documents.adopt_legacy_documents(svc, batch=1) == 2
    assert await mssante_documents.adopt_legacy_documents(svc) == 0
    async with svc.db.transaction() as tx:
        left = (await tx.mssante.conn.execute(  # type: ignore[attr-defined]
            select(func.count()).select_from(mss_attachment))).scalar_one()
    assert left == 0

    received, sent = (await exchanges.exchange_messages(svc, nurse.actor, conv))["messages"]
    (r,), (s,) = received["attachments"], sent["attachments"]
    assert (r["name"], r["mime"], r["origin"], r["uploader_id"]) == ("resultats.pdf", "application/pdf", "mssante",
                                                                      None)
    assert (s["name"], s["mime"], s["origin"], s["uploader_id"]) == ("export.bin", "application/octet-stream",
                                                                      "member", str(nurse.id))
    assert await download(svc, nurse.actor, r["id"]) == PDF
    assert await download(svc, nurse.actor, s["id"]) == OTHER


async def test_retention_takes_an_external_exchange_with_its_gateway_records(installation: Installation) -> None:
    from datetime import timedelta

    from chevet.app.governance import retention
    from chevet.core.errors import NotFound

    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    box = unique("secretariat", "ehpad.test")
    gw = configure(installation.settings, org.slug, [nurse.email], box).runtime.gateway
    got = await inbound.ingest(svc, gw, box, _mail("dr.x@gp.test", box, "ret1@gp.test", "Ancien",
                                                           attachments=[Attachment("cr.pdf", "application/pdf", PDF)]))
    assert got.conversation_id is not None
    conv = got.conversation_id
    await exchanges.send(svc, gw, nurse.actor, conv, body="Réponse", client_id="ret-1")

    # Two years on, nothing happened in the exchange: it goes, records, documents and all.
    report = await retention.purge(svc, as_of=svc.clock.now() + timedelta(days=800))
    assert str(conv) in [s["conversation_id"] for s in report.shredded]
    with pytest.raises(NotFound):
        await exchanges.exchange_messages(svc, nurse.actor, conv)
    async with svc.db.transaction() as tx:
        assert await tx.mssante.for_conversation(conv) == []
        assert await tx.mssante.exchange(org.id, conv) is None
        assert await tx.attachments.all_in(conv) == []

"""Received MSSanté mail: signed, unsigned, multipart, XDM, receipts, malformed and hostile
mail; nothing is dropped, nothing crashes, the administrator sees what was kept aside."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from datetime import UTC, datetime

import pytest

from chevet.app.attachments import upload
from chevet.app.mssante import exchanges, inbound, outbox
from chevet.bootstrap import Installation
from chevet.core.entities import Organisation
from chevet.core.errors import Forbidden, InvalidInput
from chevet.core.mssante import mime, xdm
from chevet.core.mssante.records import InboundState
from chevet.jobs import mssante as jobs
from tests.conftest import _require
from tests.mss_support import (
    MAIL_DIR,
    SMIME_CA,
    SMTP_PORT,
    Configured,
    configure,
    download,
    hung_operator,
    inject,
    mail_available,
    mailbox_contents,
    unique,
)
from tests.support import Member, migrate, new_member, new_org
from tests.unit.test_mss_mime import CDA

NOW = datetime.now(UTC)


@pytest.fixture
def mail() -> None:
    _require(mail_available(), "the loopback mail servers (.ci/setup-mail)")


def _mail(sender: str, to: str, mid: str, text: str, *, attachments: list[mime.Attachment] | None = None,
          signed: bool = True, **kw: object) -> bytes:
    env = mime.Envelope(sender=sender, recipients=(to,), subject=f"Objet {mid}", message_id=mid, date=NOW, nil="N",
                        **kw)  # type: ignore[arg-type]
    ident = SMIME_CA.issue("Dr X", email=sender).identity if signed else None
    return mime.assemble(env, mime.build_content(text, attachments or []), ident)


async def test_inbound_corpus(installation: Installation, mail: None) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    admin = await new_member(svc, org, "admin")
    box = unique("secretariat", "ehpad.test")
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    gw = cfg.runtime.gateway
    gp, chu = "dr.x@gp.test", "urgences@chu.test"

    signed = await inbound.ingest(svc, gw, box, _mail(gp, box, "a1@gp.test", "Première question"))
    assert signed.state is InboundState.INTEGRATED and signed.conversation_id
    # Same correspondent, no threading headers: same exchange. Unsigned: shown as such.
    unsigned = await inbound.ingest(svc, gw, box, _mail(gp, box, "a2@gp.test", "Suite", signed=False))
    assert unsigned.conversation_id == signed.conversation_id
    # Threaded by References only, from another correspondent: still the same exchange.
    threaded = await inbound.ingest(svc, gw, box, _mail(chu, box, "b1@chu.test", "Avis", signed=False,
                                                                references=("a1@gp.test",)))
    assert threaded.conversation_id == signed.conversation_id
    # The same mail again (a re-fetch after a crash): recognised, not integrated twice.
    again = await inbound.ingest(svc, gw, box, _mail(gp, box, "a1@gp.test", "Première question"))
    assert again.state is InboundState.DUPLICATE
    # An IHE_XDM.zip: kept as received, and its documents readable one by one.
    package = xdm.build_xdm([xdm.XdmDocument("DOC0001.XML", "text/xml", CDA)], submitted=NOW)
    with_xdm = await inbound.ingest(svc, gw, box, _mail(
        "labo@chu.test", box, "c1@chu.test", "Résultats", attachments=[
            mime.Attachment("IHE_XDM.zip", "application/zip", package),
            mime.Attachment("resultats.pdf", "application/pdf", b"%PDF-1.4 r\n%%EOF\n")],
        cda_codes=("11488-4",), ins_qualified=True))
    assert with_xdm.state is InboundState.INTEGRATED and with_xdm.conversation_id != signed.conversation_id

    view = await exchanges.exchange_messages(svc, nurse.actor, signed.conversation_id)
    assert [m["body"] for m in view["messages"]] == ["Première question", "Suite", "Avis"]
    assert [m["mssante"]["signature"] for m in view["messages"]] == ["valid", "unsigned", "unsigned"]
    assert set(view["correspondents"]) == {gp, chu}
    lab = await exchanges.exchange_messages(svc, nurse.actor, with_xdm.conversation_id)
    docs = lab["messages"][0]["attachments"]
    assert sorted((a["name"], a["mime"]) for a in docs) == [
        ("IHE_XDM.zip", "application/zip"), ("SUBSET01-DOC0001.xml", "text/xml"), ("resultats.pdf", "application/pdf")]
    assert {a["origin"] for a in docs} == {"mssante"} and {a["uploader_id"] for a in docs} == {None}
    doc = next(a for a in docs if a["name"].endswith(".xml"))
    assert await download(svc, nurse.actor, doc["id"]) == CDA
    # In an exchange a member may answer with structured documents too (they leave by MSSanté);
    # anything else is refused as everywhere (test_mssante_gateway checks the other conversations).
    for data in (CDA, package):
        view, _ = await upload.upload(svc, nurse.actor, with_xdm.conversation_id, data=data, name="x")
        assert view["mime"] in ("text/xml", "application/zip") and view["uploader_id"] == str(nurse.id)
    with pytest.raises(InvalidInput, match="attachment_type_refused"):
        await upload.upload(svc, nurse.actor, with_xdm.conversation_id, data=b"MZ\x90\x00binary", name="x.exe")

    # Confidentiality: a document invisible to the patient is integrated and says so; one masked
    # to professionals is shown to no member (quarantined for the administrator).
    hidden = xdm.build_xdm([xdm.XdmDocument("DOC0001.XML", "text/xml", CDA, ("INVISIBLE_PATIENT",))], submitted=NOW)
    got = await inbound.ingest(svc, gw, box, _mail("labo@chu.test", box, "c2@chu.test", "Résultats 2",
                                                           attachments=[mime.Attachment("IHE_XDM.zip",
                                                                                        "application/zip", hidden)]))
    shown = (await exchanges.exchange_messages(svc, nurse.actor, got.conversation_id))["messages"][-1]  # type: ignore[arg-type]
    assert shown["mssante"]["restrictions"] == ["INVISIBLE_PATIENT"]
    masked_package = xdm.build_xdm([xdm.XdmDocument("DOC0001.XML", "text/xml", CDA, ("MASQUE_PS",))], submitted=NOW)
    masked = _mail("labo@chu.test", box, "c3@chu.test", "Résultats 3",
                   attachments=[mime.Attachment("IHE_XDM.zip", "application/zip", masked_package)])

    # Malformed and hostile mail: quarantined with a reason, never dropped, never a crash.
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("IHE_XDM/S/METADATA.XML", "<x/>")
        z.writestr("IHE_XDM/S/../../../etc/cron.d/x", "boom")
    hostile = _mail(gp, box, "h1@gp.test", "Archive", attachments=[
        mime.Attachment("IHE_XDM.zip", "application/zip", bomb.getvalue())])
    no_sender = b"Subject: qui ?\r\nMessage-ID: <m1@nowhere>\r\n\r\ncorps"
    garbage = bytes(range(256)) * 20
    original = mime.parse_inbound(_mail(box, gp, "never-sent@ehpad.test", "x"), max_bytes=1 << 20,
                                  anchors=[], at=NOW)
    from chevet.core.mssante.mdn import Disposition, DispositionType

    mdn = mime.build_mdn_content(original, b"x", reporting_ua="X", final_recipient=gp,
                                 disposition=Disposition(DispositionType.DISPLAYED), human_text="lu")
    unknown_receipt = mime.assemble(mime.Envelope(sender=gp, recipients=(box,), subject="lu", message_id="r1@gp.test",
                                                  date=NOW, nil="N"), mdn, None)
    polyglot = _mail(gp, box, "p1@gp.test", "CR", attachments=[
        mime.Attachment("cr.pdf", "application/pdf", b"%PDF-1.4\n1 0 obj\n%%EOF\nPK\x05\x06" + b"\0" * 18)])
    program = _mail(gp, box, "x1@gp.test", "Outil", attachments=[
        mime.Attachment("outil.exe", "application/octet-stream", b"MZ\x90\x00" + bytes(range(256)))])
    results = {name: await inbound.ingest(svc, gw, box, raw) for name, raw in
               {"hostile": hostile, "no_sender": no_sender, "garbage": garbage, "receipt": unknown_receipt,
                "polyglot": polyglot, "program": program, "masked": masked}.items()}
    assert {k: (r.state, r.reason) for k, r in results.items()} == {
        "hostile": (InboundState.QUARANTINED, "xdm_path"),
        "no_sender": (InboundState.QUARANTINED, "sender_invalid"),
        "garbage": (InboundState.QUARANTINED, "header_structure"),
        "receipt": (InboundState.QUARANTINED, "mdn_unknown_original"),
        "polyglot": (InboundState.QUARANTINED, "attachment_polyglot"),
        "program": (InboundState.QUARANTINED, "attachment_type_refused"),
        "masked": (InboundState.QUARANTINED, "xdm_masked_for_professionals")}

    with pytest.raises(Forbidden):
        await inbound.quarantined(svc, nurse.actor)
    listed = await inbound.quarantined(svc, admin.actor)
    assert sorted(q["reason"] for q in listed) == ["attachment_polyglot", "attachment_type_refused",
                                                  "header_structure", "mdn_unknown_original", "sender_invalid",
                                                  "xdm_masked_for_professionals", "xdm_path"]
    kept = next(q for q in listed if q["reason"] == "xdm_path")
    assert await inbound.quarantined_mail(svc, admin.actor, uuid.UUID(kept["id"])) == mime.canonical(hostile) \
        or await inbound.quarantined_mail(svc, admin.actor, uuid.UUID(kept["id"])) == hostile
    await inbound.release(svc, admin.actor, uuid.UUID(kept["id"]))
    assert len(await inbound.quarantined(svc, admin.actor)) == 6
    # Quarantined mail is sealed at rest.
    if installation.settings.database.url is None:
        db = (installation.settings.data_dir / "chevet.db").read_bytes()
        assert b"qui ?" not in db and b"Premi" not in db


async def test_outbox_survives_a_worker_killed_in_the_middle_of_sending(installation: Installation,
                                                                        mail: None) -> None:
    """A worker dies while talking to the operator: after its lease expires the next worker
    sends the same bytes once; the recipient gets exactly one copy."""
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    box, gp = unique("secretariat", "ehpad.test"), unique("dr", "gp.test")
    with hung_operator() as port:
        hung = configure(installation.settings, org.slug, [nurse.email], box, smtp_port=port,
                         extra="lease_seconds = 2")
        exchange = await exchanges.open_exchange(svc, hung.runtime.gateway, nurse.actor, to=[gp], title="")
        await exchanges.send(svc, hung.runtime.gateway, nurse.actor, uuid.UUID(exchange["id"]), body="Urgent",
                           client_id="k-1")
        env = {**os.environ, "CHEVET_MSSANTE_CONFIG": str(hung.path), "CHEVET_PASSWORD_TIME_COST": "1",
               "CHEVET_PASSWORD_MEMORY_KIB": "1024"}
        if installation.settings.database.url:
            env["CHEVET_DATABASE_URL"] = installation.settings.database.url
        worker = subprocess.Popen([sys.executable, "-m", "chevet.cli.main", "mssante", "deliver", "--data-dir",
                                   str(installation.settings.data_dir)], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            state = None
            for _ in range(100):
                state = (await exchanges.exchange_messages(svc, nurse.actor, uuid.UUID(exchange["id"])))[
                    "messages"][0]["mssante"]["state"]
                if state == "sending":
                    break
                await asyncio.sleep(0.1)
            assert state == "sending"
            os.killpg(worker.pid, signal.SIGKILL)
        finally:
            worker.wait(10)
    good = configure(installation.settings, org.slug, [nurse.email], box, extra="lease_seconds = 2", name="ok.toml")
    assert (await outbox.deliver_due(svc, good.runtime.gateway, good.runtime.submitter)).sent == 0  # leased
    time.sleep(2.1)
    assert (await outbox.deliver_due(svc, good.runtime.gateway, good.runtime.submitter)).sent == 1
    assert (await outbox.deliver_due(svc, good.runtime.gateway, good.runtime.submitter)).sent == 0
    got = mailbox_contents(gp)
    time.sleep(0.5)
    assert len(mailbox_contents(gp)) == len(got) == 1


async def test_listener_and_idle(installation: Installation, mail: None) -> None:
    """The SMTP listener (own domain) requires STARTTLS and accepts only our mailboxes; IMAP IDLE
    wakes up when mail arrives."""
    import smtplib
    import ssl

    from chevet.adapters.mail.listener import Whitelisting, start_listener
    from chevet.core.mssante.whitelist import Verdict

    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    box = unique("accueil", "ehpad.test")
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(MAIL_DIR / "tls" / "server.pem"), str(MAIL_DIR / "tls" / "server.key"))
    received: list[str] = []

    async def deliver(mailbox: str, raw: bytes) -> None:
        received.append((await inbound.ingest(svc, cfg.runtime.gateway, mailbox, raw)).state.value)

    listed = Whitelisting(lambda domain: Verdict.ALLOWED if domain == "gp.test" else Verdict.UNLISTED)
    server = await start_listener("127.0.0.1", 0, tls, {box}, deliver, 1 << 20, whitelisting=listed)
    port = server.sockets[0].getsockname()[1]
    client_tls = ssl.create_default_context(cafile=str(MAIL_DIR / "tls" / "ca.pem"))

    def send(starttls: bool, rcpt: str) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            if starttls:
                s.starttls(context=client_tls)
            s.sendmail("dr@gp.test", [rcpt], _mail("dr@gp.test", box, "l1@gp.test", "Par le listener"))

    try:
        with pytest.raises(smtplib.SMTPException):
            await asyncio.to_thread(send, False, box)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            await asyncio.to_thread(send, True, "autre@ehpad.test")
        await asyncio.to_thread(send, True, box)
        assert received == ["integrated"]
    finally:
        server.close()

    imap = cfg.runtime.imap(box)
    assert imap is not None
    try:
        await imap.fetch(None)
        assert imap.supports_idle
        loop = asyncio.get_running_loop()
        loop.call_later(0.5, lambda: inject(_mail("dr@gp.test", box, "i1@gp.test", "idle"), "dr@gp.test", [box]))
        assert await imap.idle(10)
    finally:
        await imap.close()
    assert await jobs.fetch_once(installation, cfg.runtime, box) == 1
    _ = SMTP_PORT


async def _mailbox(installation: Installation) -> tuple[Organisation, Member, str, Configured]:
    """An organisation with a nurse who reads one new gateway mailbox."""
    org = await new_org(installation.services)
    nurse = await new_member(installation.services, org, "nurse")
    box = unique("secretariat", "ehpad.test")
    return org, nurse, box, configure(installation.settings, org.slug, [nurse.email], box)


async def _actions(installation: Installation, org_id: uuid.UUID, action: str) -> list[dict[str, object]]:
    async with installation.services.db.transaction() as tx:
        return [e.detail async for e in tx.audit.entries(org_id) if e.action == action]


async def test_workers_racing_for_the_same_mail_integrate_it_once(installation: Installation, mail: None) -> None:
    """Several workers (each task with its own database connection) integrate the same raw mail
    at the same moment: one message, one audit entry, one automatic receipt; the others see a
    duplicate and do nothing. The same for a mail that goes to quarantine."""
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    box = unique("secretariat", "ehpad.test")
    gw = configure(installation.settings, org.slug, [nurse.email], box).runtime.gateway
    gp = unique("dr.course", "gp.test")
    raw = _mail(gp, box, f"race-{uuid.uuid4().hex}@gp.test", "Une seule fois", request_mdn=True)
    garbage = b"Subject: qui ?\r\nMessage-ID: <race-garbage@nowhere>\r\n\r\ncorps"
    results = await asyncio.gather(*(inbound.ingest(svc, gw, box, raw) for _ in range(4)))
    kept = await asyncio.gather(*(inbound.ingest(svc, gw, box, garbage) for _ in range(3)))

    assert sorted(r.state.value for r in results) == ["duplicate", "duplicate", "duplicate", "integrated"]
    assert sorted(r.state.value for r in kept) == ["duplicate", "duplicate", "quarantined"]
    conv_id = next(r.conversation_id for r in results if r.state is InboundState.INTEGRATED)
    assert conv_id is not None
    view = await exchanges.exchange_messages(svc, nurse.actor, conv_id)
    assert [m["body"] for m in view["messages"]] == ["Une seule fois"]
    assert len(await _actions(installation, org.id, "mssante.received")) == 1
    assert len(await _actions(installation, org.id, "mssante.quarantined")) == 1
    async with svc.db.transaction() as tx:
        rows = await tx.mssante.for_conversation(conv_id)
        assert sorted(int(m.direction) for m in rows) == [2, 3]   # the message, and one receipt queued
        assert len(await tx.mssante.inbound(org.id, None, 50)) == 2


async def test_two_worker_processes_polling_one_mailbox(installation: Installation, mail: None) -> None:
    """Two real `chevet mssante fetch` processes read the same IMAP mailbox at the same time:
    every mail is integrated exactly once."""
    svc = installation.services
    org, nurse, box, cfg = await _mailbox(installation)
    gp = unique("dr.double", "gp.test")
    for i in range(5):
        inject(_mail(gp, box, f"w{i}-{uuid.uuid4().hex}@gp.test", f"Relève {i}"), gp, [box])
    mailbox_contents(box, expect=5)
    env = {**os.environ, "CHEVET_MSSANTE_CONFIG": str(cfg.path), "CHEVET_PASSWORD_TIME_COST": "1",
           "CHEVET_PASSWORD_MEMORY_KIB": "1024"}
    if installation.settings.database.url:
        env["CHEVET_DATABASE_URL"] = installation.settings.database.url
    workers = [subprocess.Popen([sys.executable, "-m", "chevet.cli.main", "mssante", "fetch", "--data-dir",
                                 str(installation.settings.data_dir)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True) for _ in range(2)]
    for w in workers:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err.decode(errors="replace")[-2000:]
    received = await _actions(installation, org.id, "mssante.received")
    assert len(received) == 5
    async with svc.db.transaction() as tx:
        records = await tx.mssante.inbound(org.id, None, 50)
    assert sorted(r.state.value for r in records) == ["integrated"] * 5
    convs = {d["conversation"] for d in received}
    bodies = []
    for c in convs:
        shown = await exchanges.exchange_messages(svc, nurse.actor, uuid.UUID(str(c)))
        bodies += [m["body"] for m in shown["messages"]]
    bodies.sort()
    assert bodies == [f"Relève {i}" for i in range(5)]


async def test_the_migration_keeps_the_earliest_of_mail_recorded_twice(installation: Installation) -> None:
    """A database upgraded after the race happened holds the same mail twice: the migration
    keeps the earliest record, keeps every quarantined mail that had no Message-ID, and from
    then on a second record of the same mail is refused."""
    from datetime import timedelta

    from sqlalchemy import insert, select

    from chevet.adapters.db.schema_mssante import mss_inbound
    from chevet.core.mssante.records import InboundRecord

    db = installation.services.db
    org = await new_org(installation.services)

    await migrate(installation, "0010_mss_inbound_once-1", up=False)
    same, other, zero = b"\x01" * 32, b"\x02" * 32, b"\0" * 32
    ids = {name: uuid.uuid4() for name in ("late", "early", "other", "zero1", "zero2")}
    rows = [("late", same, 5), ("early", same, 0), ("other", other, 1), ("zero1", zero, 2), ("zero2", zero, 3)]
    async with db.engine.begin() as conn:
        for name, mid, minutes in rows:
            await conn.execute(insert(mss_inbound).values(
                id=ids[name], org_id=org.id, mailbox="box@ehpad.test", mid_hash=mid,
                state="quarantined" if mid == zero else "integrated", reason=None,
                received_at=NOW + timedelta(minutes=minutes), size=10))
    await migrate(installation, "heads")
    async with db.engine.connect() as conn:
        left = {r.id: bytes(r.mid_hash) for r in await conn.execute(
            select(mss_inbound.c.id, mss_inbound.c.mid_hash).where(mss_inbound.c.org_id == org.id))}
    assert set(left) == {ids["early"], ids["other"], ids["zero1"], ids["zero2"]}
    assert left[ids["zero1"]] != left[ids["zero2"]]
    async with db.transaction() as tx:
        again = InboundRecord(uuid.uuid4(), org.id, "box@ehpad.test", same, InboundState.INTEGRATED, None, NOW, 10)
        assert await tx.mssante.add_inbound(again) is False
        assert await tx.mssante.add_inbound(InboundRecord(uuid.uuid4(), org.id, "box@ehpad.test", b"\x03" * 32,
                                                          InboundState.INTEGRATED, None, NOW, 10)) is True


async def test_a_signer_that_is_not_the_sender_is_shown_and_recorded(installation: Installation, mail: None) -> None:
    """A mail From dr.martin@ signed by a trust-space certificate issued to another address is
    not shown as validly signed: the exchange page says so in French (English on request), and
    the state is kept on the message and in its audit entry. The same for a certificate that
    may not sign mail."""
    import html

    from chevet.web.app import create_app
    from tests.web_client import Browserless

    svc = installation.services
    org, nurse, box, cfg = await _mailbox(installation)
    martin = unique("dr.martin", "gp.test")
    signers = {"mismatch": SMIME_CA.issue("Dr Durand", email="dr.durand@gp.test"),
               "untrusted": SMIME_CA.issue("Dr Martin", email=martin, signing=False),
               "valid": SMIME_CA.issue("Dr Martin", email=martin)}
    conv_id = None
    for expected, signer in signers.items():
        env = mime.Envelope(sender=martin, recipients=(box,), subject=expected, message_id=f"{uuid.uuid4()}@gp.test",
                            date=NOW, nil="N")
        got = await inbound.ingest(svc, cfg.runtime.gateway, box,
                                           mime.assemble(env, mime.build_content(f"Texte {expected}", []),
                                                         signer.identity))
        assert got.state is InboundState.INTEGRATED
        conv_id = got.conversation_id
    assert conv_id is not None
    shown = [m["mssante"] for m in (await exchanges.exchange_messages(svc, nurse.actor, conv_id))["messages"]]
    assert [(m["signature"], m["signature_reason"]) for m in shown] == [
        ("mismatch", "sender_mismatch"), ("untrusted", "key_usage"), ("valid", None)]
    assert shown[0]["signer_emails"] == ["dr.durand@gp.test"]
    assert [(d["signature"], d.get("signature_reason")) for d in await _actions(installation, org.id,
                                                                            "mssante.received")] == [
        ("mismatch", "sender_mismatch"), ("untrusted", "key_usage"), ("valid", None)]

    client = Browserless(app=create_app(installation))
    try:
        await client.sign_in(nurse)
        fr = await client.get(f"/mssante/x/{conv_id}")
        en = await client.get(f"/mssante/x/{conv_id}", headers={"Accept-Language": "en-GB,en;q=0.9"})
    finally:
        await client.close()
    assert fr.status_code == en.status_code == 200
    text = html.unescape(fr.text)
    assert "Signature valide, mais émise pour une autre adresse que celle de l'expéditeur" in text
    assert "dr.durand@gp.test" in text
    assert "certificat non prévu pour signer" in text
    assert text.count("Signature vérifiée") == 1   # only the sender's own certificate
    assert 'class="tag error" data-signature="mismatch"' in fr.text
    assert "Valid signature, but issued for another address than the sender's" in html.unescape(en.text)


async def test_hostile_xml_in_a_mail_is_quarantined_in_any_encoding(installation: Installation, mail: None) -> None:
    """The reported METADATA.XML (UTF-16, a DOCTYPE and an entity) and a CDA document asking for
    an external entity: each mail is quarantined with its reason, nothing reaches a member."""
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    admin = await new_member(svc, org, "admin")
    box = unique("secretariat", "ehpad.test")
    gw = configure(installation.settings, org.slug, [nurse.email], box).runtime.gateway
    metadata = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY e "EXPANDED">]>'
                "<SubmitObjectsRequest>&e;</SubmitObjectsRequest>").encode("utf-16")
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("IHE_XDM/SUBSET01/METADATA.XML", metadata)
        z.writestr("IHE_XDM/SUBSET01/DOC0001.XML", CDA)
    cda = CDA.replace(b"?><ClinicalDocument", b'?><!DOCTYPE ClinicalDocument [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                      b"<ClinicalDocument", 1)
    assert cda != CDA
    got = {}
    for name, attachment in {"xdm": mime.Attachment("IHE_XDM.zip", "application/zip", package.getvalue()),
                             "cda": mime.Attachment("cr.xml", "text/xml", cda)}.items():
        raw = _mail("labo@chu.test", box, f"{name}-{uuid.uuid4().hex}@chu.test", "Résultats", attachments=[attachment])
        got[name] = await inbound.ingest(svc, gw, box, raw)
    assert {k: (r.state, r.reason) for k, r in got.items()} == {
        "xdm": (InboundState.QUARANTINED, "xdm_xml_dtd"), "cda": (InboundState.QUARANTINED, "xml_refused")}
    assert sorted(q["reason"] for q in await inbound.quarantined(svc, admin.actor)) == [
        "xdm_xml_dtd", "xml_refused"]

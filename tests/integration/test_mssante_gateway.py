"""The MSSanté gateway against real mail servers on loopback (Postfix as the operator's
submission relay, Dovecot as the mailboxes), on SQLite and PostgreSQL.

Acceptance: a nurse writes to a GP's MSSanté address with a PDF attached; the GP's server
receives a signed message with the right headers; the GP's reply and its receipt appear in the
same conversation; nothing is lost while the operator is down for an hour.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest

from chevet.app.mssante import exchanges, inbound
from chevet.app.mssante import outbox as mssante_outbox
from chevet.bootstrap import Installation
from chevet.core.entities import RealtimeEvent
from chevet.core.errors import Forbidden, NotFound
from chevet.core.mssante import mime
from chevet.core.mssante.mdn import Disposition, DispositionType
from chevet.jobs import mssante as jobs
from tests.conftest import _require
from tests.mss_support import (
    SMIME_CA,
    ManualClock,
    configure,
    download,
    inject,
    mail_available,
    mailbox_contents,
    unique,
    upload,
)
from tests.support import free_port, new_member, new_org

PDF = b"%PDF-1.4\n% compte rendu de sortie\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
PRESCRIPTION = b"%PDF-1.7\n% ordonnance\n" + bytes(range(255, -1, -1)) * 4 + b"\n%%EOF\n"


@pytest.fixture
def mail() -> None:
    _require(mail_available(), "the loopback mail servers (.ci/setup-mail)")


def _openssl_verify(raw: bytes, tmp: Path) -> bytes:
    (tmp / "in.eml").write_bytes(raw)
    (tmp / "ca.pem").write_bytes(SMIME_CA.pem())
    out = subprocess.run(["openssl", "cms", "-verify", "-in", str(tmp / "in.eml"), "-CAfile", str(tmp / "ca.pem")],
                         capture_output=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


async def test_nurse_writes_to_a_gp_and_gets_the_reply_and_receipt(installation: Installation, mail: None,
                                                                    tmp_path: Path) -> None:
    svc = installation.services
    clock = ManualClock()
    svc.clock = clock
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    box = unique("secretariat", "ehpad.test")
    gp = unique("dr-martin", "gp.test")
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    gw = cfg.runtime.gateway

    exchange = await exchanges.open_exchange(svc, gw, nurse.actor, to=[gp], title="Sortie de Mme R.")
    conv_id = exchange["id"]
    import uuid

    # The PDF goes through the ordinary upload (checks, antivirus, sealed blob), then the message.
    pdf_id = await upload(svc, nurse.actor, uuid.UUID(conv_id), PDF, "compte-rendu.pdf")
    view, created = await exchanges.send(
        svc, gw, nurse.actor, uuid.UUID(conv_id), body="Bonjour Docteur,\nci-joint le compte rendu de sortie.",
        client_id="c-1", subject="Compte rendu de sortie", request_receipt=True, attachment_ids=[pdf_id])
    assert created and [a["id"] for a in view["attachments"]] == [str(pdf_id)]
    again, created_again = await exchanges.send(svc, gw, nurse.actor, uuid.UUID(conv_id), body="x", client_id="c-1")
    assert not created_again and again["id"] == view["id"]

    # The operator is down: the message waits, visibly, and is not lost.
    down = configure(installation.settings, org.slug, [nurse.email], box, smtp_port=free_port(), name="down.toml")
    report = await mssante_outbox.deliver_due(svc, down.runtime.gateway, down.runtime.submitter)
    assert (report.sent, report.retried, report.dead) == (0, 1, 0)
    state = (await exchanges.exchange_messages(svc, nurse.actor, uuid.UUID(conv_id)))["messages"][0]["mssante"]
    assert state["state"] == "pending" and state["attempts"] == 1 and "operator_unreachable" in state["error"]
    for _ in range(4):   # an hour of retries with back-off, the operator still down
        clock.advance(timedelta(minutes=15))
        await mssante_outbox.deliver_due(svc, down.runtime.gateway, down.runtime.submitter)
    clock.advance(timedelta(hours=1))
    # The operator is back.
    report = await mssante_outbox.deliver_due(svc, gw, cfg.runtime.submitter)
    assert (report.sent, report.dead) == (1, 0)
    assert (await mssante_outbox.deliver_due(svc, gw, cfg.runtime.submitter)).sent == 0

    # What the GP's server received.
    (raw,) = mailbox_contents(gp)
    msg = message_from_bytes(raw)
    assert msg["X-MSS-NIL"] == "NIL-TEST-0001"
    assert msg["Disposition-Notification-To"] == box
    assert msg.get_content_type() == "multipart/signed"
    content = _openssl_verify(raw, tmp_path)
    inner = message_from_bytes(content)
    pdfs = [p for p in inner.walk() if p.get_content_type() == "application/pdf"]
    assert pdfs and pdfs[0].get_payload(decode=True) == PDF and pdfs[0].get_filename() == "compte-rendu.pdf"
    original_id = msg["Message-ID"].strip("<>")

    # The GP's software replies (asking for a receipt) and acknowledges the first message.
    gp_ident = SMIME_CA.issue("Dr Martin", email=gp)
    reply_env = mime.Envelope(sender=gp, recipients=(box,), subject="RE: Compte rendu de sortie",
                              message_id=f"reply-1@{gp.split('@')[1]}", date=clock.now(), nil="NIL-GP",
                              in_reply_to=original_id, references=(original_id,), request_mdn=True)
    inject(mime.assemble(reply_env, mime.build_content("Bien reçu, je passe jeudi.", [
        mime.Attachment("ordonnance.pdf", "application/pdf", PRESCRIPTION)]), gp_ident.identity), gp, [box])
    parsed = mime.parse_inbound(raw, max_bytes=1 << 24, anchors=[SMIME_CA.cert], at=clock.now())
    mdn = mime.build_mdn_content(parsed, raw, reporting_ua="Logiciel du GP", final_recipient=gp,
                                 disposition=Disposition(DispositionType.PROCESSED), human_text="Message intégré")
    mdn_env = mime.Envelope(sender=gp, recipients=(box,), subject="Accusé de traitement", message_id="mdn-1@gp.test",
                            date=clock.now(), nil="NIL-GP")
    inject(mime.assemble(mdn_env, mdn, gp_ident.identity), gp, [box])
    mailbox_contents(box, expect=2)
    assert await jobs.fetch_once(installation, cfg.runtime, box) == 2
    assert await jobs.fetch_once(installation, cfg.runtime, box) == 0   # the cursor moved

    ex = await exchanges.exchange_messages(svc, nurse.actor, uuid.UUID(conv_id))
    sent, received = ex["messages"]
    assert sent["mssante"]["direction"] == "sent" and sent["mssante"]["state"] == "sent"
    assert sent["mssante"]["disposition"] == "processed"          # shown as "traité"
    assert sent["mssante"]["attachments"][0]["name"] == "compte-rendu.pdf"
    assert received["body"] == "Bien reçu, je passe jeudi."
    assert received["mssante"]["from"] == gp and received["mssante"]["signature"] == "valid"
    # The GP's document is an attachment of the reply, stored by the gateway (no uploader),
    # downloaded like any other, and each read of it is audited.
    (doc,) = received["attachments"]
    assert (doc["name"], doc["mime"], doc["origin"], doc["uploader_id"]) == (
        "ordonnance.pdf", "application/pdf", "mssante", None)
    assert await download(svc, nurse.actor, doc["id"]) == PRESCRIPTION
    async with svc.db.transaction() as tx:
        reads = [e for e in await tx.audit.query(org.id, object_id=uuid.UUID(doc["id"]))
                 if e.action == "mssante.attachment_read"]
    assert [e.actor_id for e in reads] == [nurse.id]

    # Chevet answers the receipt request through the outbox: a top-level multipart/report, as
    # a reader that does not unwrap S/MIME must find it (ANS volet v1.1.3, RFC 6522 §3).
    assert (await mssante_outbox.deliver_due(svc, gw, cfg.runtime.submitter)).sent == 1
    receipts = [m for m in mailbox_contents(gp, expect=2) if b"multipart/report" in m]
    assert len(receipts) == 1
    assert message_from_bytes(receipts[0]).get_content_type() == "multipart/report"
    got = mime.parse_inbound(receipts[0], max_bytes=1 << 24, anchors=[SMIME_CA.cert], at=clock.now())
    assert got.signature.status.value == "unsigned"
    assert got.disposition is not None and got.disposition.original_message_id == "reply-1@gp.test"


async def test_refused_recipient_is_a_visible_dead_letter_and_the_author_is_told(installation: Installation,
                                                                                   mail: None) -> None:
    import uuid

    svc = installation.services
    events: list[RealtimeEvent] = []
    await svc.bus.start(events.append)
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    other = await new_member(svc, org, "nurse")
    box = unique("secretariat", "ehpad.test")
    cfg = configure(installation.settings, org.slug, [nurse.email, other.email], box)
    gw = cfg.runtime.gateway
    exchange = await exchanges.open_exchange(svc, gw, nurse.actor, to=[unique("refuse", "gp.test")], title="")
    conv = uuid.UUID(exchange["id"])
    await exchanges.send(svc, gw, nurse.actor, conv, body="Question", client_id="q-1")
    report = await mssante_outbox.deliver_due(svc, gw, cfg.runtime.submitter)
    assert (report.sent, report.dead) == (0, 1)
    state = (await exchanges.exchange_messages(svc, nurse.actor, conv))["messages"][0]["mssante"]
    assert state["state"] == "dead" and "recipients_refused" in state["error"]
    told = [e for e in events if e.payload.get("type") == "mssante.delivery_failed"]
    assert len(told) == 1 and told[0].user_ids == (nurse.id,) and told[0].private
    with pytest.raises(Forbidden):
        await exchanges.retry_dead(svc, other.actor, conv, uuid.UUID(state["id"]))
    await exchanges.retry_dead(svc, nurse.actor, conv, uuid.UUID(state["id"]))
    state = (await exchanges.exchange_messages(svc, nurse.actor, conv))["messages"][0]["mssante"]
    assert state["state"] == "pending"


async def test_another_organisation_sees_nothing(installation: Installation, mail: None) -> None:
    import uuid

    svc = installation.services
    org_a, org_b = await new_org(svc), await new_org(svc)
    nurse = await new_member(svc, org_a, "nurse")
    admin_b = await new_member(svc, org_b, "admin")
    cfg = configure(installation.settings, org_a.slug, [nurse.email], unique("sec", "ehpad.test"))
    exchange = await exchanges.open_exchange(svc, cfg.runtime.gateway, nurse.actor, to=["gp@gp.test"], title="x")
    pdf_id = await upload(svc, nurse.actor, uuid.UUID(exchange["id"]), PDF, "a.pdf")
    with pytest.raises(NotFound):   # another organisation cannot attach it to its own mail
        await exchanges.send(svc, cfg.runtime.gateway, admin_b.actor, uuid.UUID(exchange["id"]), body="x",
                           client_id="z", attachment_ids=[pdf_id])
    await exchanges.send(svc, cfg.runtime.gateway, nurse.actor, uuid.UUID(exchange["id"]), body="x", client_id="a",
                       attachment_ids=[pdf_id])
    att_id = (await exchanges.exchange_messages(svc, nurse.actor, uuid.UUID(exchange["id"])))["messages"][0][
        "mssante"]["attachments"][0]["id"]
    with pytest.raises(NotFound):
        await exchanges.exchange_messages(svc, admin_b.actor, uuid.UUID(exchange["id"]))
    with pytest.raises(NotFound):
        await download(svc, admin_b.actor, att_id)
    with pytest.raises(NotFound):
        await exchanges.send(svc, cfg.runtime.gateway, admin_b.actor, uuid.UUID(exchange["id"]), body="x",
                           client_id="b")
    assert await download(svc, nurse.actor, att_id) == PDF
    assert await inbound.quarantined(svc, admin_b.actor) == []


async def test_external_exchanges_open_only_through_the_gateway(installation: Installation) -> None:
    from chevet.app.messaging import conversations
    from chevet.core.errors import InvalidInput

    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    with pytest.raises(InvalidInput, match="external_needs_mssante"):
        await conversations.create_conversation(svc, nurse.actor, kind="external", title="x", member_ids=[])


def _dsn(box: str, *, envelope_id: str | None, original_id: str, action: str, status: str) -> bytes:
    """A delivery status notification as an operator's MTA writes one (RFC 3464)."""
    envid = f"Original-Envelope-Id: {envelope_id}\r\n" if envelope_id else ""
    return (f"From: MAILER-DAEMON@operator.test (Mail Delivery System)\r\nTo: {box}\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-{action}-{status}-{original_id}>\r\n"
            f"MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
            f"--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nI'm sorry to have to inform you...\r\n"
            f"--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; mx.operator.test\r\n{envid}Arrival-Date: Sat, 28 Nov 2026 10:00:00 +0100\r\n\r\n"
            f"Final-Recipient: rfc822; someone@gp.test\r\nOriginal-Recipient: rfc822;someone@gp.test\r\n"
            f"Action: {action}\r\nStatus: {status}\r\n"
            f"Diagnostic-Code: smtp; 552 {status} mailbox of someone@gp.test is full\r\n\r\n"
            f"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {box}\r\nMessage-ID: <{original_id}>\r\n"
            f"Subject: x\r\n\r\n--b1--\r\n").encode()


async def test_a_bounce_marks_the_message_failed_and_tells_its_author(installation: Installation,
                                                                      mail: None) -> None:
    import uuid

    svc = installation.services
    events: list[RealtimeEvent] = []
    await svc.bus.start(events.append)
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    admin = await new_member(svc, org, "admin")
    box = unique("secretariat", "ehpad.test")
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    gw = cfg.runtime.gateway
    exchange = await exchanges.open_exchange(svc, gw, nurse.actor, to=[unique("dr-b", "gp.test")], title="")
    conv = uuid.UUID(exchange["id"])
    await exchanges.send(svc, gw, nurse.actor, conv, body="Premier", client_id="b-1")
    second, _ = await exchanges.send(svc, gw, nurse.actor, conv, body="Second", client_id="b-2")
    # Submitted with ENVID (the operator offers DSN): accepted as usual.
    assert (await mssante_outbox.deliver_due(svc, gw, cfg.runtime.submitter)).sent == 2
    states = {m["body"]: m["mssante"] for m in (await exchanges.exchange_messages(svc, nurse.actor, conv))["messages"]}
    mid_second = f"{second['id']}@{box.split('@')[1]}"

    # Delayed only: nothing changes. Failed, named by envelope id: the first fails. Failed, named
    # only by the returned headers' Message-ID: the second fails. Unknown: quarantined.
    for raw in (_dsn(box, envelope_id=uuid.UUID(states["Premier"]["id"]).hex, original_id="x@y", action="delayed",
                     status="4.4.1"),
                _dsn(box, envelope_id=uuid.UUID(states["Premier"]["id"]).hex, original_id="x@y", action="failed",
                     status="5.2.2"),
                _dsn(box, envelope_id=None, original_id=mid_second, action="failed", status="5.1.1"),
                _dsn(box, envelope_id=None, original_id="nobody@nowhere.test", action="failed", status="5.1.1")):
        inject(raw, "", [box])
    mailbox_contents(box, expect=4)
    assert await jobs.fetch_once(installation, cfg.runtime, box) == 4

    states = {m["body"]: m["mssante"] for m in (await exchanges.exchange_messages(svc, nurse.actor, conv))["messages"]}
    assert (states["Premier"]["state"], states["Premier"]["error"]) == ("dead", "bounced: 5.2.2")
    assert (states["Second"]["state"], states["Second"]["error"]) == ("dead", "bounced: 5.1.1")
    told = [e for e in events if e.payload.get("type") == "mssante.delivery_failed"]
    assert len(told) == 2 and all(e.user_ids == (nurse.id,) and e.private for e in told)
    assert [q["reason"] for q in await inbound.quarantined(svc, admin.actor)] == ["dsn_unknown_original"]
    # No remote diagnostic text (it names the recipient) is kept in the clear.
    if installation.settings.database.url is None:
        assert b"is full" not in (installation.settings.data_dir / "chevet.db").read_bytes()


async def test_a_member_sends_a_structured_document_in_an_xdm_package(installation: Installation, mail: None,
                                                                      tmp_path: Path) -> None:
    """A discharge summary as HL7 CDA, uploaded by a member to an exchange (and only there), leaves
    in an IHE_XDM.zip with X-MSS-CODECDA and X-MSS-INS; a hostile archive is refused on upload."""
    import io
    import uuid
    import zipfile

    from chevet.app.attachments import upload as attachments
    from chevet.app.messaging.conversations import create_conversation
    from chevet.core.errors import InvalidInput
    from chevet.core.mssante import xdm
    from tests.unit.test_mss_mime import CDA

    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    doctor = await new_member(svc, org, "physician")
    box, gp = unique("secretariat", "ehpad.test"), unique("dr-cda", "gp.test")
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    exchange = uuid.UUID((await exchanges.open_exchange(svc, cfg.runtime.gateway, nurse.actor, to=[gp],
                                                      title="Sortie"))["id"])
    team, _ = await create_conversation(svc, nurse.actor, kind="group", title="Équipe", member_ids=[doctor.id])
    with pytest.raises(InvalidInput) as refused:  # inside the establishment, the allow-list is unchanged
        await attachments.upload(svc, nurse.actor, uuid.UUID(team["id"]), data=CDA, name="sortie.xml")
    assert refused.value.code == "attachment_type_refused"
    hostile = io.BytesIO()
    with zipfile.ZipFile(hostile, "w") as z:
        z.writestr("../../etc/cron.d/x", b"* * * * * root true\n")
    with pytest.raises(InvalidInput):
        await attachments.upload(svc, nurse.actor, exchange, data=hostile.getvalue(), name="IHE_XDM.zip")

    cda_id = await upload(svc, nurse.actor, exchange, CDA, "lettre-de-liaison.xml")
    await exchanges.send(svc, cfg.runtime.gateway, nurse.actor, exchange, body="Lettre de liaison.", client_id="x-1",
                       attachment_ids=[cda_id])
    assert (await mssante_outbox.deliver_due(svc, cfg.runtime.gateway, cfg.runtime.submitter)).sent == 1
    (raw,) = mailbox_contents(gp)
    msg = message_from_bytes(raw)
    assert msg["X-MSS-CODECDA"] == "11488-4" and msg["X-MSS-INS"] == "O"
    inner = message_from_bytes(_openssl_verify(raw, tmp_path))
    (package,) = [p for p in inner.walk() if p.get_filename() == xdm.XDM_NAME]
    read = xdm.read_xdm(package.get_payload(decode=True))
    assert read.cda == [xdm.CdaFacts("11488-4", True)]

"""Read receipts Chevet sends (RFC 8098), against the loopback mail servers: "processed" by
itself when the receipt goes back to the sender, a reader's decision when it would go
elsewhere, and "displayed" when a member first opens the message."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest

from chevet.app.mssante import exchanges, outbox
from chevet.bootstrap import Installation
from chevet.core.errors import InvalidInput
from chevet.core.mssante import mime
from chevet.core.mssante.records import ReceiptState
from chevet.jobs import mssante as jobs
from tests.conftest import _require
from tests.mss_support import SMIME_CA, configure, inject, mail_available, mailbox_contents, unique
from tests.support import new_member, new_org


@pytest.fixture
def mail() -> None:
    _require(mail_available(), "the loopback mail servers (.ci/setup-mail)")


def _asking(sender: str, to: str, mid: str, text: str, receipt_to: str) -> bytes:
    env = mime.Envelope(sender=sender, recipients=(to,), subject=f"Objet {mid}", message_id=mid,
                        date=datetime.now(UTC), nil="N", request_mdn=True)
    raw = mime.assemble(env, mime.build_content(text, []), SMIME_CA.issue("Dr Y", email=sender).identity)
    # The request names another address than the sender's (outside the signed part, as in life).
    return raw.replace(f"Disposition-Notification-To: {sender}".encode(),
                       f"Disposition-Notification-To: {receipt_to}".encode())


def _dispositions(raws: list[bytes]) -> list[tuple[str, str]]:
    """The receipts as delivered, read first by a plain RFC 6522 reader (stdlib ``email``): the
    report is the message's own type, not hidden in multipart/signed (ANS volet v1.1.3)."""
    out = []
    for raw in raws:
        plain = message_from_bytes(raw)
        got = mime.parse_inbound(raw, max_bytes=1 << 24, anchors=[SMIME_CA.cert], at=datetime.now(UTC))
        if got.disposition is not None:
            assert plain.get_content_type() == "multipart/report"
            assert plain.get_param("report-type") == "disposition-notification"
            assert [p.get_content_type() for p in plain.get_payload()] == [  # type: ignore[union-attr]
                "text/plain", "message/disposition-notification", "message/rfc822"]
            assert str(make_header(decode_header(plain["Subject"]))).startswith(("Accusé de traitement : ",
                                                                                 "Accusé de lecture : "))
            out.append((got.disposition.original_message_id or "", raw.decode("latin-1").split("Disposition: ")[1]
                        .split("\r\n")[0]))
    return sorted(out)


async def test_receipts_processed_asked_and_displayed(installation: Installation, mail: None) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    box, gp, secretary = unique("sec", "ehpad.test"), unique("dr-y", "gp.test"), unique("secretariat-y", "gp.test")
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    gw = cfg.runtime.gateway

    own = mime.Envelope(sender=gp, recipients=(box,), subject="Bilan", message_id="own-1@gp.test",
                        date=datetime.now(UTC), nil="N", request_mdn=True)
    inject(mime.assemble(own, mime.build_content("Bilan joint.", []), SMIME_CA.issue("Dr Y", email=gp).identity),
           gp, [box])
    inject(_asking(gp, box, "ask-1@gp.test", "Merci de confirmer.", secretary), gp, [box])
    mailbox_contents(box, expect=2)
    assert await jobs.fetch_once(installation, cfg.runtime, box) == 2

    # Before anyone opens: only the automatic "processed" for the first one.
    assert (await outbox.deliver_due(svc, gw, cfg.runtime.submitter)).sent == 1

    # The nurse opens the exchange: "displayed" for the first; the second asks her.
    conv = None
    async with svc.db.transaction() as tx:
        for c in await tx.conversations.summaries(org.id, nurse.id):
            conv = c.conversation.id
    assert conv is not None
    view = await exchanges.exchange_messages(svc, nurse.actor, conv, gw)
    first, second = view["messages"]
    assert "receipt_question" not in first["mssante"]
    assert second["mssante"]["receipt_question"] and second["mssante"]["receipt_to"] == secretary
    await exchanges.exchange_messages(svc, nurse.actor, conv, gw)   # opening again sends nothing more
    assert (await outbox.deliver_due(svc, gw, cfg.runtime.submitter)).sent == 1

    await exchanges.answer_receipt(svc, gw, nurse.actor, conv, uuid.UUID(second["mssante"]["id"]), True)
    with pytest.raises(InvalidInput, match="mss_no_receipt_question"):
        await exchanges.answer_receipt(svc, gw, nurse.actor, conv, uuid.UUID(second["mssante"]["id"]),
                                     False)
    assert (await outbox.deliver_due(svc, gw, cfg.runtime.submitter)).sent == 1

    assert _dispositions(mailbox_contents(gp, expect=2)) == [
        ("own-1@gp.test", "automatic-action/MDN-sent-automatically; processed"),
        ("own-1@gp.test", "manual-action/MDN-sent-automatically; displayed")]
    assert _dispositions(mailbox_contents(secretary, expect=1)) == [
        ("ask-1@gp.test", "manual-action/MDN-sent-manually; displayed")]
    # Once decided, the originals kept for the receipts are gone.
    async with svc.db.transaction() as tx:
        received = [m for m in await tx.mssante.for_conversation(conv) if m.entry_id is not None]
    assert {(m.receipt, m.mime_sealed) for m in received} == {(ReceiptState.DISPLAYED, None),
                                                              (ReceiptState.SENT, None)}


MASKED_CDA = (b'<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3">'
              b'<code code="11488-4" codeSystem="2.16.840.1.113883.6.1"/><title>Lettre de liaison</title>'
              b'<confidentialityCode code="MASQUE_PS"/><recordTarget><patientRole><patient><name>'
              b'<given>Jeanne</given><family qualifier="BR">Martin</family></name><birthTime value="19380214"/>'
              b"</patient></patientRole></recordTarget></ClinicalDocument>")


async def test_a_mail_that_cannot_be_integrated_gets_an_error_receipt(installation: Installation, mail: None) -> None:
    """ANS volet « Structure du MDN » / « Objet du MDN » (v1.1.3) and RFC 8098 §3.2.6–3.2.7: a
    mail of a known exchange, asking for a receipt, whose document cannot be integrated (here
    masked to professionals, MASQUE_PS) is quarantined AND answered by
    ``processed/error`` + ``Error: 207^…``, subject ``[KO Intégration système !][207] XDM/1.0/DDM+…``,
    read in the correspondent's Dovecot mailbox by a plain stdlib reader. A first mail (no
    exchange yet) gets the same receipt through the receipts' own outbox, whose row (sealed with
    its own key, the original inside) is gone once sent."""
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    box, gp = unique("sec", "ehpad.test"), unique("dr-k", "gp.test")
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    gw = cfg.runtime.gateway
    signer = SMIME_CA.issue("Dr K", email=gp).identity
    masked = mime.Attachment("lettre.xml", "text/xml", MASKED_CDA)

    def mail_from_gp(mid: str, attachments: list[mime.Attachment], request_mdn: bool) -> bytes:
        env = mime.Envelope(sender=gp, recipients=(box,), subject=f"Objet {mid}", message_id=mid,
                            date=datetime.now(UTC), nil="N", request_mdn=request_mdn)
        return mime.assemble(env, mime.build_content("Bonjour.", attachments), signer)

    inject(mail_from_gp("first-masked@gp.test", [masked], True), gp, [box])      # no exchange yet
    mailbox_contents(box, expect=1)
    assert await jobs.fetch_once(installation, cfg.runtime, box) == 1
    assert (await outbox.deliver_due(svc, gw, cfg.runtime.submitter)).sent == 0  # no exchange carries it…
    assert (await jobs.deliver_once(installation, cfg.runtime)).sent == 1        # …its own outbox does
    (first,) = mailbox_contents(gp, expect=1)
    first_report = message_from_bytes(first)
    assert first_report.get_content_type() == "multipart/report"
    assert str(make_header(decode_header(first_report["Subject"]))).startswith("[KO Intégration système !][207] ")
    assert first_report.get_payload()[1].get_payload()[0]["Original-Message-ID"] == "<first-masked@gp.test>"
    assert (await jobs.deliver_once(installation, cfg.runtime)).sent == 0        # sent once, row gone
    inject(mail_from_gp("hello@gp.test", [], False), gp, [box])                  # opens the exchange
    mailbox_contents(box, expect=2)
    assert await jobs.fetch_once(installation, cfg.runtime, box) == 1

    inject(mail_from_gp("masked@gp.test", [masked], True), gp, [box])
    mailbox_contents(box, expect=3)
    assert await jobs.fetch_once(installation, cfg.runtime, box) == 1
    assert (await outbox.deliver_due(svc, gw, cfg.runtime.submitter)).sent == 1

    (raw,) = [m for m in mailbox_contents(gp, expect=2) if b"<masked@gp.test>" in m.split(b"\r\n\r\n", 1)[0]]
    plain = message_from_bytes(raw)
    assert plain.get_content_type() == "multipart/report"
    assert str(make_header(decode_header(plain["Subject"]))) == \
        "[KO Intégration système !][207] XDM/1.0/DDM+Lettre de liaison MARTIN Jeanne 14/02/1938"
    text, notification, original = plain.get_payload()  # type: ignore[misc]
    fields = notification.get_payload()[0]
    assert fields["Disposition"] == "automatic-action/MDN-sent-automatically; processed/error"
    assert fields["Error"].startswith("207^")
    assert fields["Original-Message-ID"] == "<masked@gp.test>"
    assert "207" in text.get_payload(decode=True).decode()
    assert original.get_payload()[0]["Message-ID"] == "<masked@gp.test>"

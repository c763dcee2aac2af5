"""The invitation e-mail through the durable outbox, with SQLite and PostgreSQL and the real
loopback Postfix/Dovecot: queued with the invitation, sent by the server's job, never waited on
by the administrator (even with a relay that never answers), retried with a back-off and
delivered when the relay comes back, dead after its last attempt and shown so on the people
page; the row keeps the link only sealed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from chevet.adapters.db.schema_mail import mail_outbox as mail_outbox_table
from chevet.app.identity import mail_outbox
from chevet.app.identity.invitation_mail import KIND
from chevet.bootstrap import Installation
from chevet.core.mail_outbox import MailState
from chevet.jobs import mail as mail_job
from chevet.web.app import create_app
from tests.conftest import _require
from tests.mss_support import SMTP_PORT, ManualClock, mail_available, mailbox_contents, unique, use_relay
from tests.support import free_port, new_member, new_org
from tests.web_client import Browserless


@pytest.fixture
async def client(installation: Installation) -> AsyncIterator[Browserless]:
    c = Browserless(app=create_app(installation))
    yield c
    await c.close()


async def _invite(client: Browserless, name: str, email: str) -> str:
    page = await client.post("/admin/people/invite", {"name": name, "email": email, "role": "nurse"},
                             from_page="/admin/people")
    assert page.status_code == 200, page.text[:300]
    assert f"invitation partira par e-mail dans un instant, à {email}." in page.text
    token = re.search(r"/invitation/([A-Za-z0-9_-]{20,})", page.text)
    assert token is not None
    return token.group(1)


async def _state(installation: Installation, org_id: Any, person_email: str) -> MailState | None:
    async with installation.services.db.transaction() as tx:
        person = await tx.people.by_email(person_email)
        assert person is not None
        return (await tx.mail_outbox.states(org_id, KIND, [person.id])).get(person.id)


async def _row_values(installation: Installation) -> list[Any]:
    async with installation.services.db.transaction() as tx:
        rows = (await tx.conn.execute(select(mail_outbox_table))).all()
    return [v for r in rows for v in r]


def _person_row(page: str, email: str) -> str:
    row = re.search(r"<tr>(?:(?!</tr>).)*" + re.escape(email) + r"(?:(?!</tr>).)*</tr>", page, re.S)
    assert row is not None
    return row.group(0)


async def test_the_job_sends_the_queued_invitation_and_the_row_keeps_no_link(
        installation: Installation, client: Browserless, tmp_path: Path) -> None:
    _require(mail_available(), "the loopback mail servers (.ci/setup-mail)")
    svc = installation.services
    org = await new_org(svc, "ehpad-outbox")
    admin = await new_member(svc, org, "admin")
    use_relay(installation, tmp_path, SMTP_PORT)
    await client.sign_in(admin)
    invitee = unique("julie", "ehpad.test")
    token = await _invite(client, "Julie Petit", invitee)
    assert await _state(installation, org.id, invitee) is MailState.PENDING
    page = (await client.get("/admin/people")).text
    assert "envoi en cours" in _person_row(page, invitee)
    # The sealed row: neither the token nor the link in clear, in any column.
    values = await _row_values(installation)
    assert values and not any(token.encode() in (v if isinstance(v, bytes) else str(v).encode()) for v in values)
    job = asyncio.create_task(mail_job.periodic(installation))
    try:
        [raw] = await asyncio.to_thread(mailbox_contents, invitee)
    finally:
        job.cancel()
    assert token.encode() in raw
    for _ in range(100):  # the job marks it sent just after the relay's "250"
        if await _state(installation, org.id, invitee) is MailState.SENT:
            break
        await asyncio.sleep(0.05)
    assert await _state(installation, org.id, invitee) is MailState.SENT
    page = (await client.get("/admin/people")).text
    assert "e-mail envoyé" in _person_row(page, invitee)


async def test_a_relay_that_never_answers_does_not_keep_the_administrator_waiting(
        installation: Installation, client: Browserless, tmp_path: Path) -> None:
    _require(mail_available(), "the loopback mail servers (.ci/setup-mail)")
    svc = installation.services
    clock = ManualClock()
    svc.clock = clock
    org = await new_org(svc, "ehpad-hung-relay")
    admin = await new_member(svc, org, "admin")
    connected = asyncio.Event()
    release = asyncio.Event()

    async def never_answer(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        connected.set()
        await release.wait()
        w.close()

    tarpit = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = tarpit.sockets[0].getsockname()[1]
    use_relay(installation, tmp_path, port, timeout=60)
    assert svc.mail_relay is not None
    lease = svc.mail_relay.retry.lease
    await client.sign_in(admin)
    first = unique("marc", "ehpad.test")
    await _invite(client, "Marc Roux", first)
    sending = asyncio.create_task(mail_outbox.deliver_all_due(svc))
    await connected.wait()  # the job is on the relay's socket, which says nothing
    second = unique("lea", "ehpad.test")
    await _invite(client, "Léa Blanc", second)  # answered now, while the relay is still silent
    assert not sending.done() and not release.is_set()
    sending.cancel()  # the process dies mid-attempt: its lease will run out
    with pytest.raises(asyncio.CancelledError):
        await sending
    release.set()
    tarpit.close()
    assert await _state(installation, org.id, first) is MailState.SENDING
    # The relay is back; once the dead worker's lease is over, both mails leave.
    use_relay(installation, tmp_path, SMTP_PORT)
    clock.advance(lease + timedelta(seconds=1))
    assert (await mail_outbox.deliver_all_due(svc)).sent == 2
    assert len(await asyncio.to_thread(mailbox_contents, first)) == 1
    assert len(await asyncio.to_thread(mailbox_contents, second)) == 1


async def test_failed_attempts_back_off_then_the_mail_is_dead_and_the_page_says_so(
        installation: Installation, client: Browserless, tmp_path: Path) -> None:
    svc = installation.services
    clock = ManualClock()
    svc.clock = clock
    org = await new_org(svc, "ehpad-dead-mail")
    admin = await new_member(svc, org, "admin")
    use_relay(installation, tmp_path, free_port(), timeout=2, max_attempts=3, retry_seconds=30)
    await client.sign_in(admin)
    invitee = unique("zoe", "ehpad.test")
    await _invite(client, "Zoé Lemoine", invitee)
    assert (await mail_outbox.deliver_all_due(svc)).retried == 1       # nobody listening
    assert (await mail_outbox.deliver_all_due(svc)).retried == 0       # not due yet: backing off
    clock.advance(timedelta(seconds=31))
    assert (await mail_outbox.deliver_all_due(svc)).retried == 1       # 2nd attempt, after 30 s
    clock.advance(timedelta(seconds=31))
    assert (await mail_outbox.deliver_all_due(svc)).retried == 0       # the next wait doubled
    clock.advance(timedelta(seconds=30))
    assert (await mail_outbox.deliver_all_due(svc)).dead == 1          # 3rd and last attempt
    clock.advance(timedelta(minutes=5))
    report = await mail_outbox.deliver_all_due(svc)
    assert (report.sent, report.retried, report.dead) == (0, 0, 0)     # dead is never tried again
    assert await _state(installation, org.id, invitee) is MailState.DEAD
    page = (await client.get("/admin/people")).text
    assert "e-mail non remis — transmettez le lien" in _person_row(page, invitee)
    async with svc.db.transaction() as tx:
        entries = [e for e in await tx.audit.query(org.id, limit=50) if e.action == "invitation.mail_failed"]
    assert len(entries) == 1 and invitee not in str(entries[0].detail)

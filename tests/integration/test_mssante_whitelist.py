"""Operator duties of the own-domain SMTP listener: the trust space's list of domains enforced
on the wire, as a sending operator's SMTP client (Python's smtplib, not our code) meets it.

References: RFC 5321 §4.2.2–4.2.3 (reply codes: 550 refuses for good, 451 asks the sender to
retry), RFC 3463 §3.8 (5.7.1 / 4.7.1: delivery not authorised), RFC 3207 (STARTTLS first);
the MSSanté trust space (Référentiel socle #1 Opérateurs: only listed domains are accepted
between operators) as ``docs/mssante.md`` describes it."""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chevet.app.mssante import inbound
from chevet.bootstrap import Installation
from chevet.bootstrap.mssante import load_gateway
from chevet.core.mssante.records import InboundState
from chevet.jobs import mssante as jobs
from chevet.settings import SettingsError
from tests.conftest import _require
from tests.integration.test_mssante_inbound import _mail
from tests.mss_support import MAIL_DIR, configure, mail_available, unique
from tests.support import free_port, new_member, new_org

NS = "urn:chevet:mssante:liste-blanche:1"


@pytest.fixture
def mail() -> None:
    _require(mail_available(), "the loopback mail servers (.ci/setup-mail, for their TLS certificates)")


def _list(*domains: str, generated: str | None = None) -> bytes:
    generated = generated or datetime.now(UTC).isoformat()   # a current list (its date is data, not asserted)
    body = "".join(f"<domaine>{d}</domaine>" for d in domains)
    return (f'<listeBlanche xmlns="{NS}" dateGeneration="{generated}"><operateur identifiant="OP-1">{body}'
            "</operateur></listeBlanche>").encode()


def _listener(port: int, source: Path, *, acknowledged: bool = True, unlisted: str = "refuse",
              whitelist: bool = True, client_ca: Path | None = None) -> str:
    text = f'''
[listener]
{f'client_ca = "{client_ca}"' if client_ca else ""}
host = "127.0.0.1"
port = {port}
tls_certificate = "{MAIL_DIR / 'tls' / 'server.pem'}"
tls_key = "{MAIL_DIR / 'tls' / 'server.key'}"
operator_obligations_acknowledged = {"true" if acknowledged else "false"}
'''
    if whitelist:
        text += f'''
[listener.whitelist]
source = "{source}"
unlisted = "{unlisted}"
'''
    return text


def _send(port: int, envelope_from: str, raw: bytes, rcpt: str, client_cert: bool = False) -> None:
    tls = ssl.create_default_context(cafile=str(MAIL_DIR / "tls" / "ca.pem"))
    if client_cert:
        tls.load_cert_chain(str(MAIL_DIR / "tls" / "client.pem"), str(MAIL_DIR / "tls" / "client.key"))
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.starttls(context=tls)
        s.sendmail(envelope_from, [rcpt], raw)


async def test_listener_can_require_the_sending_operators_certificate(installation: Installation, mail: None,
                                                                      tmp_path: Path) -> None:
    """Mutual TLS between operators (``client_ca``): a sender without a client certificate from
    that CA cannot even start a mail transaction; one with it is served (RFC 8446 §4.3.2:
    the server asks, the client must answer with an acceptable certificate)."""
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    box = unique("accueil", "ehpad.test")
    port = free_port()
    source = tmp_path / "liste-blanche.xml"
    source.write_bytes(_list("gp.test"))
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    cfg.path.write_text(cfg.path.read_text() + _listener(port, source, client_ca=MAIL_DIR / "tls" / "ca.pem"))
    runtime = load_gateway(installation.settings, cfg.path)
    assert runtime is not None
    await jobs.refresh_whitelist(installation, runtime)
    received: list[str] = []

    async def deliver(mailbox: str, raw: bytes) -> None:
        received.append((await inbound.ingest(svc, runtime.gateway, mailbox, raw)).state.value)

    server = await runtime.listen(deliver, None, svc.clock.now)
    assert server is not None
    try:
        with pytest.raises((ssl.SSLError, smtplib.SMTPException, OSError)):
            await asyncio.to_thread(_send, port, "dr@gp.test", _mail("dr@gp.test", box, "m0@gp.test", "x"), box)
        await asyncio.to_thread(_send, port, "dr@gp.test", _mail("dr@gp.test", box, "m1@gp.test", "x"), box, True)
        assert received == ["integrated"]
    finally:
        server.close()


async def test_listener_refuses_senders_outside_the_trust_space(installation: Installation, mail: None,
                                                                tmp_path: Path) -> None:
    """A listed domain is integrated; an unlisted envelope sender gets 550 5.7.1 at MAIL FROM; a
    listed envelope with an unlisted ``From`` header gets 550 5.7.1 at the end of DATA; without a
    list (first start, source unreachable) every mail waits with 451 4.7.1."""
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    box = unique("accueil", "ehpad.test")
    port = free_port()
    source = tmp_path / "liste-blanche.xml"
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    cfg.path.write_text(cfg.path.read_text() + _listener(port, source))
    runtime = load_gateway(installation.settings, cfg.path)
    assert runtime is not None and runtime.trust_space is not None
    received: list[str] = []

    async def deliver(mailbox: str, raw: bytes) -> None:
        received.append((await inbound.ingest(svc, runtime.gateway, mailbox, raw)).state.value)

    server = await runtime.listen(deliver, None, svc.clock.now)
    assert server is not None
    try:
        # No list yet: the sender must keep the mail and retry.
        with pytest.raises(smtplib.SMTPSenderRefused) as waiting:
            await asyncio.to_thread(_send, port, "dr@gp.test", _mail("dr@gp.test", box, "w0@gp.test", "x"), box)
        assert waiting.value.smtp_code == 451 and b"4.7.1" in waiting.value.smtp_error

        source.write_bytes(_list("gp.test"))
        report = await jobs.refresh_whitelist(installation, runtime)
        assert report is not None and report.domains == 1

        await asyncio.to_thread(_send, port, "dr@gp.test", _mail("dr@gp.test", box, "w1@gp.test", "Bonjour"), box)
        assert received == ["integrated"]

        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            await asyncio.to_thread(_send, port, "x@gmail.com", _mail("x@gmail.com", box, "w2@gmail.com", "x"), box)
        assert refused.value.smtp_code == 550 and b"5.7.1" in refused.value.smtp_error

        forged = _mail("x@gmail.com", box, "w3@gmail.com", "x")
        with pytest.raises(smtplib.SMTPDataError) as at_data:
            await asyncio.to_thread(_send, port, "dr@gp.test", forged, box)
        assert at_data.value.smtp_code == 550
        assert received == ["integrated"]          # nothing else reached a conversation
    finally:
        server.close()


async def test_quarantine_mode_keeps_unlisted_mail_for_the_administrator(installation: Installation, mail: None,
                                                                         tmp_path: Path) -> None:
    """``unlisted = "quarantine"``: the mail is accepted (250), kept sealed with the reason
    ``whitelist_unlisted``, shown to no member, answered by no receipt."""
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    admin = await new_member(svc, org, "admin")
    box = unique("accueil", "ehpad.test")
    port = free_port()
    source = tmp_path / "liste-blanche.xml"
    source.write_bytes(_list("gp.test"))
    cfg = configure(installation.settings, org.slug, [nurse.email], box)
    cfg.path.write_text(cfg.path.read_text() + _listener(port, source, unlisted="quarantine"))
    runtime = load_gateway(installation.settings, cfg.path)
    assert runtime is not None
    await jobs.refresh_whitelist(installation, runtime)
    from chevet.app.mssante import whitelist

    async def quarantine(mailbox: str, raw: bytes) -> None:
        await whitelist.quarantine_unlisted(svc, runtime.gateway, mailbox, raw)

    async def deliver(mailbox: str, raw: bytes) -> None:
        raise AssertionError("an unlisted mail must not be integrated")

    server = await runtime.listen(deliver, quarantine, svc.clock.now)
    assert server is not None
    try:
        raw = _mail("x@gmail.com", box, "q1@gmail.com", "Bonjour", request_mdn=True)
        await asyncio.to_thread(_send, port, "x@gmail.com", raw, box)
    finally:
        server.close()
    listed = await inbound.quarantined(svc, admin.actor)
    assert [(q["reason"], q["state"]) for q in listed] == [("whitelist_unlisted", InboundState.QUARANTINED.value)]
    assert await inbound.quarantined_mail(svc, admin.actor, uuid.UUID(listed[0]["id"])) == raw
    async with svc.db.transaction() as tx:
        assert await tx.conversations.summaries(org.id, nurse.id) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_listener_does_not_start_without_the_operator_duties(installation: Installation, mail: None,
                                                                       tmp_path: Path) -> None:
    """Kept out of production configurations until the duties are met: without a list to
    enforce, or without ``operator_obligations_acknowledged``, the gateway refuses to start and
    says why."""
    org = await new_org(installation.services)
    box = unique("accueil", "ehpad.test")
    source = tmp_path / "liste-blanche.xml"
    for kw in ({"acknowledged": False}, {"whitelist": False}):
        cfg = configure(installation.settings, org.slug, [], box)
        cfg.path.write_text(cfg.path.read_text() + _listener(free_port(), source, **kw))  # type: ignore[arg-type]
        with pytest.raises(SettingsError, match="operator_obligations_acknowledged"):
            load_gateway(installation.settings, cfg.path)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_administrator_imports_the_list_from_the_command_line(installation: Installation, mail: None,
                                                                        tmp_path: Path) -> None:
    """``chevet mssante refresh-whitelist --file``: an accepted list is reported in French with its
    date in Paris time; a refused one changes nothing and says why, in French."""
    org = await new_org(installation.services)
    box = unique("accueil", "ehpad.test")
    source = tmp_path / "liste-blanche.xml"
    cfg = configure(installation.settings, org.slug, [], box)
    cfg.path.write_text(cfg.path.read_text() + _listener(free_port(), source))
    env = {**os.environ, "CHEVET_MSSANTE_CONFIG": str(cfg.path)}

    def cli(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "chevet.cli.main", "mssante", "refresh-whitelist", "--file",
                               str(path), "--data-dir", str(installation.settings.data_dir)], env=env,
                              capture_output=True, text=True, timeout=120)

    good, older = tmp_path / "good.xml", tmp_path / "older.xml"
    good.write_bytes(_list("gp.test", "chb.mssante.fr", generated="2026-12-07T03:00:00+01:00"))
    older.write_bytes(_list("gp.test", generated="2026-11-01T03:00:00+01:00"))
    ok = cli(good)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "2 domaines" in ok.stdout and "07/12/2026 03:00" in ok.stdout
    refused = cli(older)
    assert refused.returncode == 1
    assert "plus ancienne que la liste en vigueur" in refused.stderr
    # `chevet mssante check` tells the administrator which list the listener enforces.
    check = subprocess.run([sys.executable, "-m", "chevet.cli.main", "mssante", "check", "--data-dir",
                            str(installation.settings.data_dir)], env=env, capture_output=True, text=True, timeout=120)
    assert "liste blanche: 2 domains of 1 operators, generated 07/12/2026 03:00" in check.stdout, check.stdout
    runtime = load_gateway(installation.settings, cfg.path)
    assert runtime is not None and runtime.trust_space is not None
    assert runtime.trust_space.current is not None and runtime.trust_space.current.allows("chb.mssante.fr")

"""Helpers for the MSSanté gateway tests: the loopback mail servers of ``.ci/setup-mail``
(Postfix as the operator, Dovecot as the mailboxes), S/MIME identities from a test CA, and a
gateway configuration written the way an administrator writes it."""

from __future__ import annotations

import contextlib
import imaplib
import os
import secrets
import smtplib
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

from chevet.app.attachments import download as attachment_download
from chevet.app.attachments import upload as attachments
from chevet.app.services import Actor, Services
from chevet.bootstrap import Installation, mail_relay_from
from chevet.bootstrap.mssante import GatewayRuntime, load_gateway
from chevet.settings import Settings
from tests.mss_pki import Issued, TestCA, write_pem

MAIL_DIR = Path(os.environ.get("CHEVET_TEST_MAIL_DIR", "/var/lib/chevet-mailtest"))
OPERATOR_CA = MAIL_DIR / "tls" / "ca.pem"
SMTP_PORT, SMTP_CERT_PORT, MX_PORT, IMAP_PORT = 11587, 11588, 11025, 11143
PASSWORD = "chevet-test"
SMIME_CA = TestCA("AC TEST IGC-SANTE ORGANISATIONS")


def mail_available() -> bool:
    if not OPERATOR_CA.exists():
        return False
    for port in (SMTP_PORT, MX_PORT, IMAP_PORT):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except OSError:
            return False
    return True


def unique(local: str, domain: str) -> str:
    return f"{local}-{secrets.token_hex(4)}@{domain}"


class ManualClock:
    """A clock the test moves forward (retries, back-off) instead of waiting."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


@dataclass
class Configured:
    runtime: GatewayRuntime
    address: str
    identity: Issued
    path: Path


def configure(settings: Settings, org_slug: str, members: list[str], address: str, *, smtp_port: int = SMTP_PORT,
              password: str = PASSWORD, anchor: Path = OPERATOR_CA, name: str = "mssante.toml",
              extra: str = "", client_cert: bool = False) -> Configured:
    folder = settings.data_dir / "mss"
    folder.mkdir(parents=True, exist_ok=True)
    ident = SMIME_CA.issue(f"EHPAD {org_slug}", email=address)
    write_pem(folder / "org.pem", ident.pem(), ident.key_pem())
    (folder / "smime-ca.pem").write_bytes(SMIME_CA.pem())
    (folder / "password").write_text(password + "\n")
    auth = (f'client_certificate = "{MAIL_DIR}/tls/client.pem"\nclient_key = "{MAIL_DIR}/tls/client.key"\n'
            if client_cert else f'password_file = "{folder / "password"}"\n')
    path = settings.data_dir / name
    path.write_text(f"""
nil = "NIL-TEST-0001"
smime_trust_anchors = ["{folder / 'smime-ca.pem'}"]
retry_first_seconds = 60
{extra}

[operator]
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
imap_host = "127.0.0.1"
imap_port = {IMAP_PORT}
trust_anchor = "{anchor}"
timeout_seconds = 10

[[mailboxes]]
address = "{address}"
organisation = "{org_slug}"
display_name = "Secrétariat {org_slug}"
members = {members!r}
{auth}signing_certificate = "{folder / 'org.pem'}"
""".replace("'", '"'))
    runtime = load_gateway(settings, path)
    assert runtime is not None
    return Configured(runtime, address, ident, path)


def operator_tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(OPERATOR_CA))
    return ctx


def inject(raw: bytes, sender: str, recipients: list[str]) -> None:
    """Deliver mail as another MSSanté operator would (server to server, STARTTLS)."""
    with smtplib.SMTP("127.0.0.1", MX_PORT, timeout=10) as s:
        s.starttls(context=operator_tls())
        s.sendmail(sender, recipients, raw)


def mailbox_contents(address: str, expect: int = 1, timeout: float = 15) -> list[bytes]:
    """Every mail in a Dovecot mailbox, waiting until at least ``expect`` arrived."""
    deadline = time.monotonic() + timeout
    while True:
        conn = imaplib.IMAP4("127.0.0.1", IMAP_PORT, timeout=10)
        try:
            conn.starttls(ssl_context=operator_tls())
            conn.login(address, PASSWORD)
            conn.select("INBOX")
            _, data = conn.uid("SEARCH", "ALL")
            out = []
            for uid in (data[0] or b"").split():
                _, parts = conn.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
                out.extend(bytes(p[1]) for p in parts if isinstance(p, tuple))
        finally:
            conn.logout()
        if len(out) >= expect or time.monotonic() > deadline:
            return out
        time.sleep(0.3)


async def upload(svc: Services, actor: Actor, conversation_id: uuid.UUID, data: bytes, name: str) -> uuid.UUID:
    """A member's ordinary upload to the exchange, before sending it."""
    view, _ = await attachments.upload(svc, actor, conversation_id, data=data, name=name)
    return uuid.UUID(view["id"])


async def download(svc: Services, actor: Actor, attachment_id: str | uuid.UUID) -> bytes:
    """An attachment's content as a member downloads it (access checked, read audited)."""
    d = await attachment_download.download(svc, actor, uuid.UUID(str(attachment_id)))
    return b"".join([piece async for piece in d.body])


def gp_answers(sent: bytes, gp: str, box: str, text: str, message_id: str) -> bytes:
    """The correspondent's signed reply to a mail Chevet sent (threaded by In-Reply-To)."""
    from chevet.core.mssante import mime

    original = message_from_bytes(sent)["Message-ID"].strip("<>")
    env = mime.Envelope(sender=gp, recipients=(box,), subject="RE: " + (message_from_bytes(sent)["Subject"] or ""),
                        message_id=message_id, date=datetime.now(UTC), nil="NIL-GP", in_reply_to=original,
                        references=(original,))
    return mime.assemble(env, mime.build_content(text, []), SMIME_CA.issue("Dr Claire Martin", email=gp).identity)


def gp_receipt(sent: bytes, gp: str, box: str, message_id: str) -> bytes:
    """The correspondent's signed "displayed" receipt (MDN) for a mail Chevet sent."""
    from chevet.core.mssante import mime
    from chevet.core.mssante.mdn import Disposition, DispositionType

    parsed = mime.parse_inbound(sent, max_bytes=1 << 24, anchors=[SMIME_CA.cert], at=datetime.now(UTC))
    mdn = mime.build_mdn_content(parsed, sent, reporting_ua="Logiciel du GP", final_recipient=gp,
                                 disposition=Disposition(DispositionType.DISPLAYED), human_text="Lu")
    env = mime.Envelope(sender=gp, recipients=(box,), subject="Lu", message_id=message_id, date=datetime.now(UTC),
                        nil="NIL-GP")
    return mime.assemble(env, mdn, SMIME_CA.issue("Dr Claire Martin", email=gp).identity)


def imap_sessions(address: str) -> int | None:
    """How many IMAP sessions Dovecot has open for a mailbox (``doveadm who``); None when the
    test instance cannot be asked."""
    try:
        done = subprocess.run(["doveadm", "-c", "/etc/dovecot-chevet-mss/dovecot.conf", "who", "-1", address],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return sum(1 for line in done.stdout.splitlines()[1:] if line.split()[:1] == [address] and "imap" in line)


@contextlib.contextmanager
def hung_operator() -> Iterator[int]:
    """A port that accepts connections in the kernel and never answers: a hung operator."""
    tarpit = socket.socket()
    tarpit.bind(("127.0.0.1", 0))
    tarpit.listen(5)
    try:
        yield int(tarpit.getsockname()[1])
    finally:
        tarpit.close()


def use_relay(installation: Installation, tmp_path: Path, port: int, timeout: float = 10, **extra: object) -> str:
    """Point the installation at a relay on loopback, as [mail_relay] in chevet.toml would
    (``extra``: other [mail_relay] settings, e.g. max_attempts)."""
    sender = unique("noreply", "ehpad.test")
    secret = tmp_path / "relay-password"
    secret.write_text(PASSWORD + "\n")
    settings = installation.settings.replace(mail_relay__host="127.0.0.1", mail_relay__port=port,
                                             mail_relay__username=sender, mail_relay__password_file=str(secret),
                                             mail_relay__sender=sender, mail_relay__ca_file=str(OPERATOR_CA),
                                             mail_relay__timeout_seconds=timeout,
                                             **{f"mail_relay__{k}": v for k, v in extra.items()})
    installation.services.mail_relay = mail_relay_from(settings)
    return sender

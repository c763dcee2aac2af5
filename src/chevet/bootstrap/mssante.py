"""Wiring of the MSSanté gateway: reads ``mssante.toml`` and the certificate files, and builds
the application's ``Gateway`` and the SMTP/IMAP/listener adapters for each mailbox."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from cryptography import x509

from chevet.adapters.directory_file import discard, fetch_source, file_chunks
from chevet.adapters.mail.crl import CrlFiles, download_crls
from chevet.adapters.mail.imap import ImapEndpoint, ImapMailbox
from chevet.adapters.mail.listener import Whitelisting, start_listener
from chevet.adapters.mail.mailbox_lock import MailboxLock
from chevet.adapters.mail.smtp import SmtpEndpoint, SmtpSubmitter
from chevet.adapters.mail.tls import ClientCertificate, operator_context
from chevet.adapters.mail.whitelist_store import WhitelistFile, fetch_whitelist
from chevet.app.mssante.gateway import Gateway, Mailbox
from chevet.app.mssante.psc_mailbox import LinkEndpoint, MailboxToken
from chevet.app.mssante.whitelist import TrustSpace
from chevet.app.services import Services
from chevet.core.errors import InvalidInput
from chevet.core.mssante.delivery import RetryPolicy
from chevet.core.mssante.psc_link import PscMailbox
from chevet.core.mssante.revocation import RevocationPolicy
from chevet.core.mssante.sasl import BearerSource
from chevet.core.mssante.smime import SigningIdentity, load_identity
from chevet.settings import Settings, SettingsError
from chevet.settings.mssante import MailboxSettings, MssanteSettings, OperatorSettings, load_mssante_settings
from chevet.settings.mssante_whitelist import OBLIGATIONS


class MailboxClient(Protocol):
    """A mailbox the gateway fetches (IMAP), as its loops use it."""

    @property
    def supports_idle(self) -> bool: ...
    async def fetch(self, cursor: tuple[int, int] | None) -> tuple[int, list[tuple[int, bytes]]]: ...
    async def mark_seen(self, uid: int) -> None: ...
    async def idle(self, seconds: float) -> bool: ...
    async def check(self) -> int: ...
    async def close(self) -> None: ...


class Listening(Protocol):
    """A started listener: closing it takes no new sessions."""

    def close(self) -> None: ...


def _secret(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror}") from exc


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"cannot read the {what} {path}: {exc.strerror}") from exc


def _anchors(paths: list[Path]) -> tuple[x509.Certificate, ...]:
    out: list[x509.Certificate] = []
    for p in paths:
        try:
            out.extend(x509.load_pem_x509_certificates(_read(p, "trust anchor")))
        except ValueError as exc:
            raise SettingsError(f"{p}: not a PEM certificate file") from exc
    return tuple(out)


def _identity(box: MailboxSettings) -> SigningIdentity | None:
    if box.signing_certificate is None:
        return None
    password = _secret(box.signing_password_file)
    try:
        return load_identity(_read(box.signing_certificate, "signing certificate"),
                             password.encode() if password else None,
                             _read(box.signing_key, "signing key") if box.signing_key else None)
    except InvalidInput as exc:
        raise SettingsError(f"{box.signing_certificate}: the organisation certificate cannot be read "
                            f"({exc.code}); check the file and its password") from exc


def _recipient_certs(folder: Path | None) -> dict[str, x509.Certificate]:
    if folder is None or not folder.is_dir():
        return {}
    out = {}
    for f in sorted(folder.glob("*.pem")):
        try:
            out[f.stem.lower()] = x509.load_pem_x509_certificate(f.read_bytes())
        except ValueError:
            continue
    return out


@dataclass
class GatewayRuntime:
    settings: MssanteSettings
    gateway: Gateway
    mailbox_settings: dict[str, MailboxSettings] = field(default_factory=dict)
    in_server: bool = True
    """The gateway's loops run inside ``chevet serve`` (see ``runs_in_server``)."""
    lock_folder: Path | None = None
    trust_space: TrustSpace | None = None
    """The trust space's list of domains the listener enforces (None without a listener)."""
    bearers: dict[str, BearerSource] = field(default_factory=dict)
    """The token source of each Pro Santé Connect mailbox (``bind_psc``)."""

    def fetch_lock(self, address: str) -> MailboxLock | None:
        """The lock that keeps a second process from fetching this mailbox at the same time."""
        return MailboxLock(self.lock_folder, address) if self.lock_folder is not None else None

    def operator(self, address: str) -> OperatorSettings:
        return self.mailbox_settings[address].operator or self.settings.operator

    def _context(self, box: MailboxSettings) -> ssl.SSLContext:
        op = box.operator or self.settings.operator
        client = None
        if box.client_certificate is not None:
            pw = _secret(box.client_certificate_password_file)
            client = ClientCertificate(box.client_certificate, box.client_key, pw.encode() if pw else None)
        try:
            return operator_context(op.trust_anchor, client)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise SettingsError(f"TLS settings of {box.address} cannot be loaded: {exc}") from exc

    def psc_mailboxes(self) -> list[PscMailbox]:
        """The mailboxes opened with a professional's Pro Santé Connect token (PER, ORG)."""
        return [PscMailbox(b.address, b.organisation, "PER" if b.kind == "PER" else "ORG",
                           b.owner.lower() if b.owner else None)
                for b in self.settings.mailboxes if b.authentication == "psc"]

    def bind_psc(self, services: Services) -> None:
        """Give the PSC mailboxes their token sources (once, before the gateway connects)."""
        boxes = self.psc_mailboxes()
        if self.bearers or not boxes:
            return
        from chevet.adapters.psc import PscProvider  # httpx and joserfc: only when PSC is used
        from chevet.adapters.psc_tokens import PscTokens
        if not isinstance(services.psc, PscProvider):
            raise SettingsError(f'{boxes[0].address}: authentication = "psc" needs Pro Santé Connect '
                                "(psc_client_id and its endpoints in chevet.toml)")
        tokens = PscTokens(services.psc, _ServicesClock(services))
        self.bearers.update({b.address: MailboxToken(services, tokens, b) for b in boxes})

    def psc_link_endpoint(self, services: Services) -> LinkEndpoint | None:
        """The provider as a mailbox's linking login uses it; None without Pro Santé Connect."""
        from chevet.adapters.psc import PscProvider
        from chevet.adapters.psc_tokens import PscTokens

        if not isinstance(services.psc, PscProvider):
            return None
        return PscTokens(services.psc, _ServicesClock(services))

    def _bearer(self, box: MailboxSettings) -> BearerSource | None:
        if box.authentication != "psc":
            return None
        found = self.bearers.get(box.address)
        if found is None:
            raise SettingsError(f"{box.address}: a Pro Santé Connect mailbox is only reached by the running gateway")
        return found

    def submitter(self, address: str) -> SmtpSubmitter:
        box = self.mailbox_settings[address]
        op = box.operator or self.settings.operator
        bearer = self._bearer(box)
        password = _secret(box.password_file)
        # With a client certificate and no password, the TLS handshake is the authentication.
        username = None if password is None and box.client_certificate and bearer is None \
            else box.username or box.address
        return SmtpSubmitter(SmtpEndpoint(op.smtp_host, op.smtp_port, self._context(box), username, password,
                                          op.timeout_seconds, bearer=bearer, sasl_mechanism=box.sasl_mechanism))

    def imap(self, address: str) -> MailboxClient | None:
        box = self.mailbox_settings[address]
        op = box.operator or self.settings.operator
        if not box.fetch or not op.imap_host:
            return None
        return ImapMailbox(ImapEndpoint(op.imap_host, op.imap_port, self._context(box), box.username or box.address,
                                        _secret(box.password_file), box.imap_folder, op.timeout_seconds,
                                        bearer=self._bearer(box), sasl_mechanism=box.sasl_mechanism))

    async def listen(self, deliver: Callable[[str, bytes], Awaitable[None]],
                     quarantine: Callable[[str, bytes], Awaitable[None]] | None = None,
                     now: Callable[[], datetime] | None = None) -> Listening | None:
        """The SMTP listener (an organisation's own MSSanté domain) started, handing each
        received mail to ``deliver`` (mailbox, raw bytes), or to ``quarantine`` when it comes from
        outside the trust space and the settings say so; None when none is configured."""
        ms = self.settings
        tls = listener_context(ms)
        if ms.listener is None or tls is None or ms.listener.whitelist is None or self.trust_space is None:
            return None
        space, clock = self.trust_space, now or (lambda: datetime.now(UTC))
        whitelisting = Whitelisting(lambda domain: space.verdict(domain, clock()), ms.listener.whitelist.unlisted,
                                    quarantine)
        return await start_listener(ms.listener.host, ms.listener.port, tls, {b.address for b in ms.mailboxes},
                                    deliver, ms.listener.max_message_bytes or ms.max_message_bytes,
                                    whitelisting=whitelisting)

    async def fetch_whitelist(self) -> bytes | None:
        """The configured list's document, fetched (None without a listener list)."""
        listener = self.settings.listener
        if listener is None or listener.whitelist is None:
            return None
        source = listener.whitelist
        return await asyncio.to_thread(fetch_whitelist, source.source, source.trust_anchor)


class _ServicesClock:
    """The services' clock as it is when asked (tests replace it)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def now(self) -> datetime:
        return self.services.clock.now()


def crl_download_folder(settings: Settings) -> Path:
    """Where the CRLs fetched from configured addresses are kept (read with the others)."""
    return settings.data_dir / "mss" / "crl"


def _crls(settings: Settings, ms: MssanteSettings) -> Callable[[], RevocationPolicy]:
    for p in ms.crl_files:
        if not p.is_file():
            raise SettingsError(f"{p}: CRL file not found")
    sources = [CrlFiles(ms.crl_files, ms.crl_directory, ms.crl_required)]
    if ms.crl_urls:
        # Those fetched from the configured addresses (by the gateway) count too.
        sources.append(CrlFiles([], crl_download_folder(settings), ms.crl_required))

    def policy() -> RevocationPolicy:
        found = [s.policy() for s in sources]
        return RevocationPolicy(tuple(c for f in found for c in f.crls), ms.crl_required)

    return policy


def download_configured_crls(settings: Settings, ms: MssanteSettings) -> int:
    """Fetch the CRLs from the addresses the administrator configured (blocking); returns how
    many were refreshed."""
    return download_crls(ms.crl_urls, crl_download_folder(settings))


@asynccontextmanager
async def directory_extraction(workdir: Path, source: str, trust_anchor: Path | None = None
                               ) -> AsyncIterator[Iterator[bytes]]:
    """The bytes of a directory extraction (.zip or .txt), local or fetched over HTTPS into
    ``workdir``; a fetched copy is removed afterwards."""
    path = await asyncio.to_thread(fetch_source, source, trust_anchor, workdir)
    try:
        yield file_chunks(path)
    finally:
        discard(Path(path), source)


def runs_in_server(settings: Settings, ms: MssanteSettings) -> bool:
    """Where the gateway's loops run. Its events (new mail, receipts, failures) reach the open
    pages only through the bus: without Redis the bus is the server's own memory, so the loops
    must run inside ``chevet serve``; with Redis they run in ``chevet mssante run`` unless
    ``runs_in = "serve"`` says otherwise."""
    if ms.runs_in == "separate" and not settings.bus.redis_url:
        raise SettingsError('runs_in = "separate" needs redis_url: without Redis the gateway\'s events '
                            "(new mail, receipts, delivery failures) never reach the open pages; "
                            'remove runs_in to run the gateway inside `chevet serve`')
    return ms.runs_in == "serve" or (ms.runs_in is None and not settings.bus.redis_url)


def load_gateway(settings: Settings, path: Path | None = None) -> GatewayRuntime | None:
    """The configured gateway, or None. Raises ``SettingsError`` with a plain explanation."""
    ms = load_mssante_settings(settings, path)
    if ms is None:
        return None
    in_server = runs_in_server(settings, ms)
    listener_context(ms)   # an unusable listener certificate stops the start, not the listener later
    anchors = _anchors(ms.smime_trust_anchors or [ms.operator.trust_anchor])
    mailboxes = tuple(Mailbox(address=b.address, org_slug=b.organisation, display_name=b.display_name,
                              identity=_identity(b), member_emails=tuple(m.lower() for m in b.members),
                              finess=b.finess, facility_type=b.facility_type)
                      for b in ms.mailboxes)
    gw = Gateway(nil=ms.nil, mailboxes=mailboxes, anchors=anchors, max_message_bytes=ms.max_message_bytes,
                 required_suffix=ms.required_suffix,
                 retry=RetryPolicy(first_delay=timedelta(seconds=ms.retry_first_seconds),
                                   max_delay=timedelta(seconds=ms.retry_max_seconds),
                                   give_up=timedelta(hours=ms.give_up_hours),
                                   lease=timedelta(seconds=ms.lease_seconds)),
                 auto_mdn=ms.auto_receipts, displayed_mdn=ms.displayed_receipts,
                 recipient_certs=_recipient_certs(ms.recipient_certificates), revocation=_crls(settings, ms))
    return GatewayRuntime(ms, gw, {b.address: b for b in ms.mailboxes}, in_server,
                          settings.data_dir / "mss" / "locks", trust_space(settings, ms))


def trust_space(settings: Settings, ms: MssanteSettings) -> TrustSpace | None:
    """The list of domains the listener enforces, with the copy kept from the last import read
    again (so that a restart enforces it before the first refresh)."""
    if ms.listener is None or ms.listener.whitelist is None:
        return None
    w = ms.listener.whitelist
    space = TrustSpace(WhitelistFile(settings.data_dir / "mss" / "whitelist"), w.namespace,
                       timedelta(days=w.max_age_days))
    space.load()
    return space


def listener_context(ms: MssanteSettings) -> ssl.SSLContext | None:
    """The listener's TLS context; ``SettingsError`` when the listener cannot start: its
    certificate does not load, or the operator's duties are not acknowledged with a list to enforce."""
    if ms.listener is None:
        return None
    if ms.listener.whitelist is None or not ms.listener.operator_obligations_acknowledged:
        raise SettingsError(OBLIGATIONS)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(str(ms.listener.tls_certificate), str(ms.listener.tls_key))
    except (OSError, ssl.SSLError) as exc:
        raise SettingsError(f"the listener's TLS certificate cannot be loaded ({ms.listener.tls_certificate}): "
                            f"{getattr(exc, 'strerror', None) or exc}") from exc
    if ms.listener.client_ca is not None:
        # Mutual TLS between operators: the sender's SERV SSL certificate, checked against the CA(s).
        try:
            ctx.load_verify_locations(cafile=str(ms.listener.client_ca))
        except (OSError, ssl.SSLError) as exc:
            raise SettingsError(f"the listener's client CA cannot be loaded ({ms.listener.client_ca}): "
                                f"{getattr(exc, 'strerror', None) or exc}") from exc
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


__all__ = ["GatewayRuntime", "Listening", "MailboxClient", "crl_download_folder", "directory_extraction",
           "download_configured_crls", "listener_context", "load_gateway", "runs_in_server", "trust_space"]

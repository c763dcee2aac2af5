"""The one place that reads settings and wires concrete adapters into the application."""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from chevet.adapters import backup as backups
from chevet.adapters.antivirus import ClamdScanner
from chevet.adapters.audit_key import AuditKeyError, AuditKeyFile, create_audit_key
from chevet.adapters.backup import BackupError as BackupError  # what backups and restores raise (a message id)
from chevet.adapters.blobs import FileBlobStore
from chevet.adapters.blobs_s3 import S3BlobStore
from chevet.adapters.bus import MemoryBus, RedisBus
from chevet.adapters.clock import SystemClock
from chevet.adapters.db.database import SqlDatabase
from chevet.adapters.declaration_pdf import DeclarationPdf
from chevet.adapters.keys import KeyFile, KeyFileError, add_key, create_key_file, retire_keys
from chevet.adapters.media import ImageLimits, PillowMedia, configure_pillow
from chevet.adapters.organisation_key_file import FileKeyProvider
from chevet.adapters.passwords import Argon2Passwords
from chevet.adapters.private_file import read_private
from chevet.adapters.push import WebPush, create_vapid_key
from chevet.adapters.witness import FileWitness, WitnessForwarding
from chevet.app.attachments.config import AttachmentLimits, AttachmentServices, FootprintSettings
from chevet.app.services import Governance, KeyCachePolicy, MailRelay, Policy, Services
from chevet.core.mail_outbox import MailRetry
from chevet.core.sigv4 import Credentials
from chevet.ports import BlobStore, EventBus, OrganisationKeyProvider, PushGateway
from chevet.ports.metrics import Metrics, NoMetrics
from chevet.settings import Settings, SettingsError

if TYPE_CHECKING:
    from chevet.adapters.psc import PscProvider

log = logging.getLogger("chevet")
T = TypeVar("T")


@dataclass
class Installation:
    settings: Settings
    services: Services
    push: PushGateway | None = None

    async def close(self) -> None:
        self.services.org_keys.wipe()  # the data keys it opened: overwritten in memory
        if isinstance(self.push, WebPush):
            await self.push.close()
        await self.services.bus.close()
        await self.services.db.close()
        if self.services.attachments is not None and isinstance(self.services.attachments.blobs, S3BlobStore):
            self.services.attachments.blobs.close()  # its connections to the object store


def policy_from(settings: Settings) -> Policy:
    return Policy(max_message_bytes=settings.messages.max_bytes,
                  session_lifetime=timedelta(hours=settings.sessions.hours),
                  lockout_threshold=settings.sign_in.lockout_threshold,
                  account_lockout_threshold=settings.sign_in.account_lockout_threshold,
                  lockout_duration=timedelta(minutes=settings.sign_in.lockout_minutes),
                  invitation_lifetime=timedelta(days=settings.sign_in.invitation_days),
                  session_idle=timedelta(minutes=settings.sessions.idle_minutes),
                  reauth_window=timedelta(minutes=settings.sessions.reauth_minutes),
                  public_url=settings.origin, purge_every=timedelta(hours=settings.retention.interval_hours))


def psc_from(settings: Settings) -> PscProvider | None:
    """The Pro Santé Connect client, when configured; every endpoint comes from the settings."""
    if not settings.psc.client_id:
        return None
    from chevet.adapters.psc import PscConfig, PscProvider  # httpx and joserfc: only when configured

    required = {"psc_issuer": settings.psc.issuer, "psc_authorize_url": settings.psc.authorize_url,
                "psc_token_url": settings.psc.token_url, "psc_userinfo_url": settings.psc.userinfo_url,
                "psc_jwks_url": settings.psc.jwks_url}
    missing = [k for k, v in required.items() if not v]
    if missing:
        raise SettingsError(f"Pro Santé Connect is enabled (psc_client_id) but {', '.join(missing)} missing")
    if bool(settings.psc.client_cert) != bool(settings.psc.client_key):
        raise SettingsError("psc_client_cert and psc_client_key go together")
    return PscProvider(PscConfig(
        issuer=str(settings.psc.issuer), client_id=settings.psc.client_id, client_secret=settings.psc.client_secret,
        authorize_url=str(settings.psc.authorize_url), token_url=str(settings.psc.token_url),
        userinfo_url=str(settings.psc.userinfo_url), jwks_url=str(settings.psc.jwks_url),
        redirect_uri=f"{settings.origin}/auth/psc/callback", logout_url=settings.psc.logout_url,
        post_logout_redirect_uri=f"{settings.origin}/", client_cert=settings.psc.client_cert,
        client_key=settings.psc.client_key, ca_file=settings.psc.ca_file, allow_hs256=settings.psc.allow_hs256))


def mail_relay_from(settings: Settings) -> MailRelay | None:
    """The installation's SMTP relay (invitations), when configured: host, port, STARTTLS or TLS,
    the password from the environment or a file, the relay's trust anchor."""
    relay = settings.mail_relay
    if not relay.host or not relay.sender:
        return None
    from chevet.adapters.mail.smtp import SmtpEndpoint, SmtpSubmitter

    password: str | None = None
    if relay.password_env:
        password = os.environ.get(relay.password_env)
        if password is None:
            raise SettingsError(f"mail_relay.password_env names {relay.password_env}, which is not set")
    elif relay.password_file:
        try:
            password = relay.password_file.read_text().strip()
        except OSError as exc:
            raise SettingsError(f"mail_relay.password_file: {exc.strerror}") from exc
    try:
        context = ssl.create_default_context(cafile=str(relay.ca_file) if relay.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise SettingsError(f"mail_relay.ca_file: cannot read a certificate from {relay.ca_file}") from exc
    endpoint = SmtpEndpoint(relay.host, relay.port, context, username=relay.username, password=password,
                            timeout=relay.timeout_seconds, implicit_tls=relay.security == "tls")
    retry = MailRetry(max_attempts=relay.max_attempts, first=timedelta(seconds=relay.retry_seconds),
                      lease=timedelta(seconds=max(60.0, 3 * relay.timeout_seconds)))
    return MailRelay(SmtpSubmitter(endpoint), relay.sender, retry)


def add_master_key(settings: Settings) -> tuple[int, int]:
    """Add a new master key to the key file and make it current (the first step of a rotation)."""
    try:
        return add_key(settings.key_file)
    except KeyFileError as exc:
        raise SettingsError(str(exc)) from exc


def retire_master_keys(settings: Settings, numbers: set[int]) -> list[int]:
    try:
        return retire_keys(settings.key_file, numbers)
    except KeyFileError as exc:
        raise SettingsError(str(exc)) from exc


def s3_blob_store(settings: Settings) -> S3BlobStore:
    """The object store named in ``[blobs]`` (whatever ``backend`` says: the migration writes to it
    before the installation switches)."""
    b = settings.blobs
    endpoint, bucket, key_id, secret_file = b.endpoint, b.bucket, b.access_key_id, b.secret_key_file
    if not (endpoint and bucket and key_id and secret_file):
        missing = [name for name in ("endpoint", "bucket", "access_key_id", "secret_key_file") if not getattr(b, name)]
        raise SettingsError(f"[blobs] needs {', '.join(missing)} for the object store (docs/object-storage.md)")
    secret = read_private(secret_file, "object store secret key file", SettingsError).strip()
    return S3BlobStore(endpoint=endpoint, bucket=bucket, credentials=Credentials(key_id, secret),
                       region=b.region, prefix=b.prefix, part_size=b.part_size_mb * 1_048_576,
                       timeout=b.timeout_seconds, ca_file=b.ca_file)


def blob_store(settings: Settings) -> BlobStore:
    """Where sealed files are kept: ``[blobs] backend``, the folder by default."""
    return s3_blob_store(settings) if settings.blobs.backend == "s3" else FileBlobStore(settings.blobs_path)


def blob_stores_for_migration(settings: Settings) -> tuple[BlobStore, S3BlobStore]:
    """The folder store (source) and the configured object store (target) of ``chevet blobs migrate``."""
    return FileBlobStore(settings.blobs_path), s3_blob_store(settings)


def attachment_services(settings: Settings) -> AttachmentServices:
    """Blob store, image processing, optional antivirus, limits and footprint factors."""
    image_limits = ImageLimits(max_pixels=settings.attachments.max_image_pixels,
                               stored_side=settings.attachments.image_max_side,
                               target_bytes=settings.attachments.image_target_bytes,
                               output=settings.attachments.image_format)
    configure_pillow(image_limits)
    return AttachmentServices(
        blobs=blob_store(settings),
        media=PillowMedia(image_limits, workers=max(1, min(4, os.cpu_count() or 1))),
        scanner=ClamdScanner(settings.attachments.clamd_socket) if settings.attachments.clamd_socket else None,
        limits=AttachmentLimits(
            max_upload_bytes=settings.attachments.max_upload_bytes,
            families=tuple(settings.attachments.types.split(",")),
            quota_org_bytes=settings.attachments.quota_org_bytes,
            quota_person_bytes=settings.attachments.quota_person_bytes,
            max_image_pixels=settings.attachments.max_image_pixels,
            image_max_side=settings.attachments.image_max_side,
            pending_hours=settings.attachments.pending_hours),
        footprint=FootprintSettings(network_g_per_gb=settings.footprint.network_g_per_gb,
                                    storage_g_per_gb_year=settings.footprint.storage_g_per_gb_year,
                                    storage_source=settings.footprint.storage_source))


def open_installation(settings: Settings, *, with_bus: bool = True) -> Installation:
    """Connect to the database, the master key and the bus. Nothing is created here."""
    try:
        keys = KeyFile(settings.key_file)
    except KeyFileError as exc:
        raise SettingsError(str(exc)) from exc
    bus: EventBus
    if with_bus and settings.bus.redis_url:
        bus = RedisBus(settings.bus.redis_url, keys.derive("bus"))
    else:
        bus = MemoryBus()
    try:
        signer = AuditKeyFile(settings.audit_key) if settings.audit_key.exists() else None
    except AuditKeyError as exc:
        raise SettingsError(str(exc)) from exc
    db = SqlDatabase(settings.database_in_use, sqlite_synchronous=settings.database.sqlite_synchronous)
    passwords = Argon2Passwords(time_cost=settings.passwords.time_cost, memory_kib=settings.passwords.memory_kib)
    services = Services(db=db, keys=keys, bus=bus, clock=SystemClock(), passwords=passwords,
                        declarations=DeclarationPdf(),
                        key_providers=key_providers(settings, keys), key_cache=key_cache_from(settings),
                        policy=policy_from(settings), attachments=attachment_services(settings),
                        psc=psc_from(settings), signer=signer, witness=witness_from(settings),
                        governance=governance_from(settings),
                        mail_relay=mail_relay_from(settings))
    services.metrics = metrics_from(settings, services)
    return Installation(settings, services, _push_gateway(settings))


def metrics_from(settings: Settings, services: Services) -> Metrics:
    """The Prometheus metrics when ``[metrics]`` is on (docs/metrics.md), else none at all."""
    if not settings.metrics.enabled:
        return NoMetrics()
    from chevet import __version__
    from chevet.adapters.metrics import PrometheusMetrics

    assert isinstance(services.db, SqlDatabase)
    return PrometheusMetrics(services.db, version=__version__, providers=services.key_providers,
                             providers_down=services.org_keys.providers_down)


def metrics_token(settings: Settings) -> str | None:
    """The bearer token ``GET /metrics`` on the main listener asks for, when one is configured."""
    m = settings.metrics
    if not m.enabled or m.token_file is None:
        return None
    from chevet.adapters.metrics import MetricsTokenError, read_token

    try:
        return read_token(m.token_file)
    except MetricsTokenError as exc:
        raise SettingsError(str(exc)) from exc


def key_providers(settings: Settings, master: KeyFile) -> dict[str, OrganisationKeyProvider]:
    """The providers organisations' keys may be held by (ports/organisation_keys.py)."""
    providers: dict[str, OrganisationKeyProvider] = {
        "file": FileKeyProvider(master),
    }
    k = settings.organisation_keys
    if k.tokens:
        from chevet.adapters.pkcs11_keys import (
            Pkcs11Provider,  # the PKCS#11 library loads only when a token is configured
        )

        providers["pkcs11"] = Pkcs11Provider(k.tokens, retry_seconds=k.token_retry_seconds)
    return providers


def key_cache_from(settings: Settings) -> KeyCachePolicy:
    k = getattr(settings, "organisation_keys", None)  # the [organisation_keys] section, when present
    if k is None:
        return KeyCachePolicy()
    return KeyCachePolicy(seconds=k.cache_seconds, entries=k.cache_entries, unavailable_seconds=k.unavailable_seconds)


def witness_from(settings: Settings) -> FileWitness:
    a = settings.audit
    return FileWitness(settings.audit_witness, WitnessForwarding(
        syslog=a.witness_syslog, https_url=a.witness_url, https_ca_file=a.witness_ca_file,
        tsa_url=a.tsa_url, tsa_ca_file=a.tsa_ca_file))


def _push_gateway(settings: Settings) -> PushGateway | None:
    """Web Push needs the VAPID key made by ``chevet init``; without it, no push."""
    if not settings.vapid_key_file.exists():
        return None
    contact = settings.push.contact or settings.server.public_url or "mailto:postmaster@localhost"
    return WebPush(settings.vapid_key_file, settings.push.services, contact)


def governance_from(settings: Settings) -> Governance:
    return Governance(audit_retention_days=settings.audit.retention_days,
                      controller=settings.governance.controller, dpo_contact=settings.governance.dpo_contact,
                      hosting_provider=settings.governance.hosting_provider,
                      hosting_location=settings.governance.hosting_location,
                      backup_location=settings.governance.backup_location,
                      push_services=settings.push.services)


_DEFAULT_TOML = """\
# Chevet settings. Every value can also be given as a CHEVET_<NAME> environment variable.
# database_url = "postgresql://chevet@127.0.0.1/chevet"   # default: SQLite in this folder
# redis_url = "redis://127.0.0.1:6379/0"                   # several server processes
host = "127.0.0.1"
port = 8000
max_message_bytes = 65536
session_hours = 12
lockout_threshold = 5
lockout_minutes = 15
"""


async def initialise(settings: Settings) -> list[str]:
    """Create what a new installation needs: folders, master key, settings file, schema.
    Safe to run again: it never replaces an existing key."""
    done = []
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)
    if not settings.blobs_path.exists():
        settings.blobs_path.mkdir(mode=0o700, parents=True)
        done.append(f"created attachment store {settings.blobs_path}")
    if settings.blobs.backend == "s3":
        store = s3_blob_store(settings)
        try:
            await store.ensure_bucket()
        finally:
            store.close()
        done.append(f"object store bucket {settings.blobs.bucket} is ready")
    master_created = create_key_file(settings.key_file)
    if master_created:
        done.append(f"created master key {settings.key_file} (back it up apart from the database)")
    if create_vapid_key(settings.vapid_key_file):
        done.append(f"created Web Push (VAPID) key {settings.vapid_key_file}")
    audit_created = create_audit_key(settings.audit_key)
    if audit_created:
        done.append(f"created audit signing key {settings.audit_key} (public key: chevet audit public-key)")
    if not settings.config_file.exists():
        settings.config_file.write_text(_DEFAULT_TOML)
        done.append(f"wrote default settings {settings.config_file}")
    await migrate(settings)
    done.append("database schema is up to date")
    from chevet.app.governance.audit_trail import installation_keys_created
    from chevet.app.governance.witnessing import start_witness

    installation = open_installation(settings, with_bus=False)
    try:
        if master_created or audit_created:
            await installation_keys_created(installation.services, master=master_created, audit_key=audit_created)
        try:
            if await start_witness(installation.services):
                done.append(f"started the audit witness {settings.audit_witness} (keep it on another volume or host)")
        except OSError as exc:
            done.append(f"could not start the audit witness {settings.audit_witness} ({exc.strerror}): set "
                        "audit.witness_file to a folder this account may write, then run `chevet init` again")
    finally:
        await installation.close()
    return done


async def migrate(settings: Settings) -> None:
    db = SqlDatabase(settings.database_in_use, sqlite_synchronous=settings.database.sqlite_synchronous)
    try:
        await db.migrate()
    finally:
        await db.close()


async def check_schema(settings: Settings) -> None:
    """Refuse to serve a database whose schema is missing or behind this version."""
    db = SqlDatabase(settings.database_in_use, sqlite_synchronous=settings.database.sqlite_synchronous)
    try:
        current = set((await db.revision() or "").split(",")) - {""}
        expected = set(db.heads())
    except Exception as exc:  # unreachable database, wrong credentials …
        raise SettingsError(f"cannot open the database {settings.database_in_use.split('@')[-1]}: "
                            f"{type(exc).__name__}") from exc
    finally:
        await db.close()
    if current != expected:
        raise SettingsError("the database schema is not up to date: run `chevet migrate` "
                            f"(database at {', '.join(sorted(current)) or 'nothing'}, "
                            f"this version needs {', '.join(sorted(expected))})")


def data_path(settings: Settings, *parts: str) -> Path:
    return settings.data_dir.joinpath(*parts)



async def write_key_backup(installation: Installation, out: Path) -> int:
    """The current key material (master key, audit key, wrapped conversation keys), 0600."""
    services = installation.services
    assert isinstance(services.db, SqlDatabase)
    return await backups.write_key_backup(services.db, installation.settings.key_file, installation.settings.audit_key,
                                   out, services.clock.now(), installation.settings.vapid_key_file)


def backup_database(settings: Settings, out: Path) -> None:
    """A consistent copy of the installation's database, without its data keys (those are in
    the key backup only)."""
    backups.backup_database(settings.database_in_use, out)


def read_key_backup(path: Path) -> dict[str, Any]:
    """A key backup, checked: its format, and every data key well formed."""
    return backups.read_key_backup(path)


async def restore(settings: Settings, db_backup: Path, keys: dict[str, Any], blobs_from: Path | None,
                  migrate: Callable[[str], Awaitable[None]], finish: Callable[[str, Path], Awaitable[T]]) -> T:
    """Restore a backup into the empty installation ``settings`` describe, all or nothing (see
    ``adapters.backup.restore``)."""
    target = backups.RestoreTarget(settings.database_in_use, settings.blobs_path, settings.key_file, settings.audit_key,
                                   settings.vapid_key_file)
    return await backups.restore(target, db_backup, keys, blobs_from, migrate, finish)

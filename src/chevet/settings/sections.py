"""The sections of the settings: one model for each ``[section]`` of ``chevet.toml``.

Each section is validated on its own; a check that needs two sections lives on ``Settings``.
Messages keep the flat names (``tls_cert_file``…), which remain valid names of each setting.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import NoDecode

DEFAULT_TLS_CIPHERS = ("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:"
                       "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384:"
                       "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305")
ATTACHMENT_FAMILIES = ("image", "pdf", "text", "audio")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _upper(v: object) -> object:
    return v.upper() if isinstance(v, str) else v


def _lower(v: object) -> object:
    return v.lower() if isinstance(v, str) else v


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    public_url: str | None = None
    # permessage-deflate on the stream: about 4x fewer bytes per event, about 37 KB more memory
    # per connection and 0.05 ms more CPU per delivery (docs/performance.md).
    stream_deflate: bool = True


class TlsSettings(Section):
    """TLS for the built-in server (docs/hardening.md); a reverse proxy remains the recommended set-up."""

    cert_file: Path | None = Field(None, description="PEM certificate chain; with key_file, serve HTTPS")
    key_file: Path | None = Field(None, description="PEM private key of cert_file (mode 0600)")
    ciphers: str = Field(DEFAULT_TLS_CIPHERS, max_length=2000,
                         description="TLS 1.2 suites (OpenSSL names); TLS 1.3 suites are always AEAD")

    @model_validator(mode="after")
    def _pair(self) -> TlsSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together: set both or neither")
        return self

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None


class HttpSettings(Section):
    """What one client may hold of the built-in server before it is authenticated (docs/hardening.md)."""

    max_request_line_bytes: int = Field(8192, ge=256, le=1_048_576)
    max_header_bytes: int = Field(16384, ge=1024, le=1_048_576, description="request line and headers")
    max_headers: int = Field(100, ge=10, le=10_000)
    header_timeout_seconds: float = Field(10, gt=0, le=600)
    body_timeout_seconds: float = Field(10, gt=0, le=600)
    body_min_bytes_per_second: int = Field(1024, ge=0, le=1_048_576)
    max_connections_per_address: int = Field(64, ge=1, le=1_000_000)
    max_request_bytes: int = Field(262144, ge=1024, le=64 * 1_048_576, description="largest JSON request")

    @model_validator(mode="after")
    def _head(self) -> HttpSettings:
        if self.max_request_line_bytes > self.max_header_bytes:
            raise ValueError("http_max_request_line_bytes cannot exceed http_max_header_bytes (which includes it)")
        return self


class DatabaseSettings(Section):
    url: str | None = Field(None, description="sqlite:///path or postgresql://user@host/db")
    sqlite_synchronous: Annotated[Literal["FULL", "NORMAL", "EXTRA"], Field(
        description="SQLite durability (FULL survives power loss)")] = "FULL"

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return v

    _sqlite_synchronous = field_validator("sqlite_synchronous", mode="before")(_upper)


class BusSettings(Section):
    redis_url: str | None = Field(None, description="set it when several server processes share one database")


class KeysSettings(Section):
    master_key_file: Path | None = Field(None, description="default <data_dir>/keys/master.key")
    backup_file: Path | None = Field(None, description="where the key backup job writes the key material")


_NAME_OF_A_TOKEN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # noqa: S105 (a pattern for token names, not a secret)


class TokenSettings(Section):
    """A PKCS#11 token (an HSM, a smart card, a USB token) holding organisations' keys
    (docs/keys.md). The PIN comes from a file readable by its owner only (pin_file) or from the
    environment variable named by pin_env; never from this file. It is read again whenever the
    token is reached anew, so a corrected PIN file is taken without a restart."""

    module: Path = Field(description="the token's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so")
    label: str = Field(min_length=1, max_length=32, description="the token's label, as the token reports it")
    pin_file: Path | None = Field(None, description="file holding the user PIN (mode 0600)")
    pin_env: str | None = Field(None, description="name of the environment variable holding the user PIN")

    @model_validator(mode="after")
    def _one_pin(self) -> TokenSettings:
        if (self.pin_file is None) == (self.pin_env is None):
            raise ValueError("give the token's PIN as pin_file or as pin_env (one of them)")
        return self


class OrganisationKeysSettings(Section):
    """Each organisation's key (docs/keys.md): the keyring's memory cache and the tokens."""

    cache_seconds: float = Field(300, gt=0, le=24 * 3600,
                                 description="how long an unwrapped key stays in memory")
    cache_entries: int = Field(4096, ge=16, le=1_000_000, description="unwrapped keys kept in memory at most")
    unavailable_seconds: float = Field(5, ge=0, le=600,
                                       description="how long a provider found unavailable is not asked again")
    token_retry_seconds: float = Field(2, ge=0, le=600,
                                       description="wait before a token that failed is opened again")
    tokens: dict[str, TokenSettings] = Field(default_factory=dict,
                                             description="tokens by name, e.g. [organisation_keys.tokens.ehpad-a]")

    @field_validator("tokens")
    @classmethod
    def _names(cls, v: dict[str, TokenSettings]) -> dict[str, TokenSettings]:
        bad = [name for name in v if not re.match(_NAME_OF_A_TOKEN, name)]
        if bad:
            raise ValueError(f"{bad[0]!r}: a token's name is letters, digits, '-', '_' or '.' (64 at most)")
        return v


class MessagesSettings(Section):
    max_bytes: int = Field(65536, ge=256, le=1_048_576)


class SessionsSettings(Section):
    hours: float = Field(12, gt=0, le=24 * 30)
    # How long a process may reuse a token's authentication (see web/sessioncache.py); 0 = never.
    cache_seconds: float = Field(2, ge=0, le=30)
    # Session policy defaults (each organisation may set its own) and re-authentication.
    idle_minutes: int = Field(30, ge=5, le=24 * 60)
    reauth_minutes: int = Field(10, ge=1, le=24 * 60)


class SignInSettings(Section):
    lockout_threshold: int = Field(5, ge=1, le=100)
    lockout_minutes: float = Field(15, gt=0, le=24 * 60)
    # Failures on one account from every source before unknown devices are refused (identity.md).
    account_lockout_threshold: int = Field(30, ge=1, le=10_000)
    attempts_per_minute_per_ip: int = Field(30, ge=1, le=10_000)
    invitation_days: float = Field(7, gt=0, le=90)


class PasswordsSettings(Section):
    """argon2id cost."""

    time_cost: int = Field(3, ge=1, le=20)
    memory_kib: int = Field(65536, ge=1024, le=4 * 1_048_576)


class PscSettings(Section):
    """Pro Santé Connect (OpenID Connect). Production and sandbox differ only by these values:
    see docs/identity.md. Disabled while client_id is unset."""

    client_id: str | None = None
    client_secret: str | None = None
    issuer: str | None = None
    authorize_url: str | None = None
    token_url: str | None = None
    userinfo_url: str | None = None
    jwks_url: str | None = None
    logout_url: str | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    ca_file: Path | None = None
    allow_hs256: bool = False


class AttachmentsSettings(Section):
    """Attachments (docs/attachments.md)."""

    blob_dir: Path | None = Field(None, description="sealed attachment files; default <data_dir>/blobs")
    max_upload_bytes: int = Field(20 * 1_048_576, ge=1024, le=512 * 1_048_576)
    types: str = Field("image,pdf,text,audio", description="allowed families: image, pdf, text, audio (voice)")
    max_image_pixels: int = Field(50_000_000, ge=1_000_000, le=400_000_000)
    image_max_side: int = Field(2048, ge=256, le=8192)
    image_target_bytes: int = Field(300_000, ge=20_000, le=20 * 1_048_576)
    image_format: Literal["auto", "webp", "avif"] = "auto"
    quota_org_bytes: int = Field(20_000_000_000, ge=0)
    quota_person_bytes: int = Field(2_000_000_000, ge=0)
    clamd_socket: str | None = Field(None, description="clamd Unix socket path or tcp://host:port")
    pending_hours: float = Field(24, gt=0, le=24 * 30)

    @field_validator("types")
    @classmethod
    def _types(cls, v: str) -> str:
        families = [f.strip().lower() for f in v.split(",") if f.strip()]
        unknown = [f for f in families if f not in ATTACHMENT_FAMILIES]
        if unknown or not families:
            raise ValueError("must list some of: image, pdf, text, audio")
        return ",".join(dict.fromkeys(families))

    _image_format = field_validator("image_format", mode="before")(_lower)


class FootprintSettings(Section):
    """The sobriety dashboard's factors (docs/sobriety.md)."""

    network_g_per_gb: float = Field(49.4, ge=0, le=10_000)
    storage_g_per_gb_year: float | None = Field(None, ge=0, le=1_000_000)
    storage_source: str = Field("", max_length=300)


class AuditSettings(Section):
    """The audit trail (docs/governance.md, docs/backup.md)."""

    key_file: Path | None = Field(None, description="default: audit.key next to the master key")
    retention_days: int = Field(365, ge=183, le=36500)
    # While entries are written, a chain is signed and witnessed at least this often: what a
    # database administrator alone could still cut unseen is at most this much of the latest trail.
    checkpoint_minutes: float = Field(5, gt=0, le=24 * 60)
    witness_file: Path | None = Field(None, description="default: audit-witness.log in a folder beside "
                                                        "the data folder (<data_dir>-witness)")
    witness_syslog: str = Field("", max_length=300, description='"/dev/log" or "host:port" (UDP)')
    witness_url: str = Field("", max_length=2000, description="a remote witness receiving each record by HTTPS POST")
    witness_ca_file: Path | None = None
    tsa_url: str = Field("", max_length=2000, description="an RFC 3161 time-stamping authority")
    tsa_ca_file: Path | None = Field(None, description="the authority's CA certificate(s), PEM")

    @field_validator("witness_url")
    @classmethod
    def _witness_over_https(cls, value: str) -> str:
        if value and not value.startswith("https://"):
            raise ValueError("the remote witness is reached over HTTPS: give an https:// address")
        return value

    @field_validator("tsa_url")
    @classmethod
    def _tsa_over_http(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):  # RFC 3161 §3.4: tokens are signed
            raise ValueError("give the time-stamping authority's http:// or https:// address")
        return value

    @model_validator(mode="after")
    def _tsa_needs_its_ca(self) -> AuditSettings:
        if self.tsa_url and self.tsa_ca_file is None:
            raise ValueError("tsa_ca_file: the time-stamping authority's CA certificate is needed to check its tokens")
        return self


class RetentionSettings(Section):
    interval_hours: float = Field(24, gt=0, le=24 * 7)


class GovernanceSettings(Section):
    """What the register of processing activities says of the installation (docs/governance.md)."""

    controller: str = ""
    dpo_contact: str = ""
    hosting_provider: str = ""
    hosting_location: str = "France"
    backup_location: str = ""


# The push services of the major browsers. Payloads are encrypted for the device (RFC 8291) and
# carry no care content, so these services learn only that something happened for a device.
MAJOR_PUSH_SERVICES = (
    "https://fcm.googleapis.com",  # Chrome, Chromium-based browsers, Android
    "https://updates.push.services.mozilla.com",  # Firefox
    "https://web.push.apple.com",  # Safari (macOS, iOS home-screen apps)
    "https://*.notify.windows.com",  # Edge
)


class PushSettings(Section):
    services: Annotated[tuple[str, ...], NoDecode] = Field(
        MAJOR_PUSH_SERVICES,
        description="Origins of the Web Push services browsers may register (default: those of Chrome, Firefox, "
                    "Safari and Edge; *. matches any subdomain); none: no push")
    contact: str | None = Field(None, description="VAPID contact (mailto: or https:) given to push services")

    @field_validator("services", mode="before")
    @classmethod
    def _services(cls, v: object) -> object:
        if isinstance(v, str):
            v = [p.strip() for p in v.split(",") if p.strip()]
        if isinstance(v, (list, tuple)):
            if [str(o).strip().lower() for o in v] == ["none"]:
                return ()
            for origin in v:
                if not isinstance(origin, str) or not origin.startswith(("https://", "http://")) \
                        or origin.rstrip("/").count("/") != 2:
                    raise ValueError(f"{origin!r}: give origins such as https://fcm.googleapis.com, or none")
        return v


class MailRelaySettings(Section):
    """The installation's SMTP relay for its own mail to people (invitations): never for care
    data, which goes through MSSanté. Disabled while host is unset. TLS always: STARTTLS on the
    submission port, or TLS from the first byte (port 465). The password comes from the
    environment variable named by password_env, or from password_file; never from this file."""

    host: str | None = None
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    sender: str | None = Field(None, description="From address, e.g. noreply@ehpad-les-tilleuls.fr")
    ca_file: Path | None = Field(None, description="Trust anchor of the relay's certificate; default: the system's")
    timeout_seconds: float = Field(10, gt=0, le=120)
    max_attempts: int = Field(8, ge=1, le=50, description="Attempts before a mail is shown as not delivered")
    retry_seconds: float = Field(30, gt=0, le=3600, description="Wait after the first failure; doubles each time")

    @model_validator(mode="after")
    def _complete(self) -> MailRelaySettings:
        if self.host and not self.sender:
            raise ValueError("mail_relay.sender is needed when mail_relay.host is set")
        if self.password_env and self.password_file:
            raise ValueError("give mail_relay.password_env or mail_relay.password_file, not both")
        return self


class MetricsSettings(Section):
    """The Prometheus endpoint (docs/metrics.md). Off by default. When on, it is served on a
    listener of its own (``listen``, e.g. on loopback or a management network), or as
    ``GET /metrics`` on the main listener to a bearer token read from ``token_file`` (mode 0600),
    or both; with neither, there is no endpoint at all."""

    enabled: bool = False
    listen: str | None = Field(None, description='host:port of a listener of its own, e.g. "127.0.0.1:9464"')
    token_file: Path | None = Field(None, description="file holding the bearer token for GET /metrics on the "
                                                      "main listener (mode 0600)")

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        host, port = split_listen(v.strip())
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def address(self) -> tuple[str, int] | None:
        return split_listen(self.listen) if self.listen else None


def split_listen(value: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` as (host, port); ValueError with a readable message."""
    host, sep, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError('give host:port, e.g. "127.0.0.1:9464" or "[::1]:9464"')
    return host, int(port)

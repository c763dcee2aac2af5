"""The one settings object: defaults, then a TOML file, then ``CHEVET_*`` variables, then the
command line. Validated at start-up; errors name the setting and say what is wrong."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_DATA_DIR = Path("chevet-data")


class SettingsError(Exception):
    pass


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = Field(None, description="sqlite:///path or postgresql://user@host/db")
    master_key_file: Path | None = None
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # TLS for the built-in server (docs/hardening.md); a reverse proxy remains the recommended set-up.
    tls_cert_file: Path | None = Field(None, description="PEM certificate chain; with tls_key_file, serve HTTPS")
    tls_key_file: Path | None = Field(None, description="PEM private key of tls_cert_file (mode 0600)")
    tls_ciphers: str = Field("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:"
                             "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384:"
                             "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305",
                             description="TLS 1.2 suites (OpenSSL names); TLS 1.3 suites are always AEAD",
                             max_length=2000)
    public_url: str | None = None
    # What one client may hold of the built-in server before it is authenticated (docs/hardening.md).
    http_max_request_line_bytes: int = Field(8192, ge=256, le=1_048_576)
    http_max_header_bytes: int = Field(16384, ge=1024, le=1_048_576, description="request line and headers")
    http_max_headers: int = Field(100, ge=10, le=10_000)
    http_header_timeout_seconds: float = Field(10, gt=0, le=600)
    http_body_timeout_seconds: float = Field(10, gt=0, le=600)
    http_body_min_bytes_per_second: int = Field(1024, ge=0, le=1_048_576)
    http_max_connections_per_address: int = Field(64, ge=1, le=1_000_000)
    max_message_bytes: int = Field(65536, ge=256, le=1_048_576)
    max_request_bytes: int = Field(262144, ge=1024, le=64 * 1_048_576)
    session_hours: float = Field(12, gt=0, le=24 * 30)
    # How long a process may reuse a token's authentication (see web/sessioncache.py); 0 = never.
    session_cache_seconds: float = Field(2, ge=0, le=30)
    # permessage-deflate on the stream: about 4x fewer bytes per event, about 37 KB more memory
    # per connection and 0.05 ms more CPU per delivery (docs/performance.md).
    stream_deflate: bool = True
    lockout_threshold: int = Field(5, ge=1, le=100)
    lockout_minutes: float = Field(15, gt=0, le=24 * 60)
    login_attempts_per_minute_per_ip: int = Field(30, ge=1, le=10_000)
    invitation_days: float = Field(7, gt=0, le=90)
    sqlite_synchronous: str = "FULL"
    password_time_cost: int = Field(3, ge=1, le=20)
    password_memory_kib: int = Field(65536, ge=1024, le=4 * 1_048_576)
    log_level: str = "INFO"
    # Attachments (docs/attachments.md) and the sobriety dashboard (docs/sobriety.md).
    blob_dir: Path | None = Field(None, description="sealed attachment files; default <data_dir>/blobs")
    max_upload_bytes: int = Field(20 * 1_048_576, ge=1024, le=512 * 1_048_576)
    attachment_types: str = Field("image,pdf,text", description="allowed families: image, pdf, text")
    max_image_pixels: int = Field(50_000_000, ge=1_000_000, le=400_000_000)
    image_max_side: int = Field(2048, ge=256, le=8192)
    image_target_bytes: int = Field(300_000, ge=20_000, le=20 * 1_048_576)
    image_format: str = "auto"
    quota_org_bytes: int = Field(20_000_000_000, ge=0)
    quota_person_bytes: int = Field(2_000_000_000, ge=0)
    clamd_socket: str | None = Field(None, description="clamd Unix socket path or tcp://host:port")
    pending_attachment_hours: float = Field(24, gt=0, le=24 * 30)
    footprint_network_g_per_gb: float = Field(49.4, ge=0, le=10_000)
    footprint_storage_g_per_gb_year: float | None = Field(None, ge=0, le=1_000_000)
    footprint_storage_source: str = Field("", max_length=300)
    default_language: str = "fr"
    # Governance (docs/governance.md, docs/backup.md)
    audit_key_file: Path | None = None
    audit_retention_days: int = Field(365, ge=183, le=36500)
    checkpoint_minutes: float = Field(60, gt=0, le=24 * 60)
    retention_interval_hours: float = Field(24, gt=0, le=24 * 7)
    key_backup_file: Path | None = None
    controller: str = ""
    dpo_contact: str = ""
    hosting_provider: str = ""
    hosting_location: str = "France"
    backup_location: str = ""
    push_services: tuple[str, ...] = Field((), description="Origins of the Web Push services browsers may "
                                           "register (e.g. https://fcm.googleapis.com); none: no push")
    push_contact: str | None = Field(None, description="VAPID contact (mailto: or https:) given to push services")

    @field_validator("push_services", mode="before")
    @classmethod
    def _push_services(cls, v: object) -> object:
        if isinstance(v, str):
            v = [p.strip() for p in v.split(",") if p.strip()]
        if isinstance(v, (list, tuple)):
            for origin in v:
                if not isinstance(origin, str) or not origin.startswith(("https://", "http://")) \
                        or origin.rstrip("/").count("/") != 2:
                    raise ValueError(f"{origin!r}: give origins such as https://fcm.googleapis.com")
        return v

    # Identity: session policy defaults (each organisation may set its own) and re-authentication.
    session_idle_minutes: int = Field(30, ge=5, le=24 * 60)
    reauth_minutes: int = Field(10, ge=1, le=24 * 60)
    # Pro Santé Connect (OpenID Connect). Production and sandbox differ only by these values:
    # see docs/identity.md. Disabled while psc_client_id is unset.
    psc_client_id: str | None = None
    psc_client_secret: str | None = None
    psc_issuer: str | None = None
    psc_authorize_url: str | None = None
    psc_token_url: str | None = None
    psc_userinfo_url: str | None = None
    psc_jwks_url: str | None = None
    psc_logout_url: str | None = None
    psc_client_cert: Path | None = None
    psc_client_key: Path | None = None
    psc_ca_file: Path | None = None
    psc_allow_hs256: bool = False

    @field_validator("sqlite_synchronous")
    @classmethod
    def _sync(cls, v: str) -> str:
        if v.upper() not in {"FULL", "NORMAL", "EXTRA"}:
            raise ValueError("must be FULL, NORMAL or EXTRA")
        return v.upper()

    @field_validator("attachment_types")
    @classmethod
    def _types(cls, v: str) -> str:
        families = [f.strip().lower() for f in v.split(",") if f.strip()]
        unknown = [f for f in families if f not in {"image", "pdf", "text"}]
        if unknown or not families:
            raise ValueError("must list some of: image, pdf, text")
        return ",".join(dict.fromkeys(families))

    @field_validator("image_format")
    @classmethod
    def _image_format(cls, v: str) -> str:
        if v.lower() not in {"auto", "webp", "avif"}:
            raise ValueError("must be auto, webp or avif")
        return v.lower()

    @field_validator("default_language")
    @classmethod
    def _lang(cls, v: str) -> str:
        if v not in {"fr", "en"}:
            raise ValueError("must be fr or en")
        return v

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return v.upper()

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return v

    @model_validator(mode="after")
    def _http_head(self) -> Settings:
        if self.http_max_request_line_bytes > self.http_max_header_bytes:
            raise ValueError("http_max_request_line_bytes cannot exceed http_max_header_bytes (which includes it)")
        return self

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together: set both or neither")
        return self

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None

    @property
    def origin(self) -> str:
        """Where people reach this installation (the WebAuthn origin, the PSC redirect base)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "localhost" if self.host in ("127.0.0.1", "0.0.0.0", "::1", "::") else self.host  # noqa: S104
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'chevet.db').resolve()}"

    @property
    def key_file(self) -> Path:
        return self.master_key_file or self.data_dir / "keys" / "master.key"

    @property
    def blobs_path(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @property
    def vapid_key_file(self) -> Path:
        return self.data_dir / "keys" / "vapid.pem"

    @property
    def audit_key(self) -> Path:
        return self.audit_key_file or self.key_file.parent / "audit.key"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "chevet.toml"


def _env_values(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in Settings.model_fields:
        value = environ.get(f"CHEVET_{name.upper()}")
        if value is not None and value != "":
            out[name] = value
    return out


def load_settings(data_dir: Path | None = None, environ: dict[str, str] | None = None,
                  **overrides: Any) -> Settings:
    env = dict(os.environ if environ is None else environ)
    env_values = _env_values(env)
    chosen_dir = Path(data_dir or env_values.get("data_dir") or DEFAULT_DATA_DIR)
    config_path = Path(env["CHEVET_CONFIG"]) if env.get("CHEVET_CONFIG") else chosen_dir / "chevet.toml"
    file_values: dict[str, Any] = {}
    if config_path.exists():
        try:
            file_values = tomllib.loads(config_path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{config_path}: not valid TOML ({exc})") from exc
    values = {**file_values, **env_values, **{k: v for k, v in overrides.items() if v is not None}}
    values["data_dir"] = chosen_dir if data_dir else Path(values.get("data_dir", chosen_dir))
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"invalid settings ({config_path} / CHEVET_* variables): {problems}") from exc

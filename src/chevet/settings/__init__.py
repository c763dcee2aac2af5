"""The one settings object: defaults, then a TOML file, then ``CHEVET_*`` variables, then the
command line. Validated at start-up; errors name the setting and say what is wrong.

Settings are grouped in sections (``settings.http.max_headers``, ``[http] max_headers`` in
``chevet.toml``, ``CHEVET_HTTP__MAX_HEADERS``); the flat names of earlier versions
(``http_max_headers``, ``CHEVET_HTTP_MAX_HEADERS``) keep working (see flat_names.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from chevet.settings.blobs import BlobsSettings
from chevet.settings.directory_sync import DirectorySyncSettings
from chevet.settings.errors import SettingsError, problems
from chevet.settings.flat_names import NESTED_DELIMITER, SettingPath, merged, nest
from chevet.settings.sections import (
    AttachmentsSettings,
    AuditSettings,
    BusSettings,
    DatabaseSettings,
    FootprintSettings,
    GovernanceSettings,
    HttpSettings,
    KeysSettings,
    MailRelaySettings,
    MessagesSettings,
    MetricsSettings,
    OrganisationKeysSettings,
    PasswordsSettings,
    PscSettings,
    PushSettings,
    RetentionSettings,
    ServerSettings,
    SessionsSettings,
    SignInSettings,
    TlsSettings,
)
from chevet.settings.sources import ENV_PREFIX, ConfigFile, Environment

__all__ = ["DEFAULT_DATA_DIR", "Settings", "SettingsError", "load_settings"]

DEFAULT_DATA_DIR = Path("chevet-data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", frozen=True, case_sensitive=False, env_prefix=ENV_PREFIX,
                                      env_nested_delimiter=NESTED_DELIMITER, env_ignore_empty=True)

    data_dir: Path = DEFAULT_DATA_DIR
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    default_language: Literal["fr", "en"] = "fr"
    server: ServerSettings = Field(default_factory=ServerSettings)
    tls: TlsSettings = Field(default_factory=TlsSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    keys: KeysSettings = Field(default_factory=KeysSettings)
    organisation_keys: OrganisationKeysSettings = Field(default_factory=OrganisationKeysSettings)
    messages: MessagesSettings = Field(default_factory=MessagesSettings)
    sessions: SessionsSettings = Field(default_factory=SessionsSettings)
    sign_in: SignInSettings = Field(default_factory=SignInSettings)
    passwords: PasswordsSettings = Field(default_factory=PasswordsSettings)
    psc: PscSettings = Field(default_factory=PscSettings)
    attachments: AttachmentsSettings = Field(default_factory=AttachmentsSettings)
    blobs: BlobsSettings = Field(default_factory=BlobsSettings)
    footprint: FootprintSettings = Field(default_factory=FootprintSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    governance: GovernanceSettings = Field(default_factory=GovernanceSettings)
    push: PushSettings = Field(default_factory=PushSettings)
    mail_relay: MailRelaySettings = Field(default_factory=MailRelaySettings)
    directory_sync: DirectorySyncSettings = Field(default_factory=DirectorySyncSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        """``Settings(...)`` validates what it is given: load_settings reads the file and the variables."""
        return (init_settings,)

    def replace(self, **changes: Any) -> Settings:
        """A copy with changes named as load_settings takes them (``database__url=…``), validated again."""
        values, _ = nest(changes, "replace")
        return Settings.model_validate(merged(self.model_dump(), values))

    @property
    def origin(self) -> str:
        """Where people reach this installation (the WebAuthn origin, the PSC redirect base)."""
        if self.server.public_url:
            return self.server.public_url.rstrip("/")
        host = "localhost" if self.server.host in ("127.0.0.1", "0.0.0.0", "::1", "::") else self.server.host  # noqa: S104
        return f"{'https' if self.tls.enabled else 'http'}://{host}:{self.server.port}"

    @property
    def database_in_use(self) -> str:
        """database.url, or the SQLite file in the data folder."""
        return self.database.url or f"sqlite:///{(self.data_dir / 'chevet.db').resolve()}"

    @property
    def key_file(self) -> Path:
        return self.keys.master_key_file or self.data_dir / "keys" / "master.key"

    @property
    def blobs_path(self) -> Path:
        return self.attachments.blob_dir or self.data_dir / "blobs"

    @property
    def vapid_key_file(self) -> Path:
        return self.data_dir / "keys" / "vapid.pem"

    @property
    def audit_key(self) -> Path:
        return self.audit.key_file or self.key_file.parent / "audit.key"

    @property
    def audit_witness(self) -> Path:
        """The audit witness: outside the data folder, so that it can live on another volume."""
        if self.audit.witness_file is not None:
            return self.audit.witness_file
        here = self.data_dir.resolve()
        return here.parent / f"{here.name}-witness" / "audit-witness.log"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "chevet.toml"


def load_settings(data_dir: Path | None = None, environ: Mapping[str, str] | None = None,
                  **overrides: Any) -> Settings:
    """``overrides`` (the command line) are named ``section__name`` (``server__port=8443``), or by
    their flat names; None means not given."""
    environment = Environment(Settings, dict(os.environ if environ is None else environ))
    env = environment.environ
    chosen_dir = Path(data_dir or env.get("CHEVET_DATA_DIR") or DEFAULT_DATA_DIR)
    config_path = Path(env["CHEVET_CONFIG"]) if env.get("CHEVET_CONFIG") else chosen_dir / "chevet.toml"
    config = ConfigFile(Settings, config_path)
    given, given_flat = nest({k: v for k, v in overrides.items() if v is not None}, "command line")
    values: dict[str, Any] = {}
    given_as: dict[SettingPath, str] = {}
    for source_values, flat in ((config(), config.given_as), (environment(), environment.given_as),
                                (given, given_flat)):
        values = merged(values, source_values)
        for path in _leaves(source_values):
            given_as.pop(path, None)
        given_as.update(flat)
    values["data_dir"] = chosen_dir if data_dir else Path(values.get("data_dir", chosen_dir))
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise SettingsError(f"invalid settings ({config_path} / CHEVET_* variables): "
                            f"{problems(exc, given_as)}") from exc


def _leaves(values: Mapping[str, Any], prefix: SettingPath = ()) -> list[SettingPath]:
    out: list[SettingPath] = []
    for key, value in values.items():
        out += _leaves(value, (*prefix, key)) if isinstance(value, Mapping) else [(*prefix, key)]
    return out

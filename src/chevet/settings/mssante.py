"""The MSSanté gateway's settings: ``mssante.toml`` in the data folder (or the file named by
``CHEVET_MSSANTE_CONFIG``). Without that file the gateway is off and nothing is ever contacted.

Points the référentiel leaves unconfirmed are settings, not constants: ports, the
``.mssante.fr`` suffix rule, size limits, the directory's location, receipt behaviour.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chevet.settings import Settings, SettingsError
from chevet.settings.errors import problems
from chevet.settings.mssante_whitelist import ListenerWhitelistSettings


class OperatorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    smtp_host: str
    smtp_port: int = Field(587, ge=1, le=65535)
    imap_host: str | None = None
    imap_port: int = Field(143, ge=1, le=65535)
    trust_anchor: Path = Field(description="PEM file of the CA(s) that sign the operator's TLS certificate")
    timeout_seconds: float = Field(30, gt=0, le=600)


class MailboxSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str
    organisation: str = Field(description="slug of the organisation that owns the mailbox")
    display_name: str | None = None
    members: list[str] = Field(default_factory=list, description="e-mails of the people who receive new exchanges")
    username: str | None = None
    password_file: Path | None = None
    client_certificate: Path | None = Field(None, description="PEM (certificate + key) or PKCS#12")
    client_key: Path | None = None
    client_certificate_password_file: Path | None = None
    signing_certificate: Path | None = Field(None, description="organisation certificate: PKCS#12 or PEM")
    signing_key: Path | None = None
    signing_password_file: Path | None = None
    imap_folder: str = "INBOX"
    fetch: bool = True
    operator: OperatorSettings | None = None
    finess: str | None = Field(None, description="the establishment's FINESS number (9 characters): the "
                                                "author's and custodian's organisation in the documents sent")
    facility_type: str | None = Field(None, description="its kind (TRE_R02-SecteurActivite code, e.g. SA17 "
                                                       "for an EHPAD): the documents' healthcare facility type")
    authentication: Literal["password", "certificate", "psc"] | None = Field(
        None, description='"psc": a PER or ORG mailbox the operator opens with the Pro Santé Connect access '
                          "token of the professional who links it (default: password if password_file, "
                          "else certificate)")
    kind: Literal["PER", "ORG", "APP"] | None = Field(None, description="the mailbox's type in the directory")
    owner: str | None = Field(None, description="PER: e-mail of the professional whose mailbox it is")
    sasl_mechanism: Literal["OAUTHBEARER", "XOAUTH2"] | None = Field(
        None, description="with psc: the mechanism the operator expects (default: the first offered, "
                          "OAUTHBEARER before XOAUTH2)")

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        if v.count("@") != 1:
            raise ValueError("must be an e-mail address")
        return v.strip().lower()

    @field_validator("finess")
    @classmethod
    def _finess(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"(?:[0-9]{2}|2A|2B)[0-9]{7}", v.strip().upper()):
            raise ValueError("a FINESS number has 9 characters (2A/2B for Corsica)")
        return v.strip().upper() if v is not None else None

    @field_validator("facility_type")
    @classmethod
    def _facility_type(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"SA[0-9]{2}", v.strip().upper()):
            raise ValueError("a TRE_R02-SecteurActivite code: SA and two digits (SA17 for an EHPAD)")
        return v.strip().upper() if v is not None else None

    @model_validator(mode="after")
    def _psc(self) -> MailboxSettings:
        if self.authentication != "psc":
            if self.owner is not None or self.sasl_mechanism is not None:
                raise ValueError('owner and sasl_mechanism go with authentication = "psc"')
            return self
        if self.kind not in ("PER", "ORG"):
            raise ValueError('authentication = "psc" is for PER or ORG mailboxes: set kind = "PER" or "ORG"')
        if self.password_file is not None or self.client_certificate is not None:
            raise ValueError('authentication = "psc" uses the professional\'s PSC token: remove password_file '
                             "and client_certificate")
        if self.kind == "PER" and (self.owner is None or self.owner.count("@") != 1):
            raise ValueError("a PER mailbox names its owner (her e-mail in Chevet)")
        if self.kind == "ORG" and self.owner is not None:
            raise ValueError("an ORG mailbox has no owner: an administrator links it")
        return self


class ListenerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(2525, ge=1, le=65535)
    tls_certificate: Path
    tls_key: Path
    max_message_bytes: int | None = None
    whitelist: ListenerWhitelistSettings | None = None
    operator_obligations_acknowledged: bool = False
    client_ca: Path | None = Field(None, description="CA(s) of the sending operators' client certificates "
                                                     "(IGC-Santé SERV SSL): when set, each sender must present one")


class MssanteSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    nil: str = Field(min_length=1, max_length=64, description="X-MSS-NIL: product number (convergence.esante)")
    operator: OperatorSettings
    mailboxes: list[MailboxSettings] = Field(default_factory=list)
    smime_trust_anchors: list[Path] = Field(default_factory=list,
                                            description="CAs accepted for signatures (default: operator anchor)")
    recipient_certificates: Path | None = Field(None, description="folder of <address>.pem for encryption")
    required_suffix: str | None = Field(None, description='e.g. ".mssante.fr" (rule unconfirmed)')
    max_message_bytes: int = Field(10 * 1024 * 1024, ge=64 * 1024, le=200 * 1024 * 1024)
    poll_seconds: float = Field(60, ge=1, le=3600)
    idle: bool = True
    outbox_seconds: float = Field(5, ge=0.2, le=600)
    retry_first_seconds: float = Field(60, ge=1)
    retry_max_seconds: float = Field(3600, ge=1)
    give_up_hours: float = Field(72, gt=0, le=24 * 30)
    lease_seconds: float = Field(300, ge=1, le=3600, description="how long a worker owns a message it is sending")
    auto_receipts: bool = True
    displayed_receipts: bool = Field(True, description='"displayed" receipts when a member first opens a message')
    listener: ListenerSettings | None = None
    directory_source: str | None = Field(None, description="path or https URL of the extraction (zip or text)")
    directory_refresh_hours: float = Field(24, ge=1, le=24 * 31)
    directory_trust_anchor: Path | None = None
    crl_files: list[Path] = Field(default_factory=list, description="CRL files (PEM or DER) of the signers' CAs")
    crl_directory: Path | None = Field(None, description="folder of CRL files, read again when they change")
    crl_urls: list[str] = Field(default_factory=list, description="CRL addresses the gateway fetches itself")
    crl_refresh_hours: float = Field(24, ge=1, le=24 * 7)
    crl_required: bool = Field(False, description="no current CRL for an issuer: signature not trusted")
    runs_in: Literal["serve", "separate"] | None = Field(
        None, description='"serve": inside `chevet serve`; "separate": `chevet mssante run` (needs redis_url); '
                          "default: serve without redis_url, separate with it")

    @field_validator("directory_source")
    @classmethod
    def _source(cls, v: str | None) -> str | None:
        if v is not None and v.startswith("http://"):
            raise ValueError("plain http is refused: use https or a local path")
        return v


def mssante_config_path(settings: Settings) -> Path:
    env = os.environ.get("CHEVET_MSSANTE_CONFIG")
    return Path(env) if env else settings.data_dir / "mssante.toml"


def load_mssante_settings(settings: Settings, path: Path | None = None) -> MssanteSettings | None:
    """The gateway's settings, or None when it is not configured."""
    path = path or mssante_config_path(settings)
    if not path.exists():
        return None
    try:
        values = tomllib.loads(path.read_text())
        return MssanteSettings(**values)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from exc
    except ValidationError as exc:
        raise SettingsError(f"invalid MSSanté settings ({path}): {problems(exc)}") from exc

"""``[directory_sync]``: the LDAP directory or Active Directory one organisation's people come from.

The connection and the mapping live in the installation's settings (the IT provider's business,
beside the other connections); the organisation it feeds is named by its slug. The bind password
is read from a file (``password_file``, mode 0600) or from ``CHEVET_DIRECTORY_SYNC__PASSWORD``;
it is never written to the repository nor logged.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator

from chevet.core.roles import Role
from chevet.settings.sections import Section

OPENLDAP_FILTER = "(objectClass=inetOrgPerson)"
AD_FILTER = "(&(objectCategory=person)(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"


class DirectorySyncSettings(Section):
    organisation: str | None = Field(None, description="slug of the organisation synchronised; unset: off")
    url: str | None = Field(None, description="ldaps://host:636, or ldap://host:389 with start_tls")
    start_tls: bool = True
    ca_file: Path | None = None
    bind_dn: str = ""
    password: SecretStr | None = None
    password_file: Path | None = None
    base_dn: str = ""
    person_filter: str = OPENLDAP_FILTER
    group_base_dn: str | None = Field(None, description="where groups are, for directories without memberOf")
    mail_attribute: str = "mail"
    name_attribute: str = "displayName"
    rpps_attribute: str | None = None
    group_roles: dict[str, str] = Field(default_factory=dict, description="group DN → role")
    group_teams: dict[str, str] = Field(default_factory=dict, description="group DN → team name")
    default_role: str = "care_assistant"
    schedule_minutes: float = Field(0, ge=0, le=24 * 60, description="0: on demand only")
    max_leave_percent: int = Field(20, ge=0, le=100)
    timeout_seconds: int = Field(10, ge=1, le=300)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.lower().startswith(("ldap://", "ldaps://")):
            raise ValueError("directory_sync_url must start with ldap:// or ldaps://")
        return v

    @field_validator("group_roles")
    @classmethod
    def _roles(cls, v: dict[str, str]) -> dict[str, str]:
        allowed = {r.value for r in Role}
        wrong = sorted(set(v.values()) - allowed)
        if wrong:
            raise ValueError(f"unknown role {', '.join(wrong)}: one of {', '.join(sorted(allowed))}")
        return v

    @model_validator(mode="after")
    def _complete(self) -> DirectorySyncSettings:
        if self.organisation and (not self.url or not self.base_dn):
            raise ValueError("directory_sync needs url and base_dn with organisation")
        if self.default_role not in {r.value for r in Role}:
            raise ValueError("directory_sync_default_role is not a role")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.organisation and self.url)

    def bind_password(self) -> str:
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            return self.password_file.read_text().strip()
        return ""

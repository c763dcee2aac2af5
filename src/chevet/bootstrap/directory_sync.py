"""Wires the configured LDAP directory and its mapping (``[directory_sync]``)."""

from __future__ import annotations

from chevet.adapters.ldap_directory import LdapConfig, LdapDirectory
from chevet.app.identity.directory_sync import SyncOptions
from chevet.core.directory_sync import GroupMapping
from chevet.core.roles import Role
from chevet.settings import Settings


def directory_from(settings: Settings) -> LdapDirectory | None:
    s = settings.directory_sync
    if not s.enabled or s.url is None:
        return None
    return LdapDirectory(LdapConfig(
        url=s.url, bind_dn=s.bind_dn, password=s.bind_password(), base_dn=s.base_dn, person_filter=s.person_filter,
        start_tls=s.start_tls, ca_file=str(s.ca_file) if s.ca_file else None, mail_attribute=s.mail_attribute,
        name_attribute=s.name_attribute, rpps_attribute=s.rpps_attribute, group_base_dn=s.group_base_dn,
        timeout_seconds=s.timeout_seconds))


def options_from(settings: Settings, *, force: bool = False) -> SyncOptions:
    s = settings.directory_sync
    return SyncOptions(GroupMapping({dn: Role(r) for dn, r in s.group_roles.items()}, dict(s.group_teams),
                                    Role(s.default_role)), s.max_leave_percent, force)

"""People from an LDAP directory (OpenLDAP) or Active Directory, through ldap3 (pure Python).

Searches are paged (Active Directory answers at most 1000 entries per page), bounded in time, and
run in a worker thread. Any failure (unreachable, refused bind, TLS, timeout) becomes
DirectoryUnavailable with a stable reason: a partial answer must never look like "everyone left".
The bind password is never logged nor put into an exception.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

import anyio
import ldap3
from ldap3.core import exceptions as ldap_errors

from chevet.core.directory_sync import DirectoryRecord
from chevet.ports.directory_sync import DirectoryUnavailable

OPENLDAP_FILTER = "(objectClass=inetOrgPerson)"
AD_FILTER = "(&(objectCategory=person)(objectClass=user))"
# Active Directory's "account disabled" bit of userAccountControl.
AD_DISABLED = 0x2


@dataclass(frozen=True, slots=True)
class LdapConfig:
    url: str
    bind_dn: str
    password: str = field(repr=False)
    base_dn: str
    person_filter: str = OPENLDAP_FILTER
    start_tls: bool = False
    mail_attribute: str = "mail"
    name_attribute: str = "displayName"
    fallback_name_attribute: str = "cn"
    given_name_attribute: str = "givenName"
    surname_attribute: str = "sn"
    rpps_attribute: str | None = None
    member_of_attribute: str = "memberOf"
    group_base_dn: str | None = None
    group_filter: str = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"
    timeout_seconds: int = 10
    page_size: int = 500
    ca_file: str | None = None


def _norm(dn: str) -> str:
    return ",".join(part.strip() for part in dn.lower().split(","))


def _first(entry: dict[str, list[object]], name: str | None) -> str | None:
    if not name:
        return None
    for key, values in entry.items():
        if key.lower() == name.lower() and values:
            value = values[0]
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def _all(entry: dict[str, list[object]], name: str) -> list[str]:
    for key, values in entry.items():
        if key.lower() == name.lower():
            return [v.decode() if isinstance(v, bytes) else str(v) for v in values]
    return []


class LdapDirectory:
    def __init__(self, config: LdapConfig) -> None:
        self._c = config

    async def people(self) -> list[DirectoryRecord]:
        return await anyio.to_thread.run_sync(self._people)

    def _connection(self) -> ldap3.Connection:
        c = self._c
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=c.ca_file) if c.ca_file else None
        server = ldap3.Server(c.url, connect_timeout=c.timeout_seconds, tls=tls, get_info=ldap3.NONE)
        conn = ldap3.Connection(server, user=c.bind_dn, password=c.password, receive_timeout=c.timeout_seconds,
                                auto_referrals=False, raise_exceptions=True, read_only=True)
        conn.open()
        if c.start_tls and not c.url.lower().startswith("ldaps://"):
            conn.start_tls()
        conn.bind()
        return conn

    def _search(self, conn: ldap3.Connection, base: str, flt: str,
                attributes: list[str]) -> list[tuple[str, dict[str, list[object]]]]:
        out: list[tuple[str, dict[str, list[object]]]] = []
        entries = conn.extend.standard.paged_search(base, flt, search_scope=ldap3.SUBTREE, attributes=attributes,
                                                    paged_size=self._c.page_size, time_limit=self._c.timeout_seconds,
                                                    generator=True)
        for e in entries:
            if e.get("type") == "searchResEntry":
                out.append((str(e["dn"]), dict(e.get("raw_attributes", {}))))
        return out

    def _people(self) -> list[DirectoryRecord]:
        c = self._c
        wanted = [a for a in (c.mail_attribute, c.name_attribute, c.fallback_name_attribute, c.given_name_attribute,
                              c.surname_attribute, c.rpps_attribute, c.member_of_attribute, "userAccountControl")
                  if a]
        try:
            conn = self._connection()
            try:
                found = self._search(conn, c.base_dn, c.person_filter, wanted)
                groups = self._groups_by_member(conn) if c.group_base_dn else {}
            finally:
                conn.unbind()
        except ldap_errors.LDAPInvalidCredentialsResult as exc:
            raise DirectoryUnavailable("bind_refused") from exc
        except ldap_errors.LDAPSocketOpenError as exc:
            raise DirectoryUnavailable("unreachable") from exc
        except (ldap_errors.LDAPSocketReceiveError, ldap_errors.LDAPResponseTimeoutError,
                ldap_errors.LDAPTimeLimitExceededResult) as exc:
            raise DirectoryUnavailable("timeout") from exc
        except ldap_errors.LDAPStartTLSError as exc:
            raise DirectoryUnavailable("tls") from exc
        except ldap_errors.LDAPException as exc:
            raise DirectoryUnavailable("search_failed") from exc
        records: list[DirectoryRecord] = []
        for dn, attrs in found:
            name = _first(attrs, c.name_attribute) or " ".join(
                p for p in (_first(attrs, c.given_name_attribute), _first(attrs, c.surname_attribute)) if p
            ) or _first(attrs, c.fallback_name_attribute)
            member_of = set(_all(attrs, c.member_of_attribute)) | groups.get(_norm(dn), set())
            uac = _first(attrs, "userAccountControl")
            disabled = bool(uac and uac.isdigit() and int(uac) & AD_DISABLED)
            records.append(DirectoryRecord(dn=dn, email=_first(attrs, c.mail_attribute), name=name,
                                           groups=frozenset(member_of), disabled=disabled,
                                           rpps=_first(attrs, c.rpps_attribute)))
        return records

    def _groups_by_member(self, conn: ldap3.Connection) -> dict[str, set[str]]:
        """Member DN (lower case) → group DNs, for directories without memberOf (plain OpenLDAP)."""
        assert self._c.group_base_dn is not None
        out: dict[str, set[str]] = {}
        for gdn, attrs in self._search(conn, self._c.group_base_dn, self._c.group_filter, ["member", "uniqueMember"]):
            for m in _all(attrs, "member") + _all(attrs, "uniqueMember"):
                out.setdefault(_norm(m), set()).add(gdn)
        return out

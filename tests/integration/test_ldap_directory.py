"""The LDAP adapter against a real OpenLDAP: people, their groups, paging, and a directory down."""

from __future__ import annotations

import pytest

from chevet.adapters.ldap_directory import LdapConfig, LdapDirectory
from chevet.ports.directory_sync import DirectoryUnavailable
from tests import ldap_support
from tests.ldap_support import ADMIN_DN, ADMIN_PASSWORD, GROUPS, PEOPLE, SUFFIX, Slapd, group_dn

slapd, directory = ldap_support.slapd, ldap_support.directory


def config(url: str, **extra: object) -> LdapConfig:
    base = dict(url=url, bind_dn=ADMIN_DN, password=ADMIN_PASSWORD, base_dn=PEOPLE, group_base_dn=GROUPS)
    base.update(extra)
    return LdapConfig(**base)  # type: ignore[arg-type]


async def test_reads_every_person_with_their_groups_in_small_pages(directory: Slapd) -> None:
    people = await LdapDirectory(config(directory.url, page_size=2)).people()
    by_mail = {p.email: p for p in people}
    assert len(people) == 5
    aline = by_mail["aline.martin@tilleuls.fr"]
    assert aline.name == "Aline Martin"
    assert {g.lower() for g in aline.groups} == {group_dn("infirmieres").lower(), group_dn("equipe-nuit").lower()}


async def test_wrong_password_is_refused_in_words(directory: Slapd) -> None:
    with pytest.raises(DirectoryUnavailable) as caught:
        await LdapDirectory(config(directory.url, password="faux")).people()
    assert caught.value.reason == "bind_refused"
    assert "faux" not in repr(caught.value)


async def test_directory_down_is_unreachable() -> None:
    with pytest.raises(DirectoryUnavailable) as caught:
        await LdapDirectory(config("ldap://127.0.0.1:9", timeout_seconds=2)).people()
    assert caught.value.reason == "unreachable"


async def test_wrong_base_dn_is_a_failed_search_not_an_empty_directory(directory: Slapd) -> None:
    with pytest.raises(DirectoryUnavailable):
        await LdapDirectory(config(directory.url, base_dn=f"ou=absent,{SUFFIX}")).people()

"""Synchronising people and teams from a real OpenLDAP, on SQLite and PostgreSQL: people who appear
are invited, roles follow the groups, a leaver is deactivated, the local administrator is never
touched, a misconfigured filter meets the safety stop, and a directory down changes nothing."""

from __future__ import annotations

import ldap3
import pytest

from chevet.adapters.ldap_directory import LdapConfig, LdapDirectory
from chevet.app.identity import directory_sync
from chevet.app.identity.directory_sync import SyncOptions
from chevet.bootstrap import Installation
from chevet.core.directory_sync import GroupMapping
from chevet.core.entities import PersonStatus
from chevet.core.errors import Forbidden
from chevet.core.roles import Role
from tests import ldap_support
from tests.ldap_support import ADMIN_DN, ADMIN_PASSWORD, GROUPS, PEOPLE, Slapd, group_dn, person_dn
from tests.support import Member, new_member, new_org

slapd, directory = ldap_support.slapd, ldap_support.directory

MAPPING = GroupMapping(
    group_roles={group_dn("infirmieres"): Role.NURSE, group_dn("aides-soignants"): Role.CARE_ASSISTANT,
                 group_dn("medecins"): Role.PHYSICIAN},
    group_teams={group_dn("equipe-jour"): "Équipe de jour", group_dn("equipe-nuit"): "Équipe de nuit"},
)


def ldap(url: str) -> LdapDirectory:
    return LdapDirectory(LdapConfig(url=url, bind_dn=ADMIN_DN, password=ADMIN_PASSWORD, base_dn=PEOPLE,
                                    group_base_dn=GROUPS, timeout_seconds=3))


async def _people(installation: Installation, admin: Member) -> dict[str, tuple[Role, PersonStatus]]:
    async with installation.services.db.transaction() as tx:
        found = await tx.people.search(admin.actor.org_id, "", 100)
    return {p.email: (p.role, p.status) for p in found}


async def _team_members(installation: Installation, admin: Member) -> dict[str, set[str]]:
    async with installation.services.db.transaction() as tx:
        out = {}
        for t in await tx.teams.all(admin.actor.org_id):
            people = await tx.people.many(admin.actor.org_id, await tx.teams.member_ids(t.id))
            out[t.name] = {p.email for p in people}
    return out


async def test_preview_then_apply_invites_people_into_their_teams(installation: Installation, directory: Slapd) -> None:
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin")
    options = SyncOptions(MAPPING)
    preview = await directory_sync.sync(svc, org, ldap(directory.url), options, actor=admin.actor)
    assert (preview.outcome, preview.created) == ("done", 5)
    assert set(await _people(installation, admin)) == {admin.email}  # a preview changes nothing

    done = await directory_sync.sync(svc, org, ldap(directory.url), options, actor=admin.actor, apply=True)
    assert (done.applied, done.created, done.deactivated) == (True, 5, 0)
    people = await _people(installation, admin)
    assert people["aline.martin@tilleuls.fr"] == (Role.NURSE, PersonStatus.INVITED)
    assert people["david.bernard@tilleuls.fr"][0] is Role.PHYSICIAN
    assert people[admin.email] == (Role.ADMIN, PersonStatus.ACTIVE)
    teams = await _team_members(installation, admin)
    assert teams["Équipe de nuit"] == {"aline.martin@tilleuls.fr", "emma.leroy@tilleuls.fr"}
    assert teams["Équipe de jour"] == {"bruno.petit@tilleuls.fr", "chloe.durand@tilleuls.fr"}
    async with svc.db.transaction() as tx:
        trail = await tx.audit_trail.search(org.id, actions=["person.invited"], limit=20)
        last = await tx.directory_sync.last(org.id)
    assert len(trail) == 5 and all(e.detail.get("via") == "directory" for e in trail)
    assert last is not None and (last.applied, last.created) == (True, 5)

    again = await directory_sync.sync(svc, org, ldap(directory.url), options, actor=admin.actor, apply=True)
    assert again.plan is not None and again.plan.empty  # nothing left to do


async def test_roles_follow_groups_and_a_leaver_is_deactivated(installation: Installation, directory: Slapd) -> None:
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin")
    options = SyncOptions(MAPPING, max_leave_percent=50)
    await directory_sync.sync(svc, org, ldap(directory.url), options, actor=admin.actor, apply=True)

    conn = directory.admin()
    conn.modify(group_dn("aides-soignants"), {"member": [(ldap3.MODIFY_DELETE, [person_dn("bruno")])]})
    conn.modify(group_dn("infirmieres"), {"member": [(ldap3.MODIFY_ADD, [person_dn("bruno")])]})
    conn.delete(person_dn("chloe"))
    conn.unbind()

    report = await directory_sync.sync(svc, org, ldap(directory.url), options, apply=True)  # the scheduled job
    assert (report.outcome, report.updated, report.deactivated) == ("done", 1, 1)
    people = await _people(installation, admin)
    assert people["bruno.petit@tilleuls.fr"][0] is Role.NURSE
    assert people["chloe.durand@tilleuls.fr"][1] is PersonStatus.DEACTIVATED
    assert people[admin.email] == (Role.ADMIN, PersonStatus.ACTIVE)
    async with svc.db.transaction() as tx:
        trail = await tx.audit_trail.search(org.id, actions=["person.deactivated", "person.role_changed"], limit=20)
    assert sorted(e.action for e in trail) == ["person.deactivated", "person.role_changed"]
    assert all(e.detail.get("via") == "directory" and e.actor_id is None for e in trail)


async def test_safety_stop_when_too_many_would_leave(installation: Installation, directory: Slapd) -> None:
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin")
    await directory_sync.sync(svc, org, ldap(directory.url), SyncOptions(MAPPING), actor=admin.actor, apply=True)
    wrong = LdapDirectory(LdapConfig(url=directory.url, bind_dn=ADMIN_DN, password=ADMIN_PASSWORD, base_dn=PEOPLE,
                                     person_filter="(uid=aline)", group_base_dn=GROUPS))
    stopped = await directory_sync.sync(svc, org, wrong, SyncOptions(MAPPING), actor=admin.actor, apply=True)
    assert (stopped.outcome, stopped.reason, stopped.deactivated) == ("stopped", "too_many_leavers", 4)
    assert all(s is not PersonStatus.DEACTIVATED for _, s in (await _people(installation, admin)).values())
    forced = await directory_sync.sync(svc, org, wrong, SyncOptions(MAPPING, force=True), actor=admin.actor,
                                       apply=True)
    assert (forced.outcome, forced.deactivated) == ("done", 4)


async def test_directory_down_fails_in_words_and_changes_nothing(installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin")
    report = await directory_sync.sync(svc, org, ldap("ldap://127.0.0.1:9"), SyncOptions(MAPPING),
                                       actor=admin.actor, apply=True)
    assert (report.outcome, report.reason, report.created) == ("failed", "unreachable", 0)
    assert set(await _people(installation, admin)) == {admin.email}
    async with svc.db.transaction() as tx:
        last = await tx.directory_sync.last(org.id)
    assert last is not None and last.outcome == "failed"


async def test_only_an_administrator_syncs(installation: Installation, directory: Slapd) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    with pytest.raises(Forbidden):
        await directory_sync.sync(svc, org, ldap(directory.url), SyncOptions(MAPPING), actor=nurse.actor)

"""The directory sync's plan, without any directory: who is invited, updated, deactivated."""

from __future__ import annotations

from chevet.core.directory_sync import DirectoryRecord, GroupMapping, KnownPerson, plan
from chevet.core.roles import Role

NURSES, DOCTORS, NIGHT = "cn=infirmieres,ou=groups,dc=x", "cn=medecins,ou=groups,dc=x", "cn=nuit,ou=groups,dc=x"
MAPPING = GroupMapping({NURSES: Role.NURSE, DOCTORS: Role.PHYSICIAN}, {NIGHT: "Nuit"})


def rec(uid: str, *groups: str, disabled: bool = False, mail: str | None = "") -> DirectoryRecord:
    return DirectoryRecord(f"uid={uid},ou=people,dc=x", f"{uid}@x.fr" if mail == "" else mail, uid.title(),
                           frozenset(groups), disabled)


def known(uid: str, role: Role = Role.NURSE, active: bool = True, teams: frozenset[str] = frozenset()) -> KnownPerson:
    return KnownPerson(f"{uid}@x.fr", uid.title(), role, active, teams)


def test_arrivals_take_the_highest_mapped_role_and_their_teams() -> None:
    p = plan([rec("aline", NURSES, DOCTORS.upper(), NIGHT), rec("bruno")], [], MAPPING)
    assert [(w.email, w.role, w.teams) for w in p.create] == [
        ("aline@x.fr", Role.PHYSICIAN, frozenset({"Nuit"})), ("bruno@x.fr", Role.CARE_ASSISTANT, frozenset())]


def test_people_not_managed_by_the_directory_are_never_touched() -> None:
    p = plan([rec("admin", NURSES)], [], MAPPING, unmanaged_emails=["ADMIN@x.fr"])
    assert p.empty and p.skipped == ("admin@x.fr",)


def test_a_disabled_account_and_a_removed_one_both_leave() -> None:
    staff = [known(n) for n in "abcdefghij"]
    records = [rec(n, NURSES, disabled=(n == "a")) for n in "abcdefghi"]
    p = plan(records, staff, MAPPING)
    assert p.deactivate == ("a@x.fr", "j@x.fr") and not p.stopped  # 2 of 10: at the 20 % limit


def test_safety_stop_above_the_share_unless_forced() -> None:
    staff = [known(n) for n in "abcdefghij"]
    records = [rec(n, NURSES) for n in "abcdefg"]
    assert plan(records, staff, MAPPING).stopped
    assert not plan(records, staff, MAPPING, force=True).stopped


def test_changes_of_role_name_and_team_and_a_return() -> None:
    p = plan([rec("aline", DOCTORS, NIGHT)], [known("aline", Role.NURSE, active=False)], MAPPING)
    (change,) = p.update
    assert (change.role, change.teams_added, change.reactivate, change.name) == (Role.PHYSICIAN, {"Nuit"}, True, None)


def test_an_entry_without_mail_is_skipped_not_invented() -> None:
    p = plan([rec("x", mail=None)], [], MAPPING)
    assert p.empty and p.skipped == ("uid=x,ou=people,dc=x",)


def test_teams_the_mapping_does_not_name_are_left_as_the_console_set_them() -> None:
    """A directory person added by hand to « Unité Alzheimer » stays there: the sync owns only the
    teams its group mapping names (names compared as people write them, case aside)."""
    p = plan([rec("aline", NURSES, NIGHT)], [known("aline", teams=frozenset({"Unité Alzheimer", "nuit"}))], MAPPING)
    assert p.update == ()
    p = plan([rec("aline", NURSES)], [known("aline", teams=frozenset({"Unité Alzheimer", "Nuit"}))], MAPPING)
    (change,) = p.update
    assert (change.teams_added, change.teams_removed) == (frozenset(), {"Nuit"})

"""Who may do what, through the real application actions over in-memory fakes: reaching a
conversation, managing its members, administrators' and DPOs' actions, handling reports.

Each table lists every role: a permission that widens or narrows shows up as one row failing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from chevet.app.governance import retention
from chevet.app.identity import people
from chevet.app.messaging import conversations
from chevet.app.signalement import designations, filing, handling, reports
from chevet.app.signalement import retention as report_retention
from chevet.core.conversation import ConversationKind
from chevet.core.errors import Forbidden, InvalidInput, NotFound, ReauthenticationRequired
from chevet.core.roles import Role
from chevet.core.signalement.report import ReportFunction
from tests.fakes.world import Member, World

ALL_ROLES = list(Role)
MANAGE_PEOPLE = {Role.ADMIN}
MANAGE_RETENTION = {Role.ADMIN, Role.DPO, Role.DIRECTOR}  # the director answers for how long data is kept
MANAGE_ANY_CONVERSATION = {Role.ADMIN, Role.MANAGER}


def actions_in(world: World, org_id: uuid.UUID) -> list[str]:
    return [e.action for e in world.tables.audit.get(org_id, [])]


# --- conversations -------------------------------------------------------------------------
@pytest.mark.parametrize("role", ALL_ROLES)
async def test_only_members_reach_a_conversation_whatever_their_role(role: Role) -> None:
    w = World()
    org, elsewhere = w.organisation(), w.organisation("other")
    owner = w.member(org, Role.NURSE)
    member, outsider, foreigner = w.member(org, role), w.member(org, role), w.member(elsewhere, role)
    cid = w.conversation(org, ConversationKind.GROUP, [owner, member])

    view = await conversations.get_conversation(w.services, member.actor, cid)
    assert view["id"] == str(cid) and set(view["member_ids"]) == {str(owner.id), str(member.id)}
    for stranger in (outsider, foreigner):
        with pytest.raises(NotFound, match="conversation_not_found"):
            await conversations.get_conversation(w.services, stranger.actor, cid)


async def test_a_member_of_another_organisation_does_not_reach_it_even_by_membership() -> None:
    """Scoping is by organisation first: a membership row pointing across is not access."""
    w = World()
    org, elsewhere = w.organisation(), w.organisation("other")
    owner, foreigner = w.member(org, Role.NURSE), w.member(elsewhere, Role.ADMIN)
    cid = w.conversation(org, ConversationKind.GROUP, [owner, foreigner])
    with pytest.raises(NotFound):
        await conversations.get_conversation(w.services, foreigner.actor, cid)


@pytest.mark.parametrize("role", ALL_ROLES)
async def test_who_may_add_a_member(role: Role) -> None:
    """The owner may, whatever their role; another member only with manage_any_conversation;
    someone outside the conversation never learns it exists."""
    w = World()
    org = w.organisation()
    owner, member, outsider = w.member(org, role), w.member(org, role), w.member(org, role)
    cid = w.conversation(org, ConversationKind.GROUP, [owner, member], owner=owner)
    newcomers = [w.member(org, Role.NURSE) for _ in range(2)]

    await conversations.add_member(w.services, owner.actor, cid, newcomers[0].id)
    if role in MANAGE_ANY_CONVERSATION:
        await conversations.add_member(w.services, member.actor, cid, newcomers[1].id)
    else:
        with pytest.raises(Forbidden):
            await conversations.add_member(w.services, member.actor, cid, newcomers[1].id)
    with pytest.raises(NotFound):
        await conversations.add_member(w.services, outsider.actor, cid, newcomers[1].id)

    added = 2 if role in MANAGE_ANY_CONVERSATION else 1
    assert set(w.tables.members[cid]) == {owner.id, member.id, *(n.id for n in newcomers[:added])}
    assert actions_in(w, org.id) == ["conversation.member_added"] * added


@pytest.mark.parametrize("role", ALL_ROLES)
async def test_anyone_may_leave_but_removing_another_member_takes_manage_rights(role: Role) -> None:
    w = World()
    org = w.organisation()
    owner, member, other = w.member(org, Role.NURSE), w.member(org, role), w.member(org, Role.NURSE)
    cid = w.conversation(org, ConversationKind.GROUP, [owner, member, other], owner=owner)
    if role in MANAGE_ANY_CONVERSATION:
        await conversations.remove_member(w.services, member.actor, cid, other.id)
    else:
        with pytest.raises(Forbidden):
            await conversations.remove_member(w.services, member.actor, cid, other.id)
    await conversations.remove_member(w.services, member.actor, cid, member.id)
    assert set(w.tables.members[cid]) == {owner.id} | (set() if role in MANAGE_ANY_CONVERSATION else {other.id})


# --- administrators ------------------------------------------------------------------------
@pytest.mark.parametrize("role", ALL_ROLES)
async def test_only_administrators_change_roles(role: Role) -> None:
    w = World()
    org = w.organisation()
    actor, target = w.member(org, role), w.member(org, Role.NURSE)
    if role in MANAGE_PEOPLE:
        changed = await people.set_role(w.services, actor.actor, target.id, "manager")
        assert changed.role is Role.MANAGER and w.tables.people[target.id].role is Role.MANAGER
        assert actions_in(w, org.id) == ["person.role_changed"]
    else:
        with pytest.raises(Forbidden):
            await people.set_role(w.services, actor.actor, target.id, "admin")
        assert w.tables.people[target.id].role is Role.NURSE and actions_in(w, org.id) == []


async def test_an_administrator_changes_roles_in_their_organisation_only_and_not_their_own() -> None:
    w = World()
    org, elsewhere = w.organisation(), w.organisation("other")
    admin, foreigner = w.member(org, Role.ADMIN), w.member(elsewhere, Role.NURSE)
    with pytest.raises(NotFound):
        await people.set_role(w.services, admin.actor, foreigner.id, "admin")
    with pytest.raises(InvalidInput, match="cannot_change_own_role"):
        await people.set_role(w.services, admin.actor, admin.id, "nurse")
    assert w.tables.people[foreigner.id].role is Role.NURSE


async def test_a_role_change_needs_a_recent_sign_in() -> None:
    w = World()
    org = w.organisation()
    admin, target = w.member(org, Role.ADMIN), w.member(org, Role.NURSE)
    assert admin.actor.session_id is not None
    w.tables.authenticated_at[admin.actor.session_id] = w.clock.now() - timedelta(hours=1)
    with pytest.raises(ReauthenticationRequired):
        await people.set_role(w.services, admin.actor, target.id, "manager")
    assert w.tables.people[target.id].role is Role.NURSE and w.db.rollbacks == 1


@pytest.mark.parametrize("role", ALL_ROLES)
async def test_only_administrators_designate_who_handles_reports(role: Role) -> None:
    w = World()
    org = w.organisation()
    actor, target = w.member(org, role), w.member(org, Role.NURSE)
    if role in MANAGE_PEOPLE:
        await designations.designate(w.services, actor.actor, target.id, "quality_lead", True)
        assert w.tables.designations == [(org.id, target.id, ReportFunction.QUALITY_LEAD)]
    else:
        with pytest.raises(Forbidden):
            await designations.designate(w.services, actor.actor, target.id, "quality_lead", True)
        assert w.tables.designations == []


# --- the DPO -------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ALL_ROLES)
async def test_only_the_dpo_the_director_and_administrators_set_retention(role: Role) -> None:
    w = World()
    org = w.organisation()
    actor = w.member(org, role)
    cid = w.conversation(org, ConversationKind.GROUP, [actor])  # even its owner may not hold it
    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: retention.set_policy(w.services, actor.actor, org.id, "team", days=60, min_days=30, max_days=90),
        lambda: retention.set_legal_hold(w.services, actor.actor, org.id, cid, True),
        lambda: report_retention.set_retention(w.services, actor.actor, org.id, "signalement.eigs", 4000),
    ]
    for attempt in attempts:
        if role in MANAGE_RETENTION:
            await attempt()
        else:
            with pytest.raises(Forbidden):
                await attempt()
    if role in MANAGE_RETENTION:
        assert actions_in(w, org.id) == ["retention.policy_changed", "retention.legal_hold_set",
                                         "retention.report_policy_changed"]
        assert w.tables.retention_policies[org.id][ConversationKind.TEAM].days == 60
        assert w.tables.retention[cid].legal_hold
    else:
        assert actions_in(w, org.id) == [] and w.tables.retention_policies == {} and w.tables.retention == {}


async def test_the_dpo_acts_on_their_own_organisation_only() -> None:
    w = World()
    org, elsewhere = w.organisation(), w.organisation("other")
    dpo, there = w.member(org, Role.DPO), w.member(elsewhere, Role.NURSE)
    cid = w.conversation(elsewhere, ConversationKind.GROUP, [there])
    with pytest.raises(NotFound):  # the organisation given is ignored: the actor's own is used
        await retention.set_legal_hold(w.services, dpo.actor, elsewhere.id, cid, True)
    assert w.tables.retention == {}


# --- reports -------------------------------------------------------------------------------
class Cast:
    """Everyone around one report: who filed it, who handles it, who was given it."""

    def __init__(self, w: World) -> None:
        self.org = w.organisation()
        self.reporter = w.member(self.org, Role.CARE_ASSISTANT, name="Rapporteuse")
        self.quality_lead = w.member(self.org, Role.NURSE)
        w.tables.designations.append((self.org.id, self.quality_lead.id, ReportFunction.QUALITY_LEAD))
        self.admin = w.member(self.org, Role.ADMIN)  # director by role
        self.reader = w.member(self.org, Role.PHYSICIAN)
        self.colleague = w.member(self.org, Role.NURSE)
        self.manager = w.member(self.org, Role.MANAGER)
        self.dpo = w.member(self.org, Role.DPO)
        self.foreign_admin = w.member(w.organisation("other"), Role.ADMIN)

    def everyone(self) -> dict[str, Member]:
        return {k: v for k, v in vars(self).items() if isinstance(v, Member)}


async def _file(w: World, c: Cast, mode: str) -> uuid.UUID:
    filed = await filing.file_report(w.services, c.reporter.actor, mode=mode, what="Chute au réveil",
                                      occurred_at=w.clock.now() - timedelta(hours=2), discovered_at=None,
                                      place="Chambre 12")
    await handling.add_reader(w.services, c.quality_lead.actor, filed.report_id, c.reader.id)
    return filed.report_id


@pytest.mark.parametrize(("mode", "who_sees"), [
    ("named", {"reporter", "quality_lead", "admin", "reader"}),
    ("confidential", {"quality_lead", "admin", "reader"}),  # the reporter is not on the record
])
async def test_who_reads_a_report(mode: str, who_sees: set[str]) -> None:
    w = World()
    c = Cast(w)
    rid = await _file(w, c, mode)
    seen = set()
    for name, m in c.everyone().items():
        try:
            await reports.get_report(w.services, m.actor, rid)
        except NotFound:
            continue
        seen.add(name)
    assert seen == who_sees


async def test_a_confidential_reporter_is_named_to_the_quality_lead_only() -> None:
    w = World()
    c = Cast(w)
    rid = await _file(w, c, "confidential")
    shown = {name: (await reports.get_report(w.services, c.everyone()[name].actor, rid))["reporter"]
             for name in ("quality_lead", "admin", "reader")}
    assert shown == {"quality_lead": {"id": str(c.reporter.id), "name": "Rapporteuse"}, "admin": None,
                     "reader": None}


async def test_who_qualifies_a_report() -> None:
    """Handling is for the quality lead and the director; reading is not handling."""
    w = World()
    c = Cast(w)
    rid = await _file(w, c, "named")
    outcome: dict[str, str] = {}
    for name, m in c.everyone().items():
        try:
            await handling.qualify(w.services, m.actor, rid, severity="minor")
            outcome[name] = "qualified"
        except Forbidden as exc:
            outcome[name] = exc.code
        except NotFound:
            outcome[name] = "not found"
    assert outcome == {"reporter": "report_manager_only", "quality_lead": "qualified", "admin": "qualified",
                       "reader": "report_manager_only", "colleague": "not found", "manager": "not found",
                       "dpo": "not found", "foreign_admin": "not found"}


async def test_an_action_is_completed_by_its_owner_or_a_handler() -> None:
    w = World()
    c = Cast(w)
    rid = await _file(w, c, "named")
    due = datetime(2026, 7, 1, tzinfo=UTC)
    action = await handling.add_action(w.services, c.quality_lead.actor, rid, title="Barrières de lit",
                                      owner_id=c.colleague.id, due_at=due)
    with pytest.raises(Forbidden):
        await handling.complete_action(w.services, c.reader.actor, rid, action)
    await handling.complete_action(w.services, c.colleague.actor, rid, action)  # made a reader by owning it
    await handling.complete_action(w.services, c.admin.actor, rid, action, done=False)
    assert [a.done_at for a in w.tables.report_actions[rid]] == [None]
    assert actions_in(w, c.org.id)[-2:] == ["report.action_done", "report.action_reopened"]
